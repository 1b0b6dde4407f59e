"""Numbers as clients write them: ASCII digits only, and no larger than SQLite holds.

``str.isdigit`` and ``int()`` take any script's digits (``"\u0661"`` is 1, ``"\u00b2"`` is a
digit to ``isdigit`` but not to ``int``), and ``int()`` also takes signs, ``_`` and spaces
and refuses strings over 4,300 digits with an error of its own. Every id, cursor, address and
code a client sends is read through here, so none of that reaches the carrier.
"""

from __future__ import annotations

import re

#: The largest integer SQLite stores: no id or cursor from a client overflows a query.
MAX_INTEGER = 2**63 - 1
_DIGITS = {10: re.compile(r"[0-9]{1,20}"), 16: re.compile(r"[0-9A-Fa-f]{1,16}")}


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits 0-9."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str, maximum: int = MAX_INTEGER, *, base: int = 10) -> int | None:
    """``text`` as a non-negative integer of ASCII digits (hex ones with ``base=16``) up to
    ``maximum``, else None."""
    if _DIGITS[base].fullmatch(text) is None:
        return None
    value = int(text, base)
    return value if value <= maximum else None
