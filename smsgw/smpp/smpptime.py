"""SMPP time strings: ``YYMMDDhhmmsstnnp`` (absolute, or relative with ``p`` = ``R``).

``t`` is tenths of a second, ``nn`` the offset from UTC in quarter hours (00-48) and ``p``
``+``/``-`` for local time ahead of/behind UTC. A relative period counts years as 365 days and
months as 30, as SMSCs do (the spec leaves it to them).
"""

from __future__ import annotations

import calendar
import time

from smsgw.digits import is_digits

_RELATIVE_UNITS = (365 * 86400, 30 * 86400, 86400, 3600, 60, 1)


def parse_smpp_time(value: str, now: float) -> float | None:
    """Return the moment an SMPP time string names, as epoch seconds.

    :param value: an empty string (meaning "not set") or 16 characters.
    :param now: the moment a relative time counts from.
    :raises ValueError: naming what is wrong with the string.
    """
    if not value:
        return None
    if len(value) != 16:
        raise ValueError(f"{value!r} is not 16 characters (YYMMDDhhmmsstnnp)")
    digits, kind = value[:15], value[15]
    if not is_digits(digits):
        raise ValueError(f"{value!r} has a non-digit in its first 15 characters")
    fields = [int(digits[i : i + 2]) for i in range(0, 12, 2)]
    tenths, quarters = int(digits[12]), int(digits[13:15])
    if kind == "R":
        return now + sum(n * unit for n, unit in zip(fields, _RELATIVE_UNITS)) + tenths / 10
    if kind not in "+-":
        raise ValueError(f"{value!r} ends in {kind!r}; expected '+', '-' or 'R'")
    if quarters > 48:
        raise ValueError(f"{value!r} has a UTC offset of {quarters} quarter hours (max 48)")
    year, month, day, hour, minute, second = fields
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise ValueError(f"{value!r} is not a valid date and time")
    try:
        local = calendar.timegm((2000 + year, month, day, hour, minute, second, 0, 0, 0))
        time.gmtime(local)  # rejects 31 February and friends via the round trip below
    except (OverflowError, ValueError) as error:
        raise ValueError(f"{value!r} is not a valid date and time") from error
    if time.gmtime(local)[:3] != (2000 + year, month, day):
        raise ValueError(f"{value!r} is not a valid date")
    offset = quarters * 900
    return local - offset + tenths / 10 if kind == "+" else local + offset + tenths / 10


def format_smpp_time(moment: float) -> str:
    """Format a moment as an absolute SMPP time in UTC (``...000+``)."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(moment)) + f"{int(moment * 10) % 10}00+"


def format_receipt_date(moment: float) -> str:
    """Format a moment as a receipt's ``YYMMDDhhmm`` date, in UTC."""
    return time.strftime("%y%m%d%H%M", time.gmtime(moment))
