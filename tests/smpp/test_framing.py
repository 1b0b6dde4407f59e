"""Splitting the TCP stream into PDUs."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from smsgw.smpp import codec
from smsgw.smpp.errors import SmppError
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import EnquireLink
from smsgw.smpp.sm import SubmitSm


def test_pdus_split_across_and_within_reads() -> None:
    """Two PDUs fed one byte at a time come out whole, in order."""
    stream = codec.encode(EnquireLink(1)) + codec.encode(SubmitSm(sequence_number=2, destination_addr="1"))
    buffer = PduBuffer()
    out = [pdu for byte in stream for pdu in buffer.feed(bytes([byte]))]
    assert [codec.decode(p).sequence_number for p in out] == [1, 2]
    assert buffer.buffered == 0


def test_many_pdus_in_one_read() -> None:
    """A read holding a hundred PDUs and half of another yields the hundred."""
    one = codec.encode(EnquireLink(5))
    buffer = PduBuffer()
    assert len(buffer.feed(one * 100 + one[:7])) == 100
    assert buffer.feed(one[7:]) == [one]


def test_bad_length_breaks_the_stream_after_good_pdus() -> None:
    """A command_length below 16 is fatal; the PDUs before it are still returned."""
    good = codec.encode(EnquireLink(1))
    buffer = PduBuffer()
    out = buffer.feed(good + struct.pack(">IIII", 5, 0x15, 0, 9))
    assert out == [good]
    assert buffer.broken is not None and buffer.broken.fatal
    assert buffer.broken.sequence_number == 9
    assert buffer.feed(good) == []


def test_oversized_pdu_is_refused_before_it_is_read() -> None:
    """A command_length above the maximum breaks the stream without waiting for the body."""
    buffer = PduBuffer(max_pdu_size=1024)
    assert buffer.feed(struct.pack(">IIII", 2048, 4, 0, 1)) == []
    assert buffer.broken is not None and buffer.broken.command_status == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_never_crash(chunks: list[bytes]) -> None:
    """Random bytes either frame, wait for more, or break the stream with an SmppError."""
    buffer = PduBuffer()
    for chunk in chunks:
        for raw in buffer.feed(chunk):
            try:
                codec.decode(raw)
            except SmppError:
                pass
