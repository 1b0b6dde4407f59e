"""User Data Header parsing and building (3GPP TS 23.040 section 9.2.3.24).

A UDH sits at the start of ``short_message`` when ``esm_class`` has bit 0x40 (UDHI) set: one
length octet (UDHL, excluding itself), then information elements (IEs), each ``IEI, IEDL, data``.
In SMPP the text after it is unpacked (one septet per octet for GSM), so no fill bits are
involved here.
"""

from __future__ import annotations

from typing import Final

import attrs

from smsgw.text.errors import InvalidUdh

__all__ = [
    "IEI_CONCAT_8BIT",
    "IEI_CONCAT_16BIT",
    "IEI_PORTS_8BIT",
    "IEI_PORTS_16BIT",
    "Concat",
    "Udh",
    "build_concat_udh",
    "split_udh",
]

IEI_CONCAT_8BIT: Final = 0x00
"""Concatenated short message, 8-bit reference: ``ref, total, seq``."""
IEI_PORTS_8BIT: Final = 0x04
"""Application port addressing, 8-bit: ``dest, src``."""
IEI_PORTS_16BIT: Final = 0x05
"""Application port addressing, 16-bit: ``dest(2), src(2)``."""
IEI_CONCAT_16BIT: Final = 0x08
"""Concatenated short message, 16-bit reference: ``ref(2), total, seq``."""

# The IEs we interpret have a fixed data length; any other length is malformed, not merely
# unknown, because acting on half a concatenation header would deliver a fragment as a message.
_FIXED_LENGTHS: Final[dict[int, int]] = {
    IEI_CONCAT_8BIT: 3,
    IEI_PORTS_8BIT: 2,
    IEI_PORTS_16BIT: 4,
    IEI_CONCAT_16BIT: 4,
}


@attrs.frozen
class Concat:
    """The concatenation information of one segment.

    :ivar reference: the message reference shared by all segments (0-255 or 0-65535).
    :ivar total: the number of segments, 1-255.
    :ivar seqnum: this segment's position, 1-based.
    :ivar ref_bits: 8 or 16, the width of the reference on the wire.
    """

    reference: int
    total: int
    seqnum: int
    ref_bits: int


@attrs.frozen
class Udh:
    """A parsed User Data Header.

    :ivar concat: the concatenation IE, if a valid one is present.
    :ivar ports: ``(destination, source)`` application ports from the 8- or 16-bit IE, if any.
    :ivar elements: every IE as ``(iei, data)`` in wire order, unknown ones included, so that
        nothing a peer sent is lost.
    """

    concat: Concat | None = None
    ports: tuple[int, int] | None = None
    elements: tuple[tuple[int, bytes], ...] = ()


def split_udh(short_message: bytes) -> tuple[Udh, bytes]:
    """Split a ``short_message`` whose UDHI bit is set into its header and its payload.

    When an IE is repeated the last occurrence wins (23.040). A concatenation IE whose total is 0,
    or whose sequence number is 0 or above the total, is ignored as 23.040 prescribes: it stays in
    ``elements`` but ``concat`` is not set from it.

    :param short_message: the octets, starting with the UDH length octet.
    :returns: the header and the octets that follow it.
    :raises InvalidUdh: if the message is empty, the length octet exceeds the message, an IE
        overruns the header, or a concatenation or port IE has the wrong length. Callers answer
        with ``ESME_RINVESMCLASS``.
    """
    if not short_message:
        raise InvalidUdh("UDHI is set but short_message is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise InvalidUdh(f"UDH length {end - 1} exceeds the {len(short_message) - 1} octets after it")
    elements: list[tuple[int, bytes]] = []
    concat: Concat | None = None
    ports: tuple[int, int] | None = None
    offset = 1
    while offset < end:
        if offset + 2 > end:
            raise InvalidUdh(f"information element header at offset {offset} is cut off by the UDH length")
        iei = short_message[offset]
        start = offset + 2
        stop = start + short_message[offset + 1]
        if stop > end:
            raise InvalidUdh(f"information element 0x{iei:02X} at offset {offset} overruns the UDH")
        data = short_message[start:stop]
        elements.append((iei, data))
        offset = stop
        expected = _FIXED_LENGTHS.get(iei)
        if expected is None:
            continue
        if len(data) != expected:
            raise InvalidUdh(f"information element 0x{iei:02X} has length {len(data)}, not {expected}")
        if iei == IEI_CONCAT_8BIT:
            concat = _concat(data[0], data[1], data[2], 8) or concat
        elif iei == IEI_CONCAT_16BIT:
            concat = _concat(int.from_bytes(data[:2], "big"), data[2], data[3], 16) or concat
        elif iei == IEI_PORTS_8BIT:
            ports = (data[0], data[1])
        else:
            ports = (int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big"))
    return Udh(concat=concat, ports=ports, elements=tuple(elements)), short_message[end:]


def _concat(reference: int, total: int, seqnum: int, ref_bits: int) -> Concat | None:
    if total == 0 or not 1 <= seqnum <= total:
        return None
    return Concat(reference=reference, total=total, seqnum=seqnum, ref_bits=ref_bits)


def build_concat_udh(ref: int, total: int, seq: int, ref_bits: int = 8) -> bytes:
    """Build a complete UDH (length octet included) holding one concatenation IE.

    :param ref: the reference shared by all segments: 0-255, or 0-65535 with ``ref_bits=16``.
    :param total: the number of segments, 1-255.
    :param seq: this segment's 1-based position, at most ``total``.
    :param ref_bits: 8 for ``05 00 03 RR TT SS``, 16 for ``06 08 04 RR RR TT SS``.
    :returns: 6 or 7 octets.
    :raises ValueError: if a value is out of range.
    """
    if ref_bits not in (8, 16):
        raise ValueError(f"ref_bits must be 8 or 16, not {ref_bits}")
    if not 0 <= ref < 1 << ref_bits:
        raise ValueError(f"ref {ref} does not fit in {ref_bits} bits")
    if not 1 <= total <= 255:
        raise ValueError(f"total must be 1..255, not {total}")
    if not 1 <= seq <= total:
        raise ValueError(f"seq must be 1..{total}, not {seq}")
    if ref_bits == 8:
        return bytes((5, IEI_CONCAT_8BIT, 3, ref, total, seq))
    return bytes((6, IEI_CONCAT_16BIT, 4, ref >> 8, ref & 0xFF, total, seq))
