"""Tests for smsgw.text.coding: data_coding dispatch, SMPP v3.4 §5.2.19."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.text.coding import decode_text, encode_text, is_binary, message_class


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        (b"\x00\x01\x02\x1b\x65", 0x00, "@£$€"),
        (b"Hi \xff", 0x01, "Hi ÿ"),
        ("café".encode("latin-1"), 0x03, "café"),
        ("Привет".encode("iso8859-5"), 0x06, "Привет"),
        ("שלום".encode("iso8859-8"), 0x07, "שלום"),
        (bytes.fromhex("4F60597D"), 0x08, "你好"),
        (bytes.fromhex("D83DDC4D"), 0x08, "👍"),
        (b"*100#", 0x0F, "*100#"),
        (b"\x00\x24", 0xF0, "@¤"),
        (b"\x00\x24", 0xF3, "@¤"),
        (b"\x00\x24", 0xD0, "@¤"),
        (bytes.fromhex("4F60"), 0xE0, "你"),
        (bytes.fromhex("4F60"), 0x18, "你"),
        (b"\x00\x24", 0x10, "@¤"),
        (b"caf\xe9", 0x05, "café"),
        (b"caf\xe9", 0x90, "café"),
    ],
)
def test_decode_by_data_coding(data: bytes, data_coding: int, text: str) -> None:
    """Each data_coding value decodes with the alphabet SMPP v3.4 §5.2.19 assigns it."""
    assert decode_text(data, data_coding) == text


def test_decode_default_alphabet_latin_1() -> None:
    """With default_alphabet="latin-1", data_coding 0 is ISO-8859-1 instead of GSM."""
    assert decode_text(b"caf\xe9$", 0x00, default_alphabet="latin-1") == "café$"
    assert decode_text(b"caf\xe9$", 0x00) == "caf\ufffd¤"


def test_decode_default_alphabet_only_affects_zero() -> None:
    """default_alphabet changes data_coding 0 only; 0x0F and 0xF0 stay GSM."""
    assert decode_text(b"\x02", 0x0F, default_alphabet="latin-1") == "$"
    assert decode_text(b"\x02", 0xF1, default_alphabet="latin-1") == "$"


def test_decode_rejects_unknown_default_alphabet() -> None:
    """An unknown default_alphabet is a configuration error and raises ValueError."""
    with pytest.raises(ValueError):
        decode_text(b"", 0, default_alphabet="ebcdic")  # type: ignore[arg-type]


@pytest.mark.parametrize("data_coding", [0x02, 0x04, 0xF4, 0xF5, 0xF6, 0xF7, 0x14])
def test_decode_binary_gives_lowercase_hex(data_coding: int) -> None:
    """Binary codings decode to the octets as lowercase hex, never to None or mojibake."""
    assert decode_text(b"\x0a\x1b\xff", data_coding) == "0a1bff"


def test_decode_ucs2_odd_trailing_octet_is_replaced() -> None:
    """An odd trailing octet in UCS2 becomes U+FFFD instead of raising."""
    assert decode_text(b"\x00A\x00", 0x08) == "A\ufffd"


def test_decode_ucs2_lone_surrogate_is_replaced() -> None:
    """A high surrogate without its low half becomes U+FFFD instead of raising."""
    assert decode_text(b"\xd8\x3d\x00A", 0x08) == "\ufffdA"


def test_decode_iso8859_8_undefined_octet_is_replaced() -> None:
    """An octet ISO-8859-8 leaves undefined becomes U+FFFD instead of raising."""
    assert decode_text(b"\xd0", 0x07) == "\ufffd"


@pytest.mark.parametrize("data_coding", [-1, 256, 0x1_0000])
def test_decode_out_of_range_data_coding_is_best_effort(data_coding: int) -> None:
    """A data_coding that is not one octet decodes as Latin-1 instead of raising."""
    assert decode_text(b"ok\xe9", data_coding) == "oké"
    assert not is_binary(data_coding)
    assert message_class(data_coding) is None


@given(st.binary(max_size=200), st.integers(0, 255), st.sampled_from(["gsm", "latin-1"]))
def test_decode_never_raises(data: bytes, data_coding: int, default_alphabet: str) -> None:
    """decode_text returns a str for any octets under any data_coding."""
    assert isinstance(decode_text(data, data_coding, default_alphabet=default_alphabet), str)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data_coding", "binary"),
    [
        (0x00, False),
        (0x01, False),
        (0x02, True),
        (0x03, False),
        (0x04, True),
        (0x08, False),
        (0x0F, False),
        (0xF0, False),
        (0xF3, False),
        (0xF4, True),
        (0xF7, True),
    ],
)
def test_is_binary(data_coding: int, binary: bool) -> None:
    """is_binary is true exactly for the 8-bit data codings 0x02, 0x04 and 0xF4-0xF7."""
    assert is_binary(data_coding) is binary


@pytest.mark.parametrize(
    ("data_coding", "klass"),
    [
        (0xF0, 0),
        (0xF1, 1),
        (0xF2, 2),
        (0xF3, 3),
        (0xF4, 0),
        (0xF6, 2),
        (0x18, 0),
        (0x11, 1),
        (0x00, None),
        (0x08, None),
        (0x0F, None),
        (0xE0, None),
    ],
)
def test_message_class(data_coding: int, klass: int | None) -> None:
    """message_class reads bits 1-0 of the 0xF0 group (0xF0 = class 0 = flash), else None."""
    assert message_class(data_coding) == klass


@pytest.mark.parametrize(
    ("text", "data_coding", "octets"),
    [
        ("Hello", 0x00, "48656C6C6F"),
        ("€5", 0x00, "1B6535"),
        ("", 0x00, ""),
        ("你好", 0x08, "4F60597D"),
        ("ça", 0x08, "00E70061"),
        ("👍", 0x08, "D83DDC4D"),
        ("\ud83d", 0x08, "D83D"),
    ],
)
def test_encode_text_chooses_gsm_else_ucs2(text: str, data_coding: int, octets: str) -> None:
    """encode_text uses GSM when every character fits, UTF-16-BE otherwise, never a lossy mapping."""
    assert encode_text(text) == (data_coding, bytes.fromhex(octets))


@given(st.text(max_size=100))
def test_encode_then_decode_round_trips(text: str) -> None:
    """Whatever encode_text chooses, decode_text with that data_coding gives back a valid text."""
    data_coding, octets = encode_text(text)
    decoded = decode_text(octets, data_coding)
    if all(not 0xD800 <= ord(char) <= 0xDFFF for char in text):
        assert decoded == text
