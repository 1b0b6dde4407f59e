"""SMPP absolute and relative times."""

from __future__ import annotations

import calendar

import pytest

from smsgw.smpp.smpptime import format_receipt_date, format_smpp_time, parse_smpp_time

NOW = calendar.timegm((2026, 11, 25, 12, 0, 0, 0, 0, 0))


def test_empty_means_not_set() -> None:
    """An empty time (the single NUL) is None."""
    assert parse_smpp_time("", NOW) is None


def test_relative_counts_from_now() -> None:
    """``000001020304000R`` is 1 day, 2 h, 3 min, 4 s from now; a year is 365 days, a month 30."""
    assert parse_smpp_time("000001020304000R", NOW) == NOW + 86400 + 2 * 3600 + 3 * 60 + 4
    assert parse_smpp_time("010100000000000R", NOW) == NOW + 395 * 86400


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("261125120000000+", (2026, 11, 25, 12, 0, 0)),
        ("261125200000032+", (2026, 11, 25, 12, 0, 0)),  # 8 hours (32 quarters) ahead of UTC
        ("261125070000020-", (2026, 11, 25, 12, 0, 0)),  # 5 hours behind UTC
    ],
)
def test_absolute_with_quarter_hour_offsets(value: str, utc: tuple[int, ...]) -> None:
    """Absolute times name local time with an offset in quarter hours, ahead (+) or behind (-)."""
    assert parse_smpp_time(value, NOW) == calendar.timegm((*utc, 0, 0, 0))


def test_tenths_of_a_second() -> None:
    """The 13th character is tenths of a second."""
    assert parse_smpp_time("261125120000500+", NOW) == NOW + 0.5


@pytest.mark.parametrize(
    "value",
    [
        "2611251200",
        "26112512000000+X",
        "261125120000049+",
        "261325120000000+",
        "260231120000000+",
        "2611251200000a0+",
        "2611251200000\u00b20+",
    ],
    ids=["short", "bad-kind", "offset-over-48", "month-13", "31-february", "non-digit", "superscript-two"],
)
def test_malformed_times_say_what_is_wrong(value: str) -> None:
    """Malformed strings raise ValueError naming the value."""
    with pytest.raises(ValueError, match=value[:6]):
        parse_smpp_time(value, NOW)


def test_only_ascii_digits_are_digits() -> None:
    """Latin-1 has digits str.isdigit takes but SMPP does not (superscript two, U+00B2)."""
    with pytest.raises(ValueError, match="non-digit"):
        parse_smpp_time("2611251200000\u00b20+", NOW)


def test_formats_round_trip() -> None:
    """Formatted absolute times parse back; receipt dates are YYMMDDhhmm in UTC."""
    assert parse_smpp_time(format_smpp_time(NOW), 0) == NOW
    assert format_receipt_date(NOW + 59) == "2611251200"
    assert format_receipt_date(NOW + 60) == "2611251201"
