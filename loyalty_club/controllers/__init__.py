from . import gift_card_balance
