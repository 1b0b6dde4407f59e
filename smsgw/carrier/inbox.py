"""A handset's inbox (or sent box) read a page at a time, and what is new in it since the last read.

A page is the messages whose ``cursor`` (the position of their last part) is above ``after``,
read from at most :data:`PAGE_PARTS` parts: the cost of a read does not grow with the inbox.
Positions are arrival order (``seen``) for received parts, rows for sent ones.

**Concatenated messages across a boundary come out whole.** A message is shown at the
page holding its last part. Its earlier parts may lie at or below ``after``; every part of
one message arrives within ``timeout`` of its first (the reassembly window,
:mod:`smsgw.text.reassembly`), so the page also reads back, from ``after`` down, the parts
that may be segments and arrived within ``timeout`` before its first part (none when the page
holds no segment: a single never needs its past). At the other end, a message that may still
gain parts beyond the page (its window was open when the part after the page arrived) is left
to the next page: this page ends below its last part, so the next one reads it again, grown or
not. When it is the page's first message, the page reads on (past :data:`PAGE_PARTS`) until
its window closes.

The web's long polls (:class:`smsgw.web.inbox.InboxFeed`) read what is new through a
:class:`BoxReader` once per change, for every waiter.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from smsgw.store.interface import MessageStore
from smsgw.store.records import MessageRecord
from smsgw.text.reassembly import InboxMessage, ReceivedPart, assemble

#: Parts read for one page (about 10 ms of reassembly); more only while its first message may grow.
PAGE_PARTS = 1000

#: esm_class bit "UDH indicator": the body may carry a concatenation header.
_UDHI = 0x40

Coding = Callable[[MessageRecord], int]


@attrs.frozen
class Page:
    """One read of a phone's box.

    :ivar after: where the page starts (for the newest page, below its first part).
    :ivar messages: the messages whose cursor is in (``after``, ``end``], by cursor.
    :ivar end: the position this page shows up to: the next page's ``after``.
    :ivar more: whether parts above ``end`` are stored.
    :ivar pending: the lowest position above ``after`` of a part not shown yet because its
        concatenated message may still fill up, or None.
    """

    after: int
    messages: list[InboxMessage]
    end: int
    more: bool
    pending: int | None


def _position(record: MessageRecord) -> int:
    return record.seen if record.direction == "MT" and record.seen is not None else record.id


def _time(record: MessageRecord) -> float:
    if record.direction == "MT" and record.done_at is not None:
        return record.done_at
    return record.submitted_at


def _segment(record: MessageRecord) -> bool:
    """Whether the part may belong to a concatenated message."""
    return bool(record.esm_class & _UDHI) or record.sar_ref is not None


def received(record: MessageRecord, data_coding: int) -> ReceivedPart:
    """One stored part as the phone holds it; parts count in the phone's order."""
    ref, total, seq = record.sar_ref, record.sar_total, record.sar_seq
    # The store keeps the three SAR TLVs together: all of them or none.
    sar = (ref, total, seq) if ref is not None and total is not None and seq is not None else None
    peer = record.source_addr if record.direction == "MT" else record.dest_addr
    return ReceivedPart(
        _position(record),
        record.message_id,
        peer,
        data_coding,
        record.esm_class,
        record.body,
        sar,
        _time(record),
    )


@attrs.define
class BoxReader:
    """Reads pages of one phone's box.

    :param store: the store (``handset_parts``, ``handset_parts_back``).
    :param coding: the data_coding a stored part is decoded with (the account's default alphabet).
    :param timeout: the reassembly window, seconds (``network.concat_timeout``).
    """

    store: MessageStore
    msisdn: str
    direction: str
    coding: Coding
    now: Callable[[], float]
    timeout: float
    floor: int = 0  # the inbox's cleared point: nothing at or below it shows

    def page(self, after: int, *, newest: bool = False, parts: int = PAGE_PARTS) -> Page:
        """The messages after ``after``, oldest first; with ``newest``, the last page of the box."""
        after = max(after, self.floor)
        store = self.store
        if newest:
            head = store.handset_parts(self.msisdn, self.direction, after, parts, newest=True)
            if head:
                after = _position(head[0]) - 1
            following = None
        else:
            head = store.handset_parts(self.msisdn, self.direction, after, parts + 1)
            following = head[parts] if len(head) > parts else None
            head = head[:parts]
        if not head:
            return Page(after, [], after, False, None)
        back: list[MessageRecord] = []
        if any(_segment(record) for record in head):
            since = _time(head[0]) - self.timeout
            for record in store.handset_parts_back(self.msisdn, self.direction, after, self.floor):
                if _time(record) < since:
                    break
                if _segment(record):
                    back.append(record)
        now = self.now()
        assembled = assemble(
            (received(record, self.coding(record)) for record in (*back, *head)),
            now=now,
            timeout=self.timeout,
        )
        end = _position(head[-1])
        shown = [m for m in assembled if m.cursor > after]
        placed = {part.row for m in shown for part in m.parts}
        if following is not None:
            # A message whose window was still open when the next part arrived may continue
            # there. The page ends below it, so the next page reads it again (whole, or as it
            # stays): a page that ended above it would leave it to a page that starts past it.
            horizon = _time(following)
            open_ = [m.cursor for m in shown if not m.complete and _first_time(m) + self.timeout > horizon]
            if open_:
                below = [_position(r) for r in head if _position(r) < min(open_)]
                if not below:
                    # It is the page's first message: only more parts can tell how it ends.
                    return self.page(after, parts=parts * 2)
                end = below[-1]
                shown = [m for m in shown if m.cursor <= end]
        waiting = [
            _position(r)
            for r in head
            if _position(r) not in placed and _segment(r) and _time(r) + self.timeout > now
        ]
        return Page(after, shown, end, following is not None, min(waiting) if waiting else None)


def _first_time(message: InboxMessage) -> float:
    return min(part.received_at for part in message.parts)
