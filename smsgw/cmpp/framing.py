"""Split a TCP byte stream into whole CMPP PDUs: a 12-octet header whose Total_Length counts
itself, the Sequence_Id at octet 8. A length outside 12..max ends the stream."""

from __future__ import annotations

from smsgw.cmpp.constants import HEADER_SIZE
from smsgw.cmpp.errors import RemoteProtocolError
from smsgw.framing import LengthPrefixedBuffer

#: The largest PDU: a 3.0 SUBMIT to 100 numbers with 255 octets of content is 3,618.
DEFAULT_MAX_PDU_SIZE = 4096


class CmppBuffer(LengthPrefixedBuffer):
    """CMPP PDUs of a byte stream (:class:`~smsgw.framing.LengthPrefixedBuffer`).

    :param max_pdu_size: the largest Total_Length accepted.
    """

    HEADER_SIZE = HEADER_SIZE
    SEQUENCE_OFFSET = 8
    __slots__ = ()
    broken: RemoteProtocolError | None  # always this protocol's error

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        super().__init__(max_pdu_size)

    def broken_by(self, length: int, sequence: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"Total_Length {length} is outside {HEADER_SIZE}..{self.max_pdu_size}",
            sequence_id=sequence,
            fatal=True,
        )
