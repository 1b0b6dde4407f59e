"""Reassemble received SMS parts into the messages a handset shows (3GPP TS 23.040 §9.2.3.24.1).

The network stores every received part as one row; a phone shows the parts of a concatenated
message as one message. :func:`assemble` turns rows into :class:`InboxMessage` values. It is pure:
the clock comes in as ``now`` and the same rows always give the same inbox.

Theory of operation
-------------------

**Classifying a part.** When ``esm_class`` has UDHI (0x40) the body is split with
:func:`~smsgw.text.udh.split_udh`. A concatenation IE makes the part a segment of kind
``"udh8"`` or ``"udh16"``. Otherwise, valid SAR TLVs (``1 <= seq <= total``) make it a segment of
kind ``"sar"``; the UDH, if any, is still stripped. Anything else is a single message: no UDHI and
no SAR, a UDH without a concatenation IE (stripped), or a malformed UDH (:class:`InvalidUdh`; the
body is shown whole because there is no telling where the header ends). A UDH concatenation IE
wins over SAR TLVs on the same part; SMPP forbids the combination and Kannel rejects it, but the
inbox must still show something.

**Grouping.** Segments are grouped by ``(sender, kind, reference, total)``. Parts are taken in
``row`` order (arrival order), and each key has at most one *open* group, the newest. A segment
with sequence number ``seq`` and ``received_at = t`` joins the open group ``G`` of its key, unless
one of these holds, in this order:

1. ``t - G.first.received_at >= timeout``: ``G``'s window is over; the part starts a new group.
2. ``G`` is complete: the reference is being reused; the part starts a new group.
3. ``G`` already holds ``seq`` with the same ``data_coding`` and the same payload octets: the
   part is a retransmission and is dropped (the first-arrived copy is kept; the dropped row counts
   for nothing, not even ``cursor``).
4. ``G`` already holds ``seq`` with a different payload: a different message reuses the reference;
   the part starts a new group.

A group started this way *replaces* ``G`` as the open group; ``G`` is closed and keeps what it has.
So a late part of ``G`` arriving after the replacement joins the new group (the rows cannot tell
the two apart), and a part arriving after ``G``'s window becomes a fragment of its own.

**Showing a group.** A complete group is shown at once. An incomplete one is hidden while
``now - first.received_at < timeout`` (the window above, so a hidden group can still fill up) and
shown afterwards with ``complete=False``.

**Text.** The payload octets of consecutive present segments are joined *before* decoding, so a
GSM escape pair or a UTF-16 surrogate pair cut by a careless splitter is put back together. Each
gap (one or more consecutive missing segments, leading and trailing ones included) becomes one
:data:`MISSING_MARKER`. A segment whose ``data_coding`` differs from its predecessor's starts a
new run: each run is decoded with its own coding and the texts are concatenated. A message's
``data_coding``, ``message_class`` and ``binary`` are those of its first-arrived part.

Sorting by row costs O(n log n); everything else is linear in the number of parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Final, Literal

import attrs

from smsgw.text.coding import DefaultAlphabet, decode_text, is_binary, message_class
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

__all__ = ["MISSING_MARKER", "ConcatKind", "InboxMessage", "PartInfo", "ReceivedPart", "assemble"]

MISSING_MARKER: Final = "[\u2026]"
"""What the text shows where one or more segments are missing: ``[…]``."""

ConcatKind = Literal["udh8", "udh16", "sar"]
"""How a message was concatenated: 8- or 16-bit-reference UDH, or SAR TLVs."""

# esm_class bit "UDH indicator"; smsgw.text may not import smsgw.smpp (tests/test_layering.py).
_UDHI: Final = 0x40

_GroupKey = tuple[str, ConcatKind, int, int]
"""``(sender, kind, reference, total)``."""

_Placement = Literal["join", "new", "drop"]


@attrs.frozen
class ReceivedPart:
    """One stored SMS part, as the network received it.

    :ivar row: the store's row id, increasing in arrival order.
    :ivar message_id: the id the SMSC gave this part.
    :ivar sender: ``source_addr``.
    :ivar data_coding: the SMPP ``data_coding`` octet.
    :ivar esm_class: the SMPP ``esm_class``; bit 0x40 (UDHI) says ``body`` starts with a UDH.
    :ivar body: ``short_message`` or ``message_payload``, UDH included when UDHI is set.
    :ivar sar: ``(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`` from the SAR TLVs,
        or ``None``.
    :ivar received_at: arrival time, epoch seconds.
    """

    row: int
    message_id: str
    sender: str
    data_coding: int
    esm_class: int
    body: bytes
    sar: tuple[int, int, int] | None
    received_at: float


@attrs.frozen
class PartInfo:
    """Where one present segment of an :class:`InboxMessage` came from.

    :ivar seq: its 1-based position in the message (1 for a single message).
    :ivar message_id: the SMSC's id for that part.
    :ivar row: its store row.
    :ivar received_at: its arrival time, epoch seconds.
    """

    seq: int
    message_id: str
    row: int
    received_at: float


@attrs.frozen
class InboxMessage:
    """One message as a handset's inbox shows it.

    :ivar id: the row of its first-arrived part; stable while more parts arrive.
    :ivar cursor: the highest row among its parts, for "messages after cursor" waits.
    :ivar sender: ``source_addr``.
    :ivar text: the decoded text, with :data:`MISSING_MARKER` for each gap when incomplete;
        lowercase hex for binary codings.
    :ivar data_coding: the ``data_coding`` of its first-arrived part.
    :ivar message_class: the 23.038 class (0 = flash) of that coding, or ``None``.
    :ivar binary: whether that coding is 8-bit data rather than text.
    :ivar parts: the segments present, in ``seq`` order.
    :ivar total: the segments expected (1 for a single message).
    :ivar complete: whether every segment is present.
    :ivar received_at: when its last part arrived (its only part's time for a single message).
    :ivar concat: ``"udh8"``, ``"udh16"``, ``"sar"``, or ``None`` for a single message.
    """

    id: int
    cursor: int
    sender: str
    text: str
    data_coding: int
    message_class: int | None
    binary: bool
    parts: tuple[PartInfo, ...]
    total: int
    complete: bool
    received_at: float
    concat: ConcatKind | None


@attrs.define
class _Group:
    """A message being assembled; mutable, private to :func:`assemble`."""

    kind: ConcatKind | None
    total: int
    first: ReceivedPart
    last: ReceivedPart
    segments: dict[int, tuple[ReceivedPart, bytes]]


def _classify(part: ReceivedPart) -> tuple[_GroupKey | None, int, bytes]:
    """Return a part's group key (``None`` for a single message), its seq and its payload."""
    payload = part.body
    if part.esm_class & _UDHI:
        try:
            udh, payload = split_udh(part.body)
        except InvalidUdh:
            # There is no telling where a broken header ends, so the whole body is shown rather
            # than guessing and cutting real text.
            return None, 1, part.body
        if udh.concat is not None:
            concat = udh.concat
            kind: ConcatKind = "udh8" if concat.ref_bits == 8 else "udh16"
            return (part.sender, kind, concat.reference, concat.total), concat.seqnum, payload
    if part.sar is not None:
        reference, total, seq = part.sar
        # The same sanity rule split_udh applies to a concatenation IE: a bad seq or total cannot
        # be placed in a message, so the part is shown on its own rather than lost.
        if 1 <= seq <= total:
            return (part.sender, "sar", reference, total), seq, payload
    return None, 1, payload


def _placement(group: _Group, part: ReceivedPart, seq: int, payload: bytes, timeout: float) -> _Placement:
    """Apply the grouping rules of the module docstring to a segment and its key's open group."""
    if part.received_at - group.first.received_at >= timeout:
        return "new"
    if len(group.segments) == group.total:
        return "new"
    held = group.segments.get(seq)
    if held is None:
        return "join"
    held_part, held_payload = held
    if held_part.data_coding == part.data_coding and held_payload == payload:
        return "drop"
    return "new"


def _text(group: _Group, default_alphabet: DefaultAlphabet) -> str:
    """Decode a group's text: runs of consecutive same-coding segments, markers for gaps."""
    pieces: list[str] = []
    run: list[bytes] = []
    run_coding = 0
    previous = 0
    for seq in sorted(group.segments):
        part, payload = group.segments[seq]
        if run and (seq != previous + 1 or part.data_coding != run_coding):
            pieces.append(decode_text(b"".join(run), run_coding, default_alphabet=default_alphabet))
            run = []
        if seq != previous + 1:
            pieces.append(MISSING_MARKER)
        run.append(payload)
        run_coding = part.data_coding
        previous = seq
    if run:
        pieces.append(decode_text(b"".join(run), run_coding, default_alphabet=default_alphabet))
    if previous != group.total:
        pieces.append(MISSING_MARKER)
    return "".join(pieces)


def _part_info(seq: int, part: ReceivedPart) -> PartInfo:
    """Describe one present segment."""
    return PartInfo(seq=seq, message_id=part.message_id, row=part.row, received_at=part.received_at)


def _message(group: _Group, default_alphabet: DefaultAlphabet) -> InboxMessage:
    """Build the inbox view of a group."""
    seqs = sorted(group.segments)
    coding = group.first.data_coding
    return InboxMessage(
        id=group.first.row,
        cursor=group.last.row,
        sender=group.first.sender,
        text=_text(group, default_alphabet),
        data_coding=coding,
        message_class=message_class(coding),
        binary=is_binary(coding),
        parts=tuple(_part_info(seq, group.segments[seq][0]) for seq in seqs),
        total=group.total,
        complete=len(seqs) == group.total,
        received_at=group.last.received_at,
        concat=group.kind,
    )


def assemble(
    parts: Iterable[ReceivedPart],
    *,
    now: float,
    timeout: float = 60.0,
    default_alphabet: DefaultAlphabet = "gsm",
) -> list[InboxMessage]:
    """Turn stored SMS parts into the messages a handset's inbox shows.

    The grouping, duplicate, timeout and decoding rules are those of the module docstring.

    :param parts: the stored parts of one inbox (or any set of senders), in any order; they are
        taken in ``row`` order.
    :param now: the current time, epoch seconds, from the injected clock.
    :param timeout: seconds after a group's first part during which further parts may join it and
        an incomplete group stays hidden.
    :param default_alphabet: what ``data_coding = 0`` means on this network.
    :returns: complete messages, and incomplete ones whose window is over, ordered by
        ``cursor`` and then ``id``.
    :raises ValueError: if ``timeout`` is not positive, or ``default_alphabet`` is unknown.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    if default_alphabet != "gsm" and default_alphabet != "latin-1":
        # decode_text would say so too, but only once some part needs decoding; a configuration
        # error should not depend on what is in the inbox.
        raise ValueError(f"default_alphabet must be 'gsm' or 'latin-1', not {default_alphabet!r}")
    groups: list[_Group] = []
    open_groups: dict[_GroupKey, _Group] = {}
    for part in sorted(parts, key=attrgetter("row")):
        key, seq, payload = _classify(part)
        if key is None:
            groups.append(_Group(kind=None, total=1, first=part, last=part, segments={1: (part, payload)}))
            continue
        group = open_groups.get(key)
        placement = "new" if group is None else _placement(group, part, seq, payload, timeout)
        if placement == "drop":
            continue
        if placement == "new" or group is None:
            group = _Group(kind=key[1], total=key[3], first=part, last=part, segments={})
            groups.append(group)
            open_groups[key] = group
        group.segments[seq] = (part, payload)
        group.last = part
    shown = (
        group
        for group in groups
        if len(group.segments) == group.total or now - group.first.received_at >= timeout
    )
    messages = [_message(group, default_alphabet) for group in shown]
    messages.sort(key=lambda message: (message.cursor, message.id))
    return messages
