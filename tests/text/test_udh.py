"""Tests for smsgw.text.udh: UDH layouts from 3GPP TS 23.040 section 9.2.3.24."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import Concat, Udh, build_concat_udh, split_udh


def test_split_8bit_concat() -> None:
    """05 00 03 RR TT SS parses as an 8-bit-reference concatenation and the rest is the payload."""
    udh, rest = split_udh(bytes.fromhex("0500032A0302") + b"hi")
    assert udh.concat == Concat(reference=0x2A, total=3, seqnum=2, ref_bits=8)
    assert udh.ports is None
    assert udh.elements == ((0x00, b"\x2a\x03\x02"),)
    assert rest == b"hi"


def test_split_16bit_concat() -> None:
    """06 08 04 RR RR TT SS parses as a 16-bit-reference concatenation."""
    udh, rest = split_udh(bytes.fromhex("060804123403010041"))
    assert udh.concat == Concat(reference=0x1234, total=3, seqnum=1, ref_bits=16)
    assert rest == b"\x00\x41"


def test_split_16bit_ports() -> None:
    """06 05 04 DD DD SS SS parses as (destination, source) ports, here WAP push 2948 from 9200."""
    udh, rest = split_udh(bytes.fromhex("0605040B8423F0") + b"\x01")
    assert udh.ports == (2948, 9200)
    assert udh.concat is None
    assert rest == b"\x01"


def test_split_8bit_ports() -> None:
    """An 8-bit port IE (IEI 0x04, length 2) parses as (destination, source)."""
    udh, _ = split_udh(bytes.fromhex("0404021020"))
    assert udh.ports == (0x10, 0x20)


def test_split_keeps_every_element_in_order() -> None:
    """Concatenation, ports and an unknown IE are all kept raw in wire order."""
    header = bytes.fromhex("0E05040B8423F00003070201240101")
    udh, rest = split_udh(header + b"text")
    assert udh.elements == (
        (0x05, bytes.fromhex("0B8423F0")),
        (0x00, bytes.fromhex("070201")),
        (0x24, b"\x01"),
    )
    assert udh.concat == Concat(reference=7, total=2, seqnum=1, ref_bits=8)
    assert udh.ports == (2948, 9200)
    assert rest == b"text"


def test_split_empty_header() -> None:
    """A UDH length of 0 gives an empty header and leaves the rest intact."""
    assert split_udh(b"\x00abc") == (Udh(), b"abc")


def test_split_repeated_concat_last_wins() -> None:
    """When the concatenation IE is repeated the last occurrence is used (23.040)."""
    udh, _ = split_udh(bytes.fromhex("0A00030102010003090302"))
    assert udh.concat == Concat(reference=9, total=3, seqnum=2, ref_bits=8)


@pytest.mark.parametrize("concat_ie", ["0003010000", "0003010200", "0003010203"])
def test_split_ignores_concat_with_impossible_numbers(concat_ie: str) -> None:
    """A concatenation IE with total 0, seq 0 or seq above total is kept raw but ignored (23.040)."""
    udh, _ = split_udh(bytes.fromhex("05" + concat_ie))
    assert udh.concat is None
    assert len(udh.elements) == 1


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("", id="empty"),
        pytest.param("05000301", id="length octet exceeds message"),
        pytest.param("0300030102", id="element overruns header"),
        pytest.param("0100", id="element header cut off"),
        pytest.param("0400020102", id="concat ie too short"),
        pytest.param("050403102030", id="8-bit port ie too long"),
        pytest.param("050803010201", id="16-bit concat ie too short"),
    ],
)
def test_split_rejects_malformed_header(message: str) -> None:
    """split_udh raises InvalidUdh (a ValueError) when the header or an element overruns or misfits."""
    with pytest.raises(InvalidUdh):
        split_udh(bytes.fromhex(message))
    assert issubclass(InvalidUdh, ValueError)


@given(st.binary(max_size=40))
def test_split_only_raises_invalid_udh(data: bytes) -> None:
    """Arbitrary octets either parse or raise InvalidUdh, never anything else."""
    try:
        udh, rest = split_udh(data)
    except InvalidUdh:
        return
    assert len(rest) == len(data) - 1 - data[0]
    assert isinstance(udh, Udh)


def test_build_concat_golden() -> None:
    """build_concat_udh writes 05 00 03 RR TT SS, or 06 08 04 RR RR TT SS with a 16-bit ref."""
    assert build_concat_udh(0x2A, 3, 1) == bytes.fromhex("0500032A0301")
    assert build_concat_udh(0x1234, 2, 2, ref_bits=16) == bytes.fromhex("06080412340202")


@given(
    st.sampled_from([8, 16]).flatmap(lambda bits: st.tuples(st.just(bits), st.integers(0, (1 << bits) - 1))),
    st.integers(1, 255).flatmap(lambda total: st.tuples(st.just(total), st.integers(1, total))),
)
def test_build_then_split_round_trips(bits_ref: tuple[int, int], total_seq: tuple[int, int]) -> None:
    """A header built by build_concat_udh parses back to the same numbers."""
    ref_bits, ref = bits_ref
    total, seq = total_seq
    udh, rest = split_udh(build_concat_udh(ref, total, seq, ref_bits) + b"x")
    assert udh.concat == Concat(reference=ref, total=total, seqnum=seq, ref_bits=ref_bits)
    assert rest == b"x"


@pytest.mark.parametrize(
    ("ref", "total", "seq", "ref_bits"),
    [
        (256, 2, 1, 8),
        (-1, 2, 1, 8),
        (0x10000, 2, 1, 16),
        (1, 0, 1, 8),
        (1, 256, 1, 8),
        (1, 2, 0, 8),
        (1, 2, 3, 8),
        (1, 2, 1, 12),
    ],
)
def test_build_concat_rejects_out_of_range(ref: int, total: int, seq: int, ref_bits: int) -> None:
    """build_concat_udh raises ValueError for a value that does not fit its field."""
    with pytest.raises(ValueError):
        build_concat_udh(ref, total, seq, ref_bits)
