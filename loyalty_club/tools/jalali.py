"""Solar Hijri (Jalali) dates for customer-facing outputs.

Storage stays Gregorian/UTC; only what a Persian-speaking customer reads is converted.
Arithmetic conversion (33-year cycles), exact for the years a club will ever print.
"""

from datetime import date, datetime

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_MONTH_STARTS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def gregorian_to_jalali(gy, gm, gd):
    """(year, month, day) of the Solar Hijri calendar for a Gregorian date."""
    gy2 = gy + 1 if gm > 2 else gy
    days = 355666 + 365 * gy + (gy2 + 3) // 4 - (gy2 + 99) // 100 + (gy2 + 399) // 400 + gd + _MONTH_STARTS[gm - 1]
    jy = -1595 + 33 * (days // 12053)
    days %= 12053
    jy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        jy += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return jy, 1 + days // 31, 1 + days % 31
    return jy, 7 + (days - 186) // 30, 1 + (days - 186) % 30


def jalali_to_gregorian(jy, jm, jd):
    """(year, month, day) of the Gregorian calendar for a Solar Hijri date (inverse of
    :func:`gregorian_to_jalali`)."""
    jy += 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + jd
    days += (jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    gd = days + 1
    leap = gy % 4 == 0 and (gy % 100 != 0 or gy % 400 == 0)
    month_days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    gm = 1
    for length in month_days:
        if gd <= length:
            break
        gd -= length
        gm += 1
    return gy, gm, gd


def format_jalali(value, persian_digits=False):
    """``value`` (date or datetime) as ``YYYY/MM/DD`` in the Solar Hijri calendar."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return ""
    year, month, day = gregorian_to_jalali(value.year, value.month, value.day)
    text = f"{year:04d}/{month:02d}/{day:02d}"
    return text.translate(PERSIAN_DIGITS) if persian_digits else text


def is_persian(lang):
    """Whether a language code (``fa_IR``, ``fa``) is Persian."""
    return bool(lang) and lang.split("_")[0].split("-")[0] == "fa"
