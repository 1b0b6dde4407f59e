"""smsgw.carrier.inbox without I/O: a real in-memory store, hand-made rows and an injected clock.

Positions (``seen``) are network-wide, so another phone's parts are stored in between to leave
gaps, and row ids run against arrival order: a page that followed ids instead of ``seen`` would
come out reversed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, task

from smsgw.carrier.events import EventBus, MessageStateChanged
from smsgw.carrier.inbox import BoxReader, Page, received
from smsgw.smpp.constants import MessageState
from smsgw.store.records import MessageRecord
from smsgw.store.sqlite import SqliteStore
from smsgw.text.reassembly import MISSING_MARKER, InboxMessage, assemble
from smsgw.text.udh import build_concat_udh
from smsgw.web.inbox import InboxFeed
from smsgw.web.waiting import InboxWaiters

T0 = 1_700_000_000.0
TIMEOUT = 60.0
PHONE = "8613800000007"
OTHER = "8613800000008"
BANK = "95588"
SHOP = "10690"
UDHI = 0x40


class CountingStore:
    """The real store, counting the reads the inbox makes of it."""

    def __init__(self) -> None:
        self.store = SqliteStore(":memory:")
        self.heads = 0
        self.backs = 0

    def handset_parts(self, *args: Any, **kwargs: Any) -> list[MessageRecord]:
        self.heads += 1
        return self.store.handset_parts(*args, **kwargs)

    def handset_parts_back(self, *args: Any, **kwargs: Any) -> Any:
        self.backs += 1
        return self.store.handset_parts_back(*args, **kwargs)


class Box:
    """Parts as they reach the phones: each takes the next network-wide position."""

    def __init__(self) -> None:
        self.store = CountingStore()
        self.now = T0
        self.seen = 0
        self.parts: list[MessageRecord] = []

    def deliver(
        self, body: bytes, *, at: float, esm_class: int = 0, sender: str = BANK, phone: str = PHONE
    ) -> int:
        self.seen += 1
        row = 100_000 - self.seen
        record = MessageRecord(
            row, f"{row:08x}", "esme", "MT", phone, "", 0, 0, sender, 1, 1, phone, esm_class,
            0, 0, 1, 0, body, None, None, None, at - 0.5, None, at + 86400.0,
            int(MessageState.DELIVRD), at, 0, None, 0, 0.0, self.seen,
        )  # fmt: skip
        self.store.store.insert_message(record.as_row())
        if phone == PHONE:
            self.parts.append(record)
        return self.seen

    def single(self, text: str, *, at: float, sender: str = BANK) -> int:
        return self.deliver(text.encode("ascii"), at=at, sender=sender)

    def segment(self, text: str, *, ref: int, total: int, seq: int, at: float, sender: str = BANK) -> int:
        body = build_concat_udh(ref, total, seq) + text.encode("ascii")
        return self.deliver(body, at=at, esm_class=UDHI, sender=sender)

    def noise(self, *, at: float) -> int:
        """A part for another phone: it takes a position this phone never sees."""
        return self.deliver(b"not yours", at=at, phone=OTHER)

    def reader(self, floor: int = 0, now: Callable[[], float] | None = None) -> BoxReader:
        now = now or (lambda: self.now)
        return BoxReader(self.store, PHONE, "MT", lambda r: r.data_coding, now, TIMEOUT, floor)

    def whole(self) -> list[InboxMessage]:
        """The inbox read in one go, with nothing paged: what the pages must add up to."""
        return assemble([received(r, r.data_coding) for r in self.parts], now=self.now, timeout=TIMEOUT)


def pages(reader: BoxReader, parts: int, after: int = 0) -> list[Page]:
    """Every page from ``after`` to the end of the box, as a client following ``end`` reads them."""
    read: list[Page] = []
    while True:
        page = reader.page(after, parts=parts)
        assert page.end >= after
        read.append(page)
        if not page.more:
            return read
        # A page that does not move on would be read forever by InboxFeed.update.
        assert page.end > after, f"page after {after} with more stays at {page.end}"
        after = page.end


def shown(read: list[Page]) -> list[tuple[int, str, bool]]:
    return [(m.cursor, m.text, m.complete) for page in read for m in page.messages]


def view(messages: list[InboxMessage]) -> list[tuple[int, str, bool]]:
    return [(m.cursor, m.text, m.complete) for m in messages]


# -- paging ---------------------------------------------------------------------------


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 100])
def test_pages_of_singles_reach_every_message_once_in_arrival_order(parts: int) -> None:
    box = Box()
    positions = []
    for i in range(7):
        box.noise(at=T0 + i)
        positions.append(box.single(f"text {i}", at=T0 + i))
    box.now = T0 + 10

    read = pages(box.reader(), parts)

    assert [text for _, text, _ in shown(read)] == [f"text {i}" for i in range(7)]
    assert [cursor for cursor, _, _ in shown(read)] == positions
    assert [page.more for page in read] == [True] * (len(read) - 1) + [False]
    assert len(read) == -(-7 // parts)
    assert read[-1].end == positions[-1]
    # Singles never need their past: paging them reads no part twice.
    assert box.store.backs == 0


def test_a_page_after_the_last_part_is_empty_and_stays_where_it_was_asked() -> None:
    box = Box()
    last = box.single("only", at=T0)
    box.noise(at=T0 + 1)

    page = box.reader().page(last)

    assert page == Page(last, [], last, False, None)


def test_nothing_at_or_below_the_cleared_point_shows() -> None:
    box = Box()
    box.single("old", at=T0)
    cleared = box.single("old too", at=T0 + 1)
    box.single("new", at=T0 + 2)

    page = box.reader(floor=cleared).page(0)

    assert [m.text for m in page.messages] == ["new"]
    assert page.after == cleared


# -- concatenated messages across a page boundary ---------------------------------------


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("later", [30.0, 1000.0], ids=["in-window", "long-after"])
def test_a_concatenated_message_across_a_boundary_shows_whole_once_on_its_last_parts_page(
    parts: int, later: float
) -> None:
    box = Box()
    box.single("before", at=T0)
    box.segment("Your code ", ref=7, total=3, seq=1, at=T0 + 1)
    box.noise(at=T0 + 1)
    box.segment("is 4711, ", ref=7, total=3, seq=2, at=T0 + 2)
    box.single("between", at=T0 + 3, sender=SHOP)
    last = box.segment("valid 5 min", ref=7, total=3, seq=3, at=T0 + 4)
    box.single("after", at=T0 + 5)
    box.now = T0 + later

    read = pages(box.reader(), parts)

    whole = [(p.after, p.end, m) for p in read for m in p.messages if m.total == 3]
    assert len(whole) == 1
    after, end, message = whole[0]
    assert message.text == "Your code is 4711, valid 5 min"
    assert message.complete and message.cursor == last
    assert after < last <= end
    assert [m.text for p in read for m in p.messages] == ["before", "between", whole[0][2].text, "after"]


def test_the_newest_page_reads_back_the_earlier_parts_of_its_first_message() -> None:
    box = Box()
    box.single("old", at=T0)
    box.segment("Hello ", ref=9, total=3, seq=1, at=T0 + 1)
    box.segment("there, ", ref=9, total=3, seq=2, at=T0 + 2)
    last = box.segment("friend", ref=9, total=3, seq=3, at=T0 + 3)
    box.now = T0 + 4

    page = box.reader().page(0, newest=True, parts=2)

    assert [m.text for m in page.messages] == ["Hello there, friend"]
    assert page.end == last and not page.more


# -- the reassembly window --------------------------------------------------------------


def test_an_incomplete_message_is_pending_in_its_window_and_shown_incomplete_after() -> None:
    box = Box()
    box.single("hi", at=T0)
    first = box.segment("Part one ", ref=3, total=3, seq=1, at=T0 + 1)
    second = box.segment("part two ", ref=3, total=3, seq=2, at=T0 + 2)
    reader = box.reader()

    box.now = T0 + 1 + TIMEOUT - 0.001
    waiting = reader.page(0)
    assert [m.text for m in waiting.messages] == ["hi"]
    assert waiting.pending == first
    assert waiting.end == second  # the feed re-reads from pending, not from here

    box.now = T0 + 1 + TIMEOUT
    late = reader.page(0)
    assert [(m.text, m.complete) for m in late.messages] == [
        ("hi", True),
        (f"Part one part two {MISSING_MARKER}", False),
    ]
    assert late.pending is None


def test_an_incomplete_message_whose_window_closed_is_not_lost_at_a_page_boundary() -> None:
    # Parts 1-2 of 3 end one page; a single arriving inside their window starts the next. The
    # message may still have gained part 3 beyond the page, so the first page leaves it; the
    # next page must then show it, or no page ever does.
    box = Box()
    box.segment("Part one ", ref=5, total=3, seq=1, at=T0)
    box.segment("part two ", ref=5, total=3, seq=2, at=T0 + 1)
    box.single("unrelated", at=T0 + 2, sender=SHOP)
    box.now = T0 + 1000

    read = pages(box.reader(), parts=2)

    assert shown(read) == view(box.whole())
    assert [m.text for p in read for m in p.messages] == [f"Part one part two {MISSING_MARKER}", "unrelated"]


def test_a_page_whose_first_message_may_continue_reads_on_until_its_window_closes() -> None:
    # With one part a page, the message's first part is the whole page and the single after it
    # arrived inside its window: no page boundary below it would make progress.
    box = Box()
    box.segment("Part one ", ref=6, total=3, seq=1, at=T0)
    box.single("unrelated", at=T0 + 1, sender=SHOP)
    box.segment("part two ", ref=6, total=3, seq=2, at=T0 + 2)
    box.single("later", at=T0 + TIMEOUT + 1, sender=SHOP)
    box.now = T0 + 1000

    read = pages(box.reader(), parts=1)

    assert shown(read) == view(box.whole())
    assert [m.text for p in read for m in p.messages] == [
        "unrelated",
        f"Part one part two {MISSING_MARKER}",
        "later",
    ]


# Inboxes whose messages each arrive within their window, in arrival order, interleaved.
_message = st.tuples(
    st.sampled_from([BANK, SHOP]),
    st.integers(1, 3),  # parts
    st.integers(0, 2),  # parts that never arrive (capped below the total)
    st.floats(0.0, 20.0),  # seconds between this message's first part and the previous one's
)


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(_message, min_size=1, max_size=6),
    spread=st.floats(0.0, 25.0),
    parts=st.integers(1, 6),
    later=st.sampled_from([5.0, 30.0, 59.0, 61.0, 200.0]),
    seed=st.randoms(use_true_random=False),
)
def test_pages_add_up_to_the_whole_inbox(
    messages: list[tuple[str, int, int, float]], spread: float, parts: int, later: float, seed: Any
) -> None:
    box = Box()
    arrivals: list[tuple[float, int, str, int, int, int]] = []
    at = T0
    for ref, (sender, total, lost, gap) in enumerate(messages):
        at += gap
        kept = range(1, total + 1 - min(lost, total - 1))
        for seq in seed.sample(list(kept), len(kept)):
            arrivals.append((at + seed.uniform(0.0, spread), ref, sender, total, seq, len(arrivals)))
    arrivals.sort()
    for when, ref, sender, total, seq, _ in arrivals:
        text = f"m{ref}s{seq} "
        if total == 1:
            box.single(text, at=when, sender=sender)
        else:
            box.segment(text, ref=ref, total=total, seq=seq, at=when, sender=sender)
        if seed.random() < 0.3:
            box.noise(at=when)
    box.now = arrivals[-1][0] + later

    assert shown(pages(box.reader(), parts)) == view(box.whole())


# -- the newest page and waits ------------------------------------------------------------


def test_the_newest_page_holds_the_newest_messages_and_the_cursor_waits_start_from() -> None:
    box = Box()
    for i in range(5):
        box.single(f"text {i}", at=T0 + i)
    last = box.noise(at=T0 + 5) - 1
    reader = box.reader()

    newest = reader.page(0, newest=True, parts=2)

    assert [m.text for m in newest.messages] == ["text 3", "text 4"]
    assert newest.end == last and not newest.more
    assert newest.after == newest.messages[0].cursor - 1
    box.single("text 5", at=T0 + 6)
    assert [m.text for m in reader.page(newest.end).messages] == ["text 5"]


def test_the_newest_page_of_an_empty_box_starts_at_the_cleared_point() -> None:
    box = Box()
    cleared = box.single("gone", at=T0)

    page = box.reader(floor=cleared).page(0, newest=True)

    assert page == Page(cleared, [], cleared, False, None)


class Waiter:
    """A long poll as the inbox handler makes it: new messages from a sender, else nothing."""

    def __init__(self, since: int, sender: str | None = None) -> None:
        self.since = since
        self.sender = sender
        self.offered: list[list[InboxMessage]] = []
        self.answer: list[str] | None = None

    def check(self, fresh: list[InboxMessage]) -> list[str] | None:
        self.offered.append(fresh)
        news = [
            m.text
            for m in fresh
            if m.cursor > self.since and (self.sender is None or m.sender == self.sender)
        ]
        return news or None

    def done(self, answer: list[str]) -> None:
        self.answer = answer


def waiting_room(box: Box, reads: Any = None) -> tuple[InboxWaiters, EventBus, task.Clock]:
    clock = task.Clock()
    clock.advance(box.now)
    events = EventBus()
    if reads is not None:
        return InboxWaiters(clock, events, reads=reads), events, clock
    return InboxWaiters(clock, events), events, clock


def wait(waiters: InboxWaiters, reader: BoxReader, after: int, sender: str | None = None) -> Waiter:
    page = reader.page(after)
    feed = waiters.feed(PHONE, lambda: InboxFeed(reader, page.end))
    feed.note(page)
    waiter = Waiter(page.after, sender)
    waiters.wait(PHONE, waiter.check, 300.0, lambda: ["timed out"], fed=True).addCallback(waiter.done)
    return waiter


def delivered(events: EventBus) -> None:
    events.emit(MessageStateChanged("0", "esme", "MT", PHONE, "DELIVRD"))


def test_one_change_is_read_once_for_every_waiter_and_each_sees_only_what_is_new() -> None:
    box = Box()
    box.single("old from the bank", at=T0)
    cursor = box.single("old from the shop", at=T0 + 1, sender=SHOP)
    box.now = T0 + 2
    reader = box.reader()
    waiters, events, clock = waiting_room(box)
    bank, shop, anyone = (wait(waiters, reader, cursor, s) for s in (BANK, SHOP, None))

    box.store.heads = box.store.backs = 0
    clock.advance(5)  # the once-a-second checks read nothing: no part is hidden
    assert (box.store.heads, box.store.backs) == (0, 0)

    box.single("new from the bank", at=box.now)
    delivered(events)
    delivered(events)  # several events in one turn are one change
    clock.advance(0)

    assert box.store.heads == 1
    assert bank.answer == ["new from the bank"]
    assert anyone.answer == ["new from the bank"]
    assert shop.answer is None
    assert [[m.text for m in fresh] for fresh in shop.offered] == [["new from the bank"]]

    box.single("new from the shop", at=box.now, sender=SHOP)
    delivered(events)
    clock.advance(0)

    assert box.store.heads == 2
    assert shop.answer == ["new from the shop"]
    assert [m.text for m in shop.offered[-1]] == ["new from the shop"]
    assert waiters.waiting == 0


def test_a_waiter_sees_a_concatenated_message_once_it_fills_up_or_its_window_closes() -> None:
    box = Box()
    cursor = box.single("old", at=T0)
    waiters, events, clock = waiting_room(box)
    reader = box.reader(now=clock.seconds)
    complete, incomplete = wait(waiters, reader, cursor, BANK), wait(waiters, reader, cursor, SHOP)

    box.segment("Hello ", ref=1, total=2, seq=1, at=clock.seconds())
    box.segment("Soon ", ref=2, total=2, seq=1, at=clock.seconds(), sender=SHOP)
    delivered(events)
    clock.advance(0)
    assert complete.answer is None and incomplete.answer is None

    clock.advance(1)
    box.segment("world", ref=1, total=2, seq=2, at=clock.seconds())
    delivered(events)
    clock.advance(0)
    assert complete.answer == ["Hello world"]
    assert incomplete.answer is None

    box.store.heads = 0
    clock.pump([1.0] * int(TIMEOUT - 2))
    assert incomplete.answer is None
    assert box.store.heads >= TIMEOUT - 3  # the hidden part makes every tick read
    clock.advance(1)
    assert incomplete.answer == [f"Soon {MISSING_MARKER}"]


def test_a_message_that_arrives_while_the_feed_is_read_elsewhere_is_read_after_it() -> None:
    """With a store read off the reactor, a feed has one read at a time: a delivery during it
    makes one more read once it is done, so no waiter misses the message."""
    box = Box()
    cursor = box.single("old", at=T0)
    box.now = T0 + 2
    elsewhere: list[tuple[Callable[[], Any], defer.Deferred[Any]]] = []

    def read_elsewhere(read: Callable[[], Any]) -> defer.Deferred[Any]:
        elsewhere.append((read, defer.Deferred()))
        return elsewhere[-1][1]

    waiters, events, clock = waiting_room(box, read_elsewhere)
    reader = box.reader()
    bank, shop = wait(waiters, reader, cursor, BANK), wait(waiters, reader, cursor, SHOP)

    box.single("from the bank", at=box.now)
    delivered(events)
    clock.advance(0)
    ((read, first),) = elsewhere
    found = read()  # the read runs before the shop's message lands...
    box.single("from the shop", at=box.now, sender=SHOP)
    delivered(events)
    clock.advance(0)
    assert len(elsewhere) == 1  # ...whose delivery waits for the read in flight
    first.callback(found)
    assert bank.answer == ["from the bank"] and shop.answer is None

    read, second = elsewhere[1]
    second.callback(read())
    assert shop.answer == ["from the shop"]
    assert waiters.waiting == 0
