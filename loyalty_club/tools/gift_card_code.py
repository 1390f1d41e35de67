"""Gift card codes: 15 random symbols of Crockford's base 32 (75 bits from ``secrets``) and a
check symbol, shown in groups of four (``K7QM-3XPA-9TRW-B2H5``).

The alphabet has no I, L, O or U; when reading a code typed by a person, case, spaces and
hyphens do not matter, ``O`` reads as ``0`` and ``I``/``L`` as ``1`` (they cannot be anything
else). The check symbol (Luhn mod 32) catches every single wrong symbol and almost every swap
of two neighbours, so a typo is refused before any database lookup.
"""

import secrets

from .card_number import normalize_digits

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 15
CODE_LENGTH = RANDOM_LENGTH + 1
GROUP = 4
_INDEX = {char: index for index, char in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\u00a0": None, "\t": None})


def check_symbol(body):
    """Luhn mod 32 check symbol of ``body`` (symbols of :data:`ALPHABET`)."""
    base = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(body):
        addend = factor * _INDEX[char]
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]


def generate_code():
    """A new random code with its check symbol (not grouped)."""
    body = "".join(secrets.choice(ALPHABET) for _i in range(RANDOM_LENGTH))
    return body + check_symbol(body)


def read_code(text):
    """``text`` read as a code is read: Persian digits made ASCII, case, spaces (also tabs and
    non-breaking spaces) and hyphens ignored, ``O`` as ``0`` and ``I``/``L`` as ``1``."""
    if not isinstance(text, str):
        return ""
    return normalize_digits(text[:64]).strip().upper().translate(_READ_AS)


def normalize_code(text):
    """The canonical form of a typed or scanned code, or None when it is not a valid code."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    code = read_code(text)
    if len(code) != CODE_LENGTH or any(char not in _INDEX for char in code):
        return None
    if check_symbol(code[:-1]) != code[-1]:
        return None
    return code


def format_code(code):
    """``code`` in groups of four for printing."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP)) if code else ""


def mask_code(code):
    """Code safe to print on a receipt of another order: the last group only."""
    return f"•••• {code[-GROUP:]}" if code else ""
