"""Split a text into SMS segments (3GPP TS 23.040 §9.2.3.24; SMPP v3.4 SAR TLVs).

Three ways to send a long text over SMPP, chosen by ``mode``:

``"udh"``
    each segment's ``short_message`` starts with a concatenation UDH and ``esm_class`` gets UDHI;
    the header eats into the segment, leaving 153 septets / 67 UCS2 units (152 / 66 with a 16-bit
    reference).
``"sar"``
    no header in the octets; the caller sets ``sar_msg_ref_num``, ``sar_total_segments`` and
    ``sar_segment_seqnum`` TLVs from :attr:`Part.sar`. Since nothing is taken from the payload,
    every segment may carry a full single message's worth: 160 septets, or 70 UCS2 units
    (140 octets). An SMSC that converts SAR into a UDH for the air interface (Kannel does) must
    re-split; that is its business, not the ESME's.
``"payload"``
    one part holding the whole encoded text for the ``message_payload`` TLV (``sm_length = 0``);
    the SMSC segments it.

The alphabet is the cheapest that holds the whole text (:func:`smsgw.text.coding.encode_text`):
GSM 03.38 unpacked (``data_coding`` 0) or UCS2 (8). Segments never split a GSM escape pair or a
UTF-16 surrogate pair; a segment is one unit shorter instead.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

from smsgw.text.coding import DATA_CODING_GSM, Alphabet, encode_text
from smsgw.text.errors import TextTooLong
from smsgw.text.gsm import ESC
from smsgw.text.udh import build_concat_udh

__all__ = ["MAX_PARTS", "MAX_PAYLOAD_OCTETS", "Mode", "Part", "count_parts", "split_text"]

Mode = Literal["udh", "sar", "payload"]
"""How a long text is carried: concatenation UDH, SAR TLVs, or one message_payload."""

MAX_PARTS: Final = 255
"""The most segments a concatenation IE or ``sar_total_segments`` (one octet) can announce."""

MAX_PAYLOAD_OCTETS: Final = 0xFFFF
"""The most octets a ``message_payload`` TLV (two-octet length) can hold."""

# Capacities in encoding units: septets (one octet each, unpacked) for GSM, UTF-16 code units
# (two octets each) for UCS2.  Indexed by data_coding, then by the UDH reference width.
# IA5 (0x01) is CMPP's ASCII, whose Msg_Length must stay under 160 octets.
_SINGLE: Final[dict[int, int]] = {0x00: 160, 0x01: 159, 0x03: 140, 0x08: 70}
_UDH_PART: Final[dict[int, dict[int, int]]] = {
    0x00: {8: 153, 16: 152},
    0x01: {8: 153, 16: 152},
    0x03: {8: 134, 16: 133},
    0x08: {8: 67, 16: 66},
}
_UNIT_OCTETS: Final[dict[int, int]] = {0x00: 1, 0x01: 1, 0x03: 1, 0x08: 2}


@attrs.frozen
class Part:
    """One segment ready to go into a submit_sm or deliver_sm.

    :ivar data_coding: 0 (GSM 03.38 unpacked) or 8 (UCS2), the same for every part of a text.
    :ivar short_message: the octets, UDH included when ``esm_class_udhi`` is true; with mode
        ``"payload"`` the whole text, destined for ``message_payload`` instead.
    :ivar esm_class_udhi: whether the caller must set ``esm_class`` bit 0x40.
    :ivar sar: ``(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`` for the SAR TLVs,
        or ``None``.
    """

    data_coding: int
    short_message: bytes
    esm_class_udhi: bool = False
    sar: tuple[int, int, int] | None = None


def _check_mode(mode: str, ref_bits: int) -> None:
    if mode not in ("udh", "sar", "payload"):
        raise ValueError(f"mode must be 'udh', 'sar' or 'payload', not {mode!r}")
    if ref_bits not in (8, 16):
        raise ValueError(f"ref_bits must be 8 or 16, not {ref_bits}")


def _fits_one(encoded: bytes, data_coding: int) -> bool:
    return len(encoded) <= _SINGLE[data_coding] * _UNIT_OCTETS[data_coding]


def _part_units(data_coding: int, mode: str, ref_bits: int) -> int:
    if mode == "sar":
        return _SINGLE[data_coding]
    return _UDH_PART[data_coding][ref_bits]


def _segment_ends(encoded: bytes, data_coding: int, units: int) -> list[int]:
    """Return the end offset of each segment of ``encoded``, at most ``units`` units long."""
    width = _UNIT_OCTETS[data_coding]
    size = units * width
    length = len(encoded)
    ends: list[int] = []
    start = 0
    while start < length:
        end = start + size
        if end >= length:
            end = length
        elif data_coding == DATA_CODING_GSM:
            # Our encoder never emits ESC except as the lead of a pair, so an ESC in the last
            # position means the pair straddles the cut.
            if encoded[end - 1] == ESC:
                end -= 1
        elif width == 2 and 0xD8 <= encoded[end - 2] <= 0xDB:
            # The last unit is a high surrogate: its low half would start the next segment and
            # both segments would show a replacement character.
            end -= 2
        ends.append(end)
        start = end
    return ends


def split_text(
    text: str, *, ref: int, mode: Mode = "udh", ref_bits: int = 8, alphabet: Alphabet = "gsm"
) -> list[Part]:
    """Encode a text and cut it into segments.

    A text that fits one message (160 septets or 70 UCS2 units) gives one part with neither UDH
    nor SAR, whatever the mode except ``"payload"``, which always gives exactly one part.

    :param text: the text to send.
    :param ref: the concatenation reference: 0-255 (``ref_bits=8``) or 0-65535 (``ref_bits=16``)
        in mode ``"udh"``; 0-65535 in mode ``"sar"`` (``sar_msg_ref_num`` is two octets, so
        ``ref_bits`` is ignored there); unused in mode ``"payload"``.
    :param mode: ``"udh"``, ``"sar"`` or ``"payload"`` (see the module docstring).
    :param ref_bits: 8 or 16, the width of the UDH reference.
    :param alphabet: ``gsm`` (GSM 03.38 as data_coding 0, else UCS2) or ``latin-1``
        (Latin-1 as data_coding 3, 140 octets a message, else UCS2) or ``ascii`` (IA5 as
        data_coding 1, 159 octets a message as CMPP allows, else UCS2).
    :returns: the parts in order.
    :raises TextTooLong: if more than 255 segments, or more than 65535 payload octets, are needed.
    :raises ValueError: if ``mode``, ``ref_bits`` or ``ref`` is out of range.
    """
    _check_mode(mode, ref_bits)
    ref_limit = 1 << (ref_bits if mode == "udh" else 16)
    if mode != "payload" and not 0 <= ref < ref_limit:
        raise ValueError(f"ref must be 0..{ref_limit - 1} in mode {mode!r}, not {ref}")
    data_coding, encoded = encode_text(text, alphabet)
    if mode == "payload":
        if len(encoded) > MAX_PAYLOAD_OCTETS:
            raise TextTooLong(f"{len(encoded)} octets exceed message_payload's {MAX_PAYLOAD_OCTETS}")
        return [Part(data_coding=data_coding, short_message=encoded)]
    if _fits_one(encoded, data_coding):
        return [Part(data_coding=data_coding, short_message=encoded)]
    ends = _segment_ends(encoded, data_coding, _part_units(data_coding, mode, ref_bits))
    total = len(ends)
    if total > MAX_PARTS:
        raise TextTooLong(f"the text needs {total} segments; at most {MAX_PARTS} can be concatenated")
    parts: list[Part] = []
    start = 0
    for seq, end in enumerate(ends, start=1):
        chunk = encoded[start:end]
        start = end
        if mode == "udh":
            header = build_concat_udh(ref, total, seq, ref_bits)
            parts.append(Part(data_coding=data_coding, short_message=header + chunk, esm_class_udhi=True))
        else:
            parts.append(Part(data_coding=data_coding, short_message=chunk, sar=(ref, total, seq)))
    return parts


def count_parts(text: str, mode: Mode = "udh", *, ref_bits: int = 8) -> int:
    """Count the segments :func:`split_text` would produce, without building them.

    :param text: the text to measure.
    :param mode: ``"udh"``, ``"sar"`` or ``"payload"``.
    :param ref_bits: 8 or 16, the width of the UDH reference (mode ``"udh"`` only).
    :returns: the number of segments; it may exceed 255, which :func:`split_text` would refuse.
    :raises ValueError: if ``mode`` or ``ref_bits`` is out of range.
    """
    _check_mode(mode, ref_bits)
    data_coding, encoded = encode_text(text)
    if mode == "payload" or _fits_one(encoded, data_coding):
        return 1
    return len(_segment_ends(encoded, data_coding, _part_units(data_coding, mode, ref_bits)))
