from . import portal
from . import gift_card_balance
from . import sms_gateway
from . import coalition_partner
