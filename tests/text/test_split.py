"""Tests for smsgw.text.split: segment sizes of 3GPP TS 23.040 (160/153 septets, 70/67 UCS2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.text.coding import decode_text
from smsgw.text.errors import TextTooLong
from smsgw.text.gsm import EXTENSION_TABLE, encode_gsm
from smsgw.text.split import Part, count_parts, split_text
from smsgw.text.udh import Concat, split_udh

mixed_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("abc €{}[]^@£"),
        st.sampled_from("你好ç"),
        st.sampled_from(["👍", "😀"]),
    ),
    max_size=500,
)


def payloads(parts: list[Part]) -> list[bytes]:
    """Strip the UDH from each part that has one."""
    return [split_udh(part.short_message)[1] if part.esm_class_udhi else part.short_message for part in parts]


@pytest.mark.parametrize("mode", ["udh", "sar"])
@pytest.mark.parametrize("text", ["", "Hi", "a" * 160, "€" * 80, "你" * 70, "👍" * 35])
def test_text_that_fits_gives_one_bare_part(text: str, mode: str) -> None:
    """A text within 160 septets or 70 UCS2 units gives one part with neither UDH nor SAR."""
    parts = split_text(text, ref=1, mode=mode)  # type: ignore[arg-type]
    assert len(parts) == 1
    assert parts[0].esm_class_udhi is False
    assert parts[0].sar is None
    assert decode_text(parts[0].short_message, parts[0].data_coding) == text
    assert count_parts(text, mode) == 1  # type: ignore[arg-type]


def test_400_gsm_characters_give_153_153_94() -> None:
    """A 400-character GSM text splits into 3 UDH parts of 153, 153 and 94 septets with ref/seq set."""
    text = "".join(chr(ord("a") + index % 26) for index in range(400))
    parts = split_text(text, ref=0x42)
    assert [len(payload) for payload in payloads(parts)] == [153, 153, 94]
    for seq, part in enumerate(parts, start=1):
        assert part.data_coding == 0
        assert part.esm_class_udhi is True
        assert part.sar is None
        assert part.short_message[:6] == bytes([0x05, 0x00, 0x03, 0x42, 3, seq])
        assert split_udh(part.short_message)[0].concat == Concat(
            reference=0x42, total=3, seqnum=seq, ref_bits=8
        )
    assert b"".join(payloads(parts)) == encode_gsm(text)
    assert count_parts(text) == 3


def test_161_septets_give_two_parts() -> None:
    """One septet over 160 (an extension character counting two) makes the text concatenated."""
    assert count_parts("a" * 159 + "€") == 2
    assert count_parts("a" * 158 + "€") == 1


def test_16bit_reference_gives_152_septets_per_part() -> None:
    """With a 16-bit reference the 7-octet UDH leaves 152 septets per part."""
    parts = split_text("x" * 400, ref=0x1234, ref_bits=16)
    assert [len(payload) for payload in payloads(parts)] == [152, 152, 96]
    assert parts[0].short_message[:7] == bytes.fromhex("06080412340301")


def test_escape_pair_is_never_split() -> None:
    """When the 153rd septet would be an ESC, the part stops at 152 and the pair opens the next part."""
    parts = split_text("a" * 152 + "€" + "b" * 10, ref=7)
    first, second = payloads(parts)
    assert first == b"a" * 152
    assert second == b"\x1b\x65" + b"b" * 10


def test_ucs2_splits_into_67_units() -> None:
    """A 150-character Chinese text splits into UCS2 parts of 67, 67 and 16 units."""
    parts = split_text("你" * 150, ref=9)
    assert {part.data_coding for part in parts} == {8}
    assert [len(payload) // 2 for payload in payloads(parts)] == [67, 67, 16]


def test_ucs2_16bit_reference_gives_66_units() -> None:
    """With a 16-bit reference a UCS2 part carries 66 units (132 octets)."""
    parts = split_text("你" * 150, ref=9, ref_bits=16)
    assert [len(payload) // 2 for payload in payloads(parts)] == [66, 66, 18]


def test_surrogate_pair_is_never_split() -> None:
    """When the 67th unit would be a high surrogate, the part stops at 66 and the pair opens the next."""
    parts = split_text("你" * 66 + "👍" + "x" * 10, ref=3)
    first, second = payloads(parts)
    assert first.decode("utf-16-be") == "你" * 66
    assert second[:4] == bytes.fromhex("D83DDC4D")
    assert second.decode("utf-16-be") == "👍" + "x" * 10


@pytest.mark.parametrize("mode", ["udh", "sar"])
@pytest.mark.parametrize("ref_bits", [8, 16])
@given(text=mixed_text)
def test_parts_decode_separately_and_join_to_the_text(text: str, mode: str, ref_bits: int) -> None:
    """Every part decodes on its own and the parts join to the text, so no pair is ever split."""
    parts = split_text(text, ref=5, mode=mode, ref_bits=ref_bits)  # type: ignore[arg-type]
    assert len(parts) == count_parts(text, mode, ref_bits=ref_bits)  # type: ignore[arg-type]
    decoded = []
    for payload, part in zip(payloads(parts), parts):
        if part.data_coding == 0:
            assert not payload.endswith(b"\x1b")
            decoded.append(decode_text(payload, 0))
        else:
            decoded.append(payload.decode("utf-16-be"))  # strict: a cut pair would raise
    assert "".join(decoded) == text


def test_sar_parts_carry_full_single_message_payloads() -> None:
    """In SAR mode there is no UDH, so each part carries up to 160 septets and the tuple (ref, total, seq)."""
    parts = split_text("s" * 400, ref=0xBEEF, mode="sar")
    assert [len(part.short_message) for part in parts] == [160, 160, 80]
    assert [part.sar for part in parts] == [(0xBEEF, 3, 1), (0xBEEF, 3, 2), (0xBEEF, 3, 3)]
    assert not any(part.esm_class_udhi for part in parts)


def test_sar_ucs2_parts_carry_70_units() -> None:
    """In SAR mode a UCS2 part carries 70 units (140 octets)."""
    parts = split_text("你" * 150, ref=1, mode="sar")
    assert [len(part.short_message) for part in parts] == [140, 140, 20]


@pytest.mark.parametrize("text", ["short", "x" * 1000, "你" * 500])
def test_payload_mode_gives_one_part_with_everything(text: str) -> None:
    """mode="payload" gives one part holding the whole encoded text, without UDH or SAR."""
    parts = split_text(text, ref=0, mode="payload")
    assert len(parts) == 1
    assert parts[0].esm_class_udhi is False
    assert parts[0].sar is None
    assert decode_text(parts[0].short_message, parts[0].data_coding) == text
    assert count_parts(text, "payload") == 1


def test_payload_over_65535_octets_is_too_long() -> None:
    """A text whose encoding exceeds message_payload's 65535 octets raises TextTooLong."""
    with pytest.raises(TextTooLong):
        split_text("你" * 32768, ref=0, mode="payload")


