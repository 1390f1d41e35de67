"""Card numbers: digits only, ending with a Luhn check digit."""

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits, as typed on Persian keyboards.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

CARD_NUMBER_MIN_LENGTH = 8
CARD_NUMBER_MAX_LENGTH = 19


def normalize_digits(text):
    """Replace Persian and Arabic-Indic digits by ASCII digits (other characters are kept)."""
    return text.translate(_DIGITS) if isinstance(text, str) else text


def luhn_check_digit(body):
    """Return the Luhn check digit (as a str) for the digit string ``body``."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_card_number(number):
    """True when ``number`` is a digit string of a valid length with a correct check digit."""
    return (
        isinstance(number, str)
        and number.isascii()
        and number.isdigit()
        and CARD_NUMBER_MIN_LENGTH <= len(number) <= CARD_NUMBER_MAX_LENGTH
        and luhn_check_digit(number[:-1]) == number[-1]
    )
