"""Tests for smsgw.text.reassembly: a handset inbox built from stored parts (3GPP TS 23.040 §9.2.3.24.1)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.text.gsm import encode_gsm
from smsgw.text.reassembly import MISSING_MARKER, InboxMessage, PartInfo, ReceivedPart, assemble
from smsgw.text.split import split_text
from smsgw.text.udh import build_concat_udh

UDHI = 0x40
UCS2 = 0x08
T0 = 1_700_000_000.0
ALICE = "491701234567"
BOB = "491709876543"


def udh_part(
    row: int,
    payload: bytes,
    *,
    ref: int,
    total: int,
    seq: int,
    ref_bits: int = 8,
    data_coding: int = UCS2,
    sender: str = ALICE,
    at: float = T0,
) -> ReceivedPart:
    """Build a stored part carrying a concatenation UDH in front of ``payload``."""
    return ReceivedPart(
        row=row,
        message_id=f"m{row}",
        sender=sender,
        data_coding=data_coding,
        esm_class=UDHI,
        body=build_concat_udh(ref, total, seq, ref_bits) + payload,
        sar=None,
        received_at=at,
    )


def sar_part(
    row: int, payload: bytes, *, ref: int, total: int, seq: int, data_coding: int = UCS2, at: float = T0
) -> ReceivedPart:
    """Build a stored part carrying SAR TLVs and no UDH."""
    return ReceivedPart(
        row=row,
        message_id=f"m{row}",
        sender=ALICE,
        data_coding=data_coding,
        esm_class=0,
        body=payload,
        sar=(ref, total, seq),
        received_at=at,
    )


def single(
    row: int, body: bytes, *, data_coding: int = 0, esm_class: int = 0, sender: str = ALICE, at: float = T0
) -> ReceivedPart:
    """Build a stored part that is a message on its own."""
    return ReceivedPart(
        row=row,
        message_id=f"m{row}",
        sender=sender,
        data_coding=data_coding,
        esm_class=esm_class,
        body=body,
        sar=None,
        received_at=at,
    )


def ucs2(text: str) -> bytes:
    """Encode a text as UCS2 (UTF-16-BE) octets."""
    return text.encode("utf-16-be")


CHINESE = ("你好，", "世界！", "欢迎使用短信。")


def test_ucs2_8bit_udh_shuffled_gives_one_message() -> None:
    """Three UCS2 parts with an 8-bit-reference UDH arriving 3, 1, 2 make one message in seq order."""
    parts = [
        udh_part(1, ucs2(CHINESE[2]), ref=42, total=3, seq=3, at=T0),
        udh_part(2, ucs2(CHINESE[0]), ref=42, total=3, seq=1, at=T0 + 1),
        udh_part(3, ucs2(CHINESE[1]), ref=42, total=3, seq=2, at=T0 + 2),
    ]
    assert assemble(parts, now=T0 + 3) == [
        InboxMessage(
            id=1,
            cursor=3,
            sender=ALICE,
            text="你好，世界！欢迎使用短信。",
            data_coding=UCS2,
            message_class=None,
            binary=False,
            parts=(
                PartInfo(seq=1, message_id="m2", row=2, received_at=T0 + 1),
                PartInfo(seq=2, message_id="m3", row=3, received_at=T0 + 2),
                PartInfo(seq=3, message_id="m1", row=1, received_at=T0),
            ),
            total=3,
            complete=True,
            received_at=T0 + 2,
            concat="udh8",
        )
    ]


def test_ucs2_16bit_udh_shuffled_gives_one_message() -> None:
    """The same parts with a 16-bit reference (0x1234) reassemble too and report concat "udh16"."""
    parts = [
        udh_part(5, ucs2(CHINESE[1]), ref=0x1234, total=3, seq=2, ref_bits=16),
        udh_part(6, ucs2(CHINESE[2]), ref=0x1234, total=3, seq=3, ref_bits=16),
        udh_part(7, ucs2(CHINESE[0]), ref=0x1234, total=3, seq=1, ref_bits=16),
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == "你好，世界！欢迎使用短信。"
    assert (message.id, message.cursor, message.concat, message.complete) == (5, 7, "udh16", True)


def test_8bit_and_16bit_references_do_not_mix() -> None:
    """An 8-bit and a 16-bit UDH with the same numeric reference belong to different messages."""
    parts = [
        udh_part(1, ucs2("A"), ref=9, total=2, seq=1, ref_bits=8),
        udh_part(2, ucs2("b"), ref=9, total=2, seq=2, ref_bits=16),
    ]
    assert assemble(parts, now=T0 + 1) == []


def test_sar_shuffled_gives_one_message() -> None:
    """SAR parts arriving 2, 3, 1 reassemble in seq order with concat "sar"."""
    parts = [
        sar_part(10, ucs2(CHINESE[1]), ref=300, total=3, seq=2),
        sar_part(11, ucs2(CHINESE[2]), ref=300, total=3, seq=3),
        sar_part(12, ucs2(CHINESE[0]), ref=300, total=3, seq=1),
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == "你好，世界！欢迎使用短信。"
    assert message.concat == "sar"
    assert [info.row for info in message.parts] == [12, 10, 11]


def test_duplicate_part_keeps_first_arrived() -> None:
    """A retransmitted identical segment is dropped: the first-arrived copy is kept and cursor ignores it."""
    parts = [
        udh_part(1, ucs2("Hello "), ref=3, total=3, seq=1),
        udh_part(2, ucs2("big "), ref=3, total=3, seq=2),
        udh_part(3, ucs2("big "), ref=3, total=3, seq=2, at=T0 + 5),
        udh_part(4, ucs2("world"), ref=3, total=3, seq=3),
    ]
    [message] = assemble(parts, now=T0 + 5)
    assert message.text == "Hello big world"
    assert [info.row for info in message.parts] == [1, 2, 4]
    assert message.cursor == 4


def test_gsm_escape_split_across_parts_is_rejoined() -> None:
    """A euro sign whose ESC ends part 1 and whose 0x65 starts part 2 decodes intact."""
    septets = encode_gsm("Price: 5€ only")
    cut = septets.index(0x1B) + 1
    assert septets[cut - 1 : cut + 1] == b"\x1b\x65"
    parts = [
        udh_part(1, septets[cut:], ref=1, total=2, seq=2, data_coding=0),
        udh_part(2, septets[:cut], ref=1, total=2, seq=1, data_coding=0),
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == "Price: 5€ only"


def test_surrogate_pair_split_across_parts_is_rejoined() -> None:
    """An emoji whose high surrogate ends part 1 and low surrogate starts part 2 decodes intact."""
    octets = ucs2("ok 😀!")
    assert octets[6:10] == bytes.fromhex("D83DDE00")
    parts = [
        sar_part(1, octets[:8], ref=2, total=2, seq=1),
        sar_part(2, octets[8:], ref=2, total=2, seq=2),
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == "ok 😀!"


def test_missing_middle_part_hidden_until_timeout() -> None:
    """Parts 1 and 3 of 3 stay hidden for 60 s after the first, then show with a marker and complete=False."""
    parts = [
        udh_part(1, ucs2("one "), ref=5, total=3, seq=1, at=T0),
        udh_part(2, ucs2(" three"), ref=5, total=3, seq=3, at=T0 + 10),
    ]
    assert assemble(parts, now=T0 + 59.9) == []
    [message] = assemble(parts, now=T0 + 60)
    assert message.text == "one […] three"
    assert MISSING_MARKER == "[\u2026]"
    assert message.complete is False
    assert message.total == 3
    assert [info.seq for info in message.parts] == [1, 3]
    assert (message.id, message.cursor, message.received_at) == (1, 2, T0 + 10)


def test_missing_leading_and_trailing_parts_get_markers() -> None:
    """Only part 2 of 4 present gives one marker before it and one for the two missing after it."""
    parts = [udh_part(1, ucs2("two"), ref=5, total=4, seq=2)]
    [message] = assemble(parts, now=T0 + 120, timeout=30)
    assert message.text == "[…]two[…]"


def test_late_part_fills_group_within_timeout() -> None:
    """A missing part arriving inside the window completes the group."""
    parts = [
        udh_part(1, ucs2("a"), ref=5, total=2, seq=1, at=T0),
        udh_part(2, ucs2("b"), ref=5, total=2, seq=2, at=T0 + 59),
    ]
    [message] = assemble(parts, now=T0 + 59)
    assert (message.text, message.complete) == ("ab", True)


def test_part_after_window_starts_new_group() -> None:
    """A part arriving timeout seconds or more after its group's first part is not merged into it."""
    parts = [
        udh_part(1, ucs2("a"), ref=5, total=2, seq=1, at=T0),
        udh_part(2, ucs2("b"), ref=5, total=2, seq=2, at=T0 + 60),
    ]
    assert [message.text for message in assemble(parts, now=T0 + 200)] == ["a[…]", "[…]b"]


