from . import portal
from . import gift_card_balance
