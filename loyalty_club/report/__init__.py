from . import loyalty_club_card_statement
