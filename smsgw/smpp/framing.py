"""Split a TCP byte stream into whole SMPP PDUs.

SMPP has no delimiter: each PDU starts with its own length, which includes the 4 length
octets themselves (so Twisted's Int32StringReceiver, which counts the payload only, does not
fit). A length below 16 or above the configured maximum means the stream can no longer be
split: the framer reports a fatal :class:`FramingError` and stops, and the connection is
answered with generic_nack and closed.
"""

from __future__ import annotations

from smsgw.framing import LengthPrefixedBuffer
from smsgw.smpp.constants import HEADER_SIZE
from smsgw.smpp.errors import FramingError

DEFAULT_MAX_PDU_SIZE = 64 * 1024


class PduBuffer(LengthPrefixedBuffer):
    """SMPP PDUs of a byte stream (:class:`~smsgw.framing.LengthPrefixedBuffer`): a 16-octet
    header with the sequence_number at octet 12; a bad command_length is a
    :class:`FramingError`.

    :param max_pdu_size: the largest command_length accepted.
    """

    HEADER_SIZE = HEADER_SIZE
    SEQUENCE_OFFSET = 12
    __slots__ = ()
    broken: FramingError | None  # always this protocol's error

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        super().__init__(max_pdu_size)

    def broken_by(self, length: int, sequence: int) -> FramingError:
        return FramingError(
            f"command_length {length} is outside {HEADER_SIZE}..{self.max_pdu_size}", sequence_number=sequence
        )
