"""Tests for smsgw.text.gsm: golden vectors written by hand from 3GPP TS 23.038 §6.2.1."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.text.errors import NotEncodable
from smsgw.text.gsm import (
    BASIC_TABLE,
    EXTENSION_TABLE,
    decode_gsm,
    encode_gsm,
    gsm_septets,
    is_gsm,
    pack_7bit,
    unpack_7bit,
)

GSM_CHARS = sorted({char for char in BASIC_TABLE if char != "\x1b"} | set(EXTENSION_TABLE))
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400)


def test_tables_have_the_23038_sizes() -> None:
    """The basic table has 128 distinct entries and the extension table the 10 of 23.038 §6.2.1.1."""
    assert len(BASIC_TABLE) == 128
    assert len(set(BASIC_TABLE)) == 128
    assert sorted(EXTENSION_TABLE.values()) == [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65]


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("@£$", "00 01 02"),
        ("¥èéùìòÇ", "03 04 05 06 07 08 09"),
        ("\nØø\rÅå", "0A 0B 0C 0D 0E 0F"),
        ("Δ_ΦΓΛΩΠΨΣΘΞ", "10 11 12 13 14 15 16 17 18 19 1A"),
        ("ÆæßÉ", "1C 1D 1E 1F"),
        (" !\"#¤%&'", "20 21 22 23 24 25 26 27"),
        ("09:;<=>?", "30 39 3A 3B 3C 3D 3E 3F"),
        ("¡AZÄÖÑÜ§", "40 41 5A 5B 5C 5D 5E 5F"),
        ("¿azäöñüà", "60 61 7A 7B 7C 7D 7E 7F"),
        ("€", "1B 65"),
        ("{}", "1B 28 1B 29"),
        ("[~]", "1B 3C 1B 3D 1B 3E"),
        ("^\\|", "1B 14 1B 2F 1B 40"),
        ("\f", "1B 0A"),
        ("Hi €5", "48 69 20 1B 65 35"),
        ("", ""),
    ],
)
def test_encode_golden_vectors(text: str, septets: str) -> None:
    """Each character encodes to the septet(s) 23.038's tables give it, escapes as 1B xx."""
    assert encode_gsm(text) == bytes.fromhex(septets)
    assert decode_gsm(bytes.fromhex(septets)) == text


def test_currency_sign_is_0x24_and_dollar_is_0x02() -> None:
    """0x24 is the currency sign ¤, not $, which lives at 0x02."""
    assert encode_gsm("¤$") == b"\x24\x02"


@pytest.mark.parametrize(
    ("text", "char", "position"),
    [
        ("abc`", "`", 3),
        ("ça va", "ç", 0),
        ("Grüße 日本", "日", 6),
        ("esc\x1b", "\x1b", 3),
        ("tab\there", "\t", 3),
        ("ok 👍", "👍", 3),
    ],
)
def test_encode_names_first_unencodable_character(text: str, char: str, position: int) -> None:
    """encode_gsm raises NotEncodable naming the first offending character and its index."""
    with pytest.raises(NotEncodable) as caught:
        encode_gsm(text)
    assert (caught.value.char, caught.value.position) == (char, position)
    assert isinstance(caught.value, ValueError)
    assert f"position {position}" in str(caught.value)


def test_decode_unknown_escape_gives_base_character() -> None:
    """An escape code missing from the extension table decodes as the basic character (23.038)."""
    assert decode_gsm(b"\x1b\x41\x1b\x00") == "A@"


def test_decode_double_escape_gives_space() -> None:
    """ESC ESC (escape to another extension table) decodes as a space and the next septet as normal."""
    assert decode_gsm(b"a\x1b\x1b\x65") == "a e"


def test_decode_trailing_escape_gives_nothing() -> None:
    """A lone ESC at the end is half of a cut pair and decodes as nothing."""
    assert decode_gsm(b"ab\x1b") == "ab"


def test_decode_octet_above_0x7f_gives_replacement_character() -> None:
    """An octet with the top bit set is not a septet and decodes as U+FFFD."""
    assert decode_gsm(b"caf\xe9") == "caf\ufffd"
    assert decode_gsm(b"\x1b\xe9") == "\ufffd"


