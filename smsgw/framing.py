"""Split a TCP byte stream into whole PDUs that start with their own length (SMPP's and CMPP's).

Neither protocol has a delimiter: each PDU starts with a 32-bit big-endian length that counts
the length octets themselves (so Twisted's Int32StringReceiver, which counts the payload only,
does not fit). A length below the header's size or above the configured maximum means the
stream can no longer be split: the buffer records a fatal error (the protocol's own, made by
:meth:`LengthPrefixedBuffer.broken_by`) and hands out nothing more.
"""

from __future__ import annotations

import abc
import struct

_LENGTH = struct.Struct(">I")


class LengthPrefixedBuffer(abc.ABC):
    """Accumulates received bytes and hands out complete PDUs.

    A protocol's subclass sets :attr:`HEADER_SIZE` and :attr:`SEQUENCE_OFFSET` (where its
    header holds the sequence number an error answer echoes) and makes its error.

    :param max_pdu_size: the largest length accepted.
    """

    HEADER_SIZE = 0
    SEQUENCE_OFFSET = 0

    __slots__ = ("max_pdu_size", "broken", "_chunks", "_held", "_needed")

    def __init__(self, max_pdu_size: int) -> None:
        self.max_pdu_size = max_pdu_size
        #: Set once the stream is broken; nothing more is read after it.
        self.broken: Exception | None = None
        # A partial PDU is kept as a list of chunks and joined only once it is complete, so
        # a peer trickling a 64 KiB PDU one octet at a time costs linear, not quadratic, time.
        self._chunks: list[bytes] = []
        self._held = 0
        self._needed = self.HEADER_SIZE

    @abc.abstractmethod
    def broken_by(self, length: int, sequence: int) -> Exception:
        """The protocol's fatal error for a PDU that declared ``length``."""

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every PDU they complete, in order.

        After a framing error, :attr:`broken` is set and the PDUs before it are still
        returned.
        """
        if self.broken is not None:
            return []
        header_size = self.HEADER_SIZE
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
        sequence: int
        while available - offset >= header_size:
            (length,) = _LENGTH.unpack_from(data, offset)
            if length < header_size or length > self.max_pdu_size:
                (sequence,) = _LENGTH.unpack_from(data, offset + self.SEQUENCE_OFFSET)
                self.broken = self.broken_by(length, sequence)
                return pdus
            if available - offset < length:
                break
            pdus.append(data[offset : offset + length])
            offset += length
        if offset < available:
            rest = data[offset:] if offset else data
            self._chunks = [rest]
            self._held = len(rest)
            self._needed = _LENGTH.unpack_from(rest)[0] if len(rest) >= header_size else header_size
        else:
            self._held = 0
            self._needed = header_size
        return pdus

    @property
    def buffered(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return self._held
