from . import loyalty_club
from . import payment_transaction
from . import product_template
from . import sale_order
from . import sale_order_gift_card
from . import account_move