@given(st.binary(max_size=300))
def test_decode_never_raises(data: bytes) -> None:
    """decode_gsm accepts any octets and returns a str."""
    assert isinstance(decode_gsm(data), str)


@given(gsm_text)
def test_round_trip_over_gsm_alphabet(text: str) -> None:
    """Any text over the GSM alphabet and extension table survives encode then decode."""
    encoded = encode_gsm(text)
    assert decode_gsm(encoded) == text
    assert max(encoded, default=0) <= 0x7F
    assert gsm_septets(text) == len(encoded)
    assert is_gsm(text)


@pytest.mark.parametrize(
    ("text", "septets"),
    [("", 0), ("hello", 5), ("€uro", 5), ("{[]}", 8), ("日本", None), ("`", None), ("ç", None)],
)
def test_gsm_septets_counts_extension_characters_twice(text: str, septets: int | None) -> None:
    """gsm_septets counts an extension character as two septets and is None when not encodable."""
    assert gsm_septets(text) == septets
    assert is_gsm(text) is (septets is not None)


def test_pack_hellohello_golden_vector() -> None:
    """ "hellohello" packs to the classic E8 32 9B FD 46 97 D9 EC 37."""
    assert pack_7bit(encode_gsm("hellohello")) == bytes.fromhex("E8329BFD4697D9EC37")
    assert unpack_7bit(bytes.fromhex("E8329BFD4697D9EC37"), 10) == b"hellohello"


def test_pack_with_fill_bits_shifts_the_first_septet() -> None:
    """Fill bits are zero bits placed before the first septet, least significant first."""
    assert pack_7bit(b"\x7f", fill_bits=1) == b"\xfe"
    assert pack_7bit(b"\x7f\x7f", fill_bits=6) == bytes.fromhex("C0FF0F")
    assert unpack_7bit(b"\xfe", 1, fill_bits=1) == b"\x7f"


@given(st.binary(max_size=200).map(lambda data: bytes(octet & 0x7F for octet in data)), st.integers(0, 6))
def test_pack_round_trip(septets: bytes, fill_bits: int) -> None:
    """unpack_7bit inverts pack_7bit for any septets and fill bits, using ceil(bits/8) octets."""
    packed = pack_7bit(septets, fill_bits)
    expected_octets = (len(septets) * 7 + fill_bits + 7) // 8 if septets else 0
    assert len(packed) == expected_octets
    assert unpack_7bit(packed, len(septets), fill_bits) == septets


def test_pack_cr_padding_fills_seven_spare_bits() -> None:
    """With cr_padding, 7 spare bits at the end are filled with CR rather than left to read as @."""
    assert pack_7bit(b"1234567", cr_padding=True) == pack_7bit(b"1234567\r")
    assert len(pack_7bit(b"1234567", cr_padding=True)) == 7
    assert pack_7bit(b"123456", cr_padding=True) == pack_7bit(b"123456")


def test_pack_cr_padding_protects_a_wanted_final_cr() -> None:
    """With cr_padding, a text ending in CR on an octet boundary gets a second CR."""
    assert pack_7bit(b"1234567\r", cr_padding=True) == pack_7bit(b"1234567\r\r")


def test_unpack_returns_only_whole_septets_present() -> None:
    """Asking for more septets than the octets hold returns those that are there."""
    assert unpack_7bit(pack_7bit(b"abc"), 99) == b"abc"
    assert unpack_7bit(b"", 5, fill_bits=3) == b""


@pytest.mark.parametrize(
    "call",
    [
        lambda: pack_7bit(b"\x80"),
        lambda: pack_7bit(b"a", fill_bits=7),
        lambda: unpack_7bit(b"a", -1),
        lambda: unpack_7bit(b"a", 1, fill_bits=-1),
    ],
)
def test_pack_and_unpack_reject_bad_arguments(call: Callable[[], bytes]) -> None:
    """A septet above 0x7F, fill bits outside 0..6 or a negative count raise ValueError."""
    with pytest.raises(ValueError):
        call()
