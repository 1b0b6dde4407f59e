"""Moments as ``DELETE /api/messages?before=`` and ``smsgw prune --before`` read them."""

from __future__ import annotations

import pytest

from smsgw.moments import NotAMoment, RowIdLike, parse_moment

DEC_1 = 1_796_083_200.0  # 2026-12-01T00:00:00Z


def _never() -> float:
    raise AssertionError("only now reads the clock")


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T00:00:00Z",
        "2026-12-01T00:00:00.000Z",  # as the API shows done_at
        "2026-12-01T02:00:00+02:00",
        "2026-12-01T02:00:00 02:00",  # its + unencoded in a query string, read as a space
        "2026-12-01 00:00:00",  # a space between date and time stays one
        "2026-12-01T00:00:00",  # no offset: UTC, as the API writes its times
        "2026-12-01",
        "1796083200",
        " 1796083200.000 ",
    ],
)
def test_iso_8601_and_epoch_seconds_name_the_same_moment(text: str) -> None:
    assert parse_moment(text, _never) == DEC_1


def test_now_is_the_clock_given() -> None:
    assert parse_moment("now", lambda: 1_800_000_000.5) == 1_800_000_000.5
    assert parse_moment("NOW", lambda: 1_800_000_000.5) == 1_800_000_000.5


@pytest.mark.parametrize("text", ["0", "12345", "999999999.9", "20261201"])
def test_a_number_below_1e9_is_taken_for_a_row_id(text: str) -> None:
    """GET's ?before= is a row-id cursor: the same number given to DELETE is refused, not
    taken for 1970."""
    with pytest.raises(RowIdLike, match="looks like a row id"):
        parse_moment(text, _never)


@pytest.mark.parametrize(
    "text",
    ["", "soon", "-1796083200", "1e10", "inf", "nan", "2026-13-01", "2026-12-01T25:00Z", "9" * 13, "2" * 60],
)
def test_anything_else_is_refused_saying_what_is_taken(text: str) -> None:
    with pytest.raises(NotAMoment, match="ISO 8601") as refused:
        parse_moment(text, _never)
    assert not isinstance(refused.value, RowIdLike)