def test_reused_reference_after_completion_stays_separate() -> None:
    """Two long messages from one sender both using ref 7, the second after the first completed, stay apart."""
    parts = [
        udh_part(1, ucs2("first "), ref=7, total=2, seq=1, at=T0),
        udh_part(2, ucs2("message"), ref=7, total=2, seq=2, at=T0 + 1),
        udh_part(3, ucs2("second "), ref=7, total=2, seq=1, at=T0 + 2),
        udh_part(4, ucs2("one"), ref=7, total=2, seq=2, at=T0 + 3),
    ]
    messages = assemble(parts, now=T0 + 3)
    assert [(m.id, m.cursor, m.text, m.complete) for m in messages] == [
        (1, 2, "first message", True),
        (3, 4, "second one", True),
    ]


def test_identical_resend_after_completion_stays_separate() -> None:
    """The same long text sent twice with the same ref shows twice: a complete group takes no more parts."""
    parts = [
        udh_part(row, ucs2(text), ref=7, total=2, seq=seq)
        for row, (text, seq) in enumerate([("x", 1), ("y", 2), ("x", 1), ("y", 2)], start=1)
    ]
    assert [m.text for m in assemble(parts, now=T0)] == ["xy", "xy"]


def test_reused_seq_with_other_payload_starts_new_group() -> None:
    """A second part 1 with a different payload before the group completes starts a new message."""
    parts = [
        udh_part(1, ucs2("old "), ref=7, total=2, seq=1, at=T0),
        udh_part(2, ucs2("new "), ref=7, total=2, seq=1, at=T0 + 1),
        udh_part(3, ucs2("tail"), ref=7, total=2, seq=2, at=T0 + 2),
    ]
    messages = assemble(parts, now=T0 + 61)
    assert [(m.id, m.text, m.complete) for m in messages] == [(1, "old […]", False), (2, "new tail", True)]


