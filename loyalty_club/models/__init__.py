from . import loyalty_club
from . import loyalty_club_tier
from . import loyalty_club_card
from . import loyalty_club_entry
from . import loyalty_club_tier_history
from . import loyalty_club_posting
from . import res_company
from . import res_partner