def test_more_than_255_parts_is_too_long() -> None:
    """A text needing 256 segments raises TextTooLong, and count_parts reports 256."""
    assert len(split_text("a" * (153 * 255), ref=1)) == 255
    with pytest.raises(TextTooLong):
        split_text("a" * (153 * 255 + 1), ref=1)
    assert count_parts("a" * (153 * 255 + 1)) == 256


@pytest.mark.parametrize(
    ("ref", "mode", "ref_bits"),
    [
        (256, "udh", 8),
        (-1, "udh", 8),
        (0x10000, "udh", 16),
        (0x10000, "sar", 8),
        (1, "smpp", 8),
        (1, "udh", 12),
    ],
)
def test_bad_arguments_raise_value_error(ref: int, mode: str, ref_bits: int) -> None:
    """An unknown mode, a ref_bits other than 8/16, or a reference too wide for its field raise ValueError."""
    with pytest.raises(ValueError):
        split_text("a" * 200, ref=ref, mode=mode, ref_bits=ref_bits)  # type: ignore[arg-type]


def test_extension_characters_count_double_in_parts() -> None:
    """A text of 100 extension characters (200 septets) needs two UDH parts."""
    text = "".join(sorted(EXTENSION_TABLE)) * 10
    assert count_parts(text) == 2
    assert [len(payload) for payload in payloads(split_text(text, ref=1))] == [152, 48]


def test_ascii_alphabet_gives_ia5_parts_under_160_octets() -> None:
    """The ``ascii`` alphabet (CMPP's Msg_Fmt 0): 159 characters in one part, 160 in two UDH
    parts of 153 and 7; a character outside ASCII makes the whole text UCS2."""
    assert [
        (p.data_coding, len(p.short_message)) for p in split_text("a" * 159, ref=1, alphabet="ascii")
    ] == [(1, 159)]
    parts = split_text("a" * 160, ref=1, alphabet="ascii")
    assert [(p.data_coding, len(payload)) for p, payload in zip(parts, payloads(parts), strict=True)] == [
        (1, 153),
        (1, 7),
    ]
    assert {p.data_coding for p in split_text("café " * 40, ref=1, alphabet="ascii")} == {8}


def test_a_latin1_segment_is_not_shortened_by_a_letter_that_looks_like_a_surrogate() -> None:
    """Ø is 0xD8 in Latin-1, not half of a UTF-16 surrogate pair: 134-octet parts stay whole."""
    parts = split_text("Ø" * 300, ref=1, alphabet="latin-1")
    assert [len(payload) for payload in payloads(parts)] == [134, 134, 32]
