"""Split a TCP byte stream into whole SMPP PDUs.

SMPP has no delimiter: each PDU starts with its own length, which includes the 4 length
octets themselves (so Twisted's Int32StringReceiver, which counts the payload only, does not
fit). A length below 16 or above the configured maximum means the stream can no longer be
split: the framer reports a fatal :class:`FramingError` and stops, and the connection is
answered with generic_nack and closed.
"""

from __future__ import annotations

import struct

from smsgw.smpp.constants import HEADER_SIZE
from smsgw.smpp.errors import FramingError

_LENGTH = struct.Struct(">I")
DEFAULT_MAX_PDU_SIZE = 64 * 1024


class PduBuffer:
    """Accumulates received bytes and hands out complete PDUs.

    :param max_pdu_size: the largest command_length accepted.
    """

    __slots__ = ("max_pdu_size", "broken", "_chunks", "_held", "_needed")

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        self.max_pdu_size = max_pdu_size
        #: Set once the stream is broken; nothing more is read after it.
        self.broken: FramingError | None = None
        # A partial PDU is kept as a list of chunks and joined only once it is complete, so
        # a peer trickling a 64 KiB PDU one octet at a time costs linear, not quadratic, time.
        self._chunks: list[bytes] = []
        self._held = 0
        self._needed = HEADER_SIZE

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every PDU they complete, in order.

        After a framing error, :attr:`broken` is set and the PDUs before it are still
        returned.
        """
        if self.broken is not None:
            return []
        if self._chunks:
            self._chunks.append(data)
            self._held += len(data)
            if self._held < self._needed:
                return []
            data = b"".join(self._chunks)
            self._chunks = []
        pdus: list[bytes] = []
        offset = 0
        available = len(data)
        # Declared, as struct's results are untyped; declarations cost nothing at run time.
        length: int
        sequence_number: int
        while available - offset >= HEADER_SIZE:
            (length,) = _LENGTH.unpack_from(data, offset)
            if length < HEADER_SIZE or length > self.max_pdu_size:
                (sequence_number,) = _LENGTH.unpack_from(data, offset + 12)
                self.broken = FramingError(
                    f"command_length {length} is outside {HEADER_SIZE}..{self.max_pdu_size}",
                    sequence_number=sequence_number,
                )
                return pdus
            if available - offset < length:
                break
            pdus.append(data[offset : offset + length])
            offset += length
        if offset < available:
            rest = data[offset:] if offset else data
            self._chunks = [rest]
            self._held = len(rest)
            self._needed = _LENGTH.unpack_from(rest)[0] if len(rest) >= HEADER_SIZE else HEADER_SIZE
        else:
            self._held = 0
            self._needed = HEADER_SIZE
        return pdus

    @property
    def buffered(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return self._held