def test_same_reference_from_two_senders_stays_separate() -> None:
    """Interleaved parts from two senders sharing ref 7 and total 2 form two messages."""
    parts = [
        udh_part(1, ucs2("Alice "), ref=7, total=2, seq=1, sender=ALICE),
        udh_part(2, ucs2("Bob "), ref=7, total=2, seq=1, sender=BOB),
        udh_part(3, ucs2("speaking"), ref=7, total=2, seq=2, sender=BOB),
        udh_part(4, ucs2("here"), ref=7, total=2, seq=2, sender=ALICE),
    ]
    messages = assemble(parts, now=T0)
    assert [(m.sender, m.text) for m in messages] == [(BOB, "Bob speaking"), (ALICE, "Alice here")]


def test_single_messages_pass_through() -> None:
    """A plain part, a UDH without concatenation IE (stripped) and a malformed UDH (kept whole) are singles."""
    ports_udh = bytes.fromhex("0605040B8423F0")
    parts = [
        single(1, encode_gsm("Your code is 1234")),
        single(2, ports_udh + b"\x01\x02", data_coding=4, esm_class=UDHI),
        single(3, b"\x09AB", data_coding=1, esm_class=UDHI),
    ]
    messages = assemble(parts, now=T0)
    assert [(m.id, m.cursor, m.text, m.total, m.complete, m.concat) for m in messages] == [
        (1, 1, "Your code is 1234", 1, True, None),
        (2, 2, "0102", 1, True, None),
        (3, 3, "\tAB", 1, True, None),
    ]
    assert messages[0].parts == (PartInfo(seq=1, message_id="m1", row=1, received_at=T0),)
    assert messages[0].received_at == T0


def test_single_total_concat_is_complete_at_once() -> None:
    """A concatenation header announcing one segment gives a complete one-part message."""
    [message] = assemble([udh_part(1, ucs2("solo"), ref=1, total=1, seq=1)], now=T0)
    assert (message.text, message.total, message.complete, message.concat) == ("solo", 1, True, "udh8")


def test_invalid_sar_is_a_single_message() -> None:
    """SAR TLVs whose seq exceeds the total cannot be placed, so the part is shown on its own."""
    [message] = assemble([sar_part(1, ucs2("lost"), ref=1, total=2, seq=3)], now=T0)
    assert (message.text, message.concat, message.total) == ("lost", None, 1)


def test_flash_message_has_class_0() -> None:
    """data_coding 0xF0 (GSM 7-bit, class 0) is a flash message."""
    [message] = assemble([single(1, encode_gsm("Flash!"), data_coding=0xF0)], now=T0)
    assert (message.text, message.message_class, message.binary) == ("Flash!", 0, False)


