"""Signs of whole numbers (points) as a customer reads them.

The signs come from CLDR (through Babel): in Persian the minus sign is a left-to-right mark
followed by U+2212 MINUS SIGN, and the plus sign a left-to-right mark followed by ``+``, so that a
negative number written in a right-to-left line keeps its sign on the left of the digits instead
of moving to their right (``200-``), even in plain text (SMS, e-mail subjects, PDFs).
Left-to-right languages keep their own signs (``-`` in English).
"""

from babel.numbers import get_minus_sign_symbol, get_plus_sign_symbol

from odoo.tools.misc import babel_locale_parse


def sign_symbols(lang):
    """(minus, plus) signs of the language ``lang`` (``fa_IR``, ``en_US``) according to CLDR."""
    locale = babel_locale_parse(lang or "en_US")
    return get_minus_sign_symbol(locale), get_plus_sign_symbol(locale)


def signed(text, value, lang, plus=False):
    """``text`` (the formatted absolute value of ``value``) with the language's sign: minus when
    ``value`` is negative, plus when it is positive and ``plus`` is set."""
    minus_sign, plus_sign = sign_symbols(lang)
    if value < 0:
        return minus_sign + text
    if plus and value > 0:
        return plus_sign + text
    return text
