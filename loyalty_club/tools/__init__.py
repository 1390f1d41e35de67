from .card_number import is_valid_card_number, luhn_check_digit, normalize_digits
from .gift_card_code import format_code, generate_code, mask_code, normalize_code
