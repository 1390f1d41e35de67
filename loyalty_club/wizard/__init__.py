from . import loyalty_club_adjust_wizard
from . import loyalty_club_card_replace_wizard
from . import loyalty_club_pin_wizard
from . import loyalty_club_redeem_wizard
from . import loyalty_club_gift_card_issue_wizard
from . import loyalty_club_gift_card_payment_wizard
from . import loyalty_club_liability_wizard
from . import loyalty_club_dashboard