def test_binary_message_is_flagged_and_hex() -> None:
    """data_coding 4 is binary: binary=True and the text is the octets in lowercase hex."""
    parts = [
        udh_part(1, b"\xca\xfe", ref=8, total=2, seq=1, data_coding=4),
        udh_part(2, b"\xba\xbe", ref=8, total=2, seq=2, data_coding=4),
    ]
    [message] = assemble(parts, now=T0)
    assert (message.text, message.binary, message.message_class) == ("cafebabe", True, None)


def test_mixed_coding_runs_decode_separately() -> None:
    """A segment whose data_coding differs from the previous one is decoded with its own coding."""
    parts = [
        udh_part(1, encode_gsm("Hi "), ref=4, total=3, seq=1, data_coding=0),
        udh_part(2, ucs2("你好 "), ref=4, total=3, seq=2),
        udh_part(3, encode_gsm("€!"), ref=4, total=3, seq=3, data_coding=0),
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == "Hi 你好 €!"
    assert message.data_coding == 0


def test_default_alphabet_latin_1_applies_to_coding_0() -> None:
    """With default_alphabet="latin-1" data_coding 0 octets decode as ISO-8859-1."""
    [message] = assemble([single(1, "café".encode("latin-1"))], now=T0, default_alphabet="latin-1")
    assert message.text == "café"


def test_ordered_by_cursor_then_id() -> None:
    """Messages are listed by the row of their last part, so a long message completing late comes last."""
    parts = [
        udh_part(1, ucs2("long "), ref=1, total=2, seq=1),
        single(2, encode_gsm("short")),
        udh_part(3, ucs2("early"), ref=2, total=1, seq=1),
        udh_part(4, ucs2("text"), ref=1, total=2, seq=2),
        single(5, encode_gsm("last")),
    ]
    assert [(m.id, m.cursor, m.text) for m in assemble(reversed(parts), now=T0)] == [
        (2, 2, "short"),
        (3, 3, "early"),
        (1, 4, "long text"),
        (5, 5, "last"),
    ]


def test_empty_inbox() -> None:
    """No parts give no messages."""
    assert assemble([], now=T0) == []


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_timeout_must_be_positive(timeout: float) -> None:
    """A zero or negative timeout is a configuration error."""
    with pytest.raises(ValueError, match="timeout"):
        assemble([], now=T0, timeout=timeout)


def test_unknown_default_alphabet_is_rejected() -> None:
    """An unknown default_alphabet fails even on an empty inbox."""
    with pytest.raises(ValueError, match="default_alphabet"):
        assemble([], now=T0, default_alphabet="utf-8")  # type: ignore[arg-type]


def test_thousands_of_parts() -> None:
    """1,000 three-part messages with wrapping 8-bit refs, shuffled, come back whole and in order."""
    parts: list[ReceivedPart] = []
    for index in range(1000):
        for seq in (2, 1, 3):
            row = len(parts) + 1
            text = f"{index}.{seq} "
            parts.append(udh_part(row, ucs2(text), ref=index % 256, total=3, seq=seq, at=T0 + index))
    random.Random(1).shuffle(parts)
    messages = assemble(parts, now=T0 + 1000)
    assert [m.text for m in messages] == [f"{i}.1 {i}.2 {i}.3 " for i in range(1000)]


texts = st.text(alphabet=st.sampled_from("ab €{}你😀"), min_size=1, max_size=600)


@given(
    text=texts, mode=st.sampled_from(["udh", "sar"]), ref_bits=st.sampled_from([8, 16]), seed=st.integers()
)
def test_split_text_round_trips_in_any_order(text: str, mode: str, ref_bits: int, seed: int) -> None:
    """Whatever split_text produces, delivered in any order, reassembles to the original text."""
    split = split_text(text, ref=200, mode=mode, ref_bits=ref_bits)  # type: ignore[arg-type]
    order = list(range(len(split)))
    random.Random(seed).shuffle(order)
    parts = [
        ReceivedPart(
            row=row,
            message_id=f"m{row}",
            sender=ALICE,
            data_coding=split[index].data_coding,
            esm_class=UDHI if split[index].esm_class_udhi else 0,
            body=split[index].short_message,
            sar=split[index].sar,
            received_at=T0,
        )
        for row, index in enumerate(order, start=1)
    ]
    [message] = assemble(parts, now=T0)
    assert message.text == text
    assert message.total == len(split)
    assert message.complete
