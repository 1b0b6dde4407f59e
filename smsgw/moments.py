"""Moments as a person writes them in a query or on a command line: ISO 8601, epoch seconds,
or ``now``. ``DELETE /api/messages?before=`` and ``smsgw prune --before`` read them alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

#: Epoch seconds as digits, with a fraction at most to the nanosecond.
_EPOCH = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
#: Epoch seconds below this (2001-09-09) are no time a message of smsgw ended at: a number
#: that small is a row id (GET /api/messages' ``before`` cursor), typed where a time belongs.
SMALLEST_EPOCH = 1e9
#: A time whose ``+`` offset arrived as a space: a query string decodes an unencoded ``+`` so.
_PLUS_AS_SPACE = re.compile(r"([0-9]{4}-?[0-9]{2}-?[0-9]{2}T[0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)")
#: How a moment may be written, for error messages.
FORMS = "ISO 8601 (2026-12-01T00:00:00Z), epoch seconds (1796083200) or now"


class NotAMoment(ValueError):
    """Text that is no moment; the message says what is accepted."""


class RowIdLike(NotAMoment):
    """A number below :data:`SMALLEST_EPOCH`: a row id more likely than a time."""


def parse_moment(text: str, now: Callable[[], float]) -> float:
    """``text`` as epoch seconds.

    :param text: ISO 8601 (UTC when it names no offset, as the API writes its times), epoch
        seconds (at least :data:`SMALLEST_EPOCH`), or ``now``.
    :param now: what ``now`` is (the carrier's clock, as ``GET /api/clock`` shows it).
    :raises RowIdLike: for epoch seconds below :data:`SMALLEST_EPOCH`.
    :raises NotAMoment: for anything else that is none of those.
    """
    text = text.strip()
    if text.lower() == "now":
        return now()
    if _EPOCH.fullmatch(text):
        seconds = float(text)
        if seconds < SMALLEST_EPOCH:
            # A date written without dashes is refused too: a row id that happens to read as a
            # date must not remove everything before that day.
            raise RowIdLike(f"{text} looks like a row id, not a time: give {FORMS}; a date with its dashes")
        return seconds
    text = _PLUS_AS_SPACE.sub(r"\1+\2", text)
    shown = text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"
    if len(text) > 40 or not text[:4].isdigit():
        raise NotAMoment(f"{shown!r} is not a time: give {FORMS}")
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        raise NotAMoment(f"{shown!r} is not a time: give {FORMS}") from None
