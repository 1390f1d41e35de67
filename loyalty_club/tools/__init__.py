from .card_number import is_valid_card_number, luhn_check_digit, normalize_digits
