"""Retention: old final messages go in small batches, owed ones and the newest never do."""

from __future__ import annotations

from pathlib import Path

from smsgw.carrier.clock import FakeClock
from smsgw.carrier.retention import LARGEST_BATCH, SMALLEST_BATCH, Keep, Retention
from smsgw.store.records import PruneBatch, PruneDone
from smsgw.store.sqlite import SqliteStore
from tests.carrier.helpers import Link, make_carrier, submit
from tests.store.test_stores import row

PHONE = "8613800000001"
DELIVRD, ENROUTE = 2, 1
DAY = 86400.0


def _store(
    path: str = ":memory:", count: int = 3000, owed: set[int] = frozenset(), ended: float = 0.0
) -> SqliteStore:
    store = SqliteStore(path)
    for n in range(1, count + 1):
        fields = {"state": ENROUTE} if n in owed else {"state": DELIVRD, "done_at": ended + n, "seen": n}
        store.insert_message(row(n, PHONE, body=b"x" * 200, **fields))
    store.commit()
    return store


def _retention(
    store: SqliteStore, wall: FakeClock, *, days: float = 0, messages: int = 0, newest: int = 3000
) -> Retention:
    return Retention(
        store,
        keep_days=days,
        keep_messages=messages,
        newest=lambda: newest,
        last_arrival=lambda: newest,
        wall=wall.now,
    )


def _run(retention: Retention, ticks: int = 200) -> None:
    for _ in range(ticks):
        retention.tick()


def _kept(store: SqliteStore) -> list[int]:
    return [r[0] for r in store._read("SELECT id FROM messages ORDER BY id")]


def test_beyond_the_count_the_oldest_final_messages_go_and_owed_ones_stay() -> None:
    store = _store(owed={5, 1500})
    retention = _retention(store, FakeClock(), messages=1000)
    _run(retention)
    assert _kept(store) == [5, 1500, *range(2001, 3001)]
    assert retention.pruned == {"count": 1998, "age": 0}


def test_past_the_age_final_messages_go_by_the_wall_clock() -> None:
    """A message ended 8 days ago goes with keep_days 7; the carrier's or a namespace's clock
    jumping ahead changes nothing (tests move those, not the wall clock)."""
    wall = FakeClock(start=100 * DAY)
    store = _store(count=10, ended=wall.now() - 8 * DAY)
    for n in (11, 12):
        store.insert_message(row(n, PHONE, state=DELIVRD, done_at=wall.now() - DAY, seen=n))
    store.commit()
    retention = _retention(store, wall, days=7, newest=12)
    _run(retention)
    assert _kept(store) == [11, 12] and retention.pruned["age"] == 10


def test_the_next_age_pass_waits_a_while_and_finds_messages_that_grew_old() -> None:
    wall = FakeClock(start=100 * DAY)
    store = _store(count=10, ended=wall.now() - DAY)
    retention = _retention(store, wall, days=7, newest=10)
    _run(retention)
    assert len(_kept(store)) == 10
    wall.advance(7 * DAY)
    _run(retention)
    assert _kept(store) == [10]  # the newest stays


class _TimedStore:
    """A store whose batches take what the test says."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked: list[PruneBatch] = []

    def prune_later(self, batch: PruneBatch, then: object) -> None:
        self.asked.append(batch)
        then(PruneDone(0, batch.after + batch.rows, self.seconds))  # type: ignore[operator]

    def compact(self, pages: int) -> int:
        return 0


def test_a_batch_takes_about_five_milliseconds_whatever_the_rows_cost() -> None:
    slow = _TimedStore(seconds=0.050)
    retention = Retention(
        slow,
        keep_days=0,
        keep_messages=1000,
        newest=lambda: 10**7,
        last_arrival=lambda: 1,
        wall=FakeClock().now,  # type: ignore[arg-type]
    )
    _run(retention, 5)
    assert [b.rows for b in slow.asked[:3]] == [1000, 100, SMALLEST_BATCH]
    fast = _TimedStore(seconds=0.0001)
    retention.store = fast  # type: ignore[assignment]
    _run(retention, 5)
    assert fast.asked[-1].rows == LARGEST_BATCH


def test_pruned_pages_go_back_to_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "smsgw.db"
    store = _store(str(path), count=3000)
    full, _ = store.store_size()
    retention = _retention(store, FakeClock(), messages=1000)
    _run(retention, 400)
    size, free = store.store_size()
    assert free == 0 and size < full / 2


def test_the_carrier_keeps_what_its_config_says_and_numbers_on_after_a_restart(tmp_path: Path) -> None:
    """Through the carrier: 1,200 delivered messages with keep 1,000 leave the newest 1,000;
    after a restart the next message_id is the next number, never one handed out before."""
    path = str(tmp_path / "smsgw.db")
    carrier = make_carrier(path, keep=Keep(messages=1000))
    link = Link(carrier)
    for sequence in range(1, 1201):
        link.send(submit(sequence=sequence, registered_delivery=0))
    link.read()
    for _ in range(50):
        carrier.tick()
    assert carrier.store.count_messages() == 1000
    assert carrier.retention.pruned["count"] == 200
    carrier.store.close()
    again = make_carrier(path, keep=Keep(messages=1000))
    link = Link(again)
    link.send(submit(sequence=1, registered_delivery=0))
    (resp,) = link.read()
    assert resp.message_id == "1201"


class _BrokenStore(_TimedStore):
    def prune_later(self, batch: PruneBatch, then: object) -> None:
        self.asked.append(batch)
        then(PruneDone(0, batch.after, 0.0, OSError("disk I/O error")))  # type: ignore[operator]


def test_a_failing_batch_is_asked_again_and_said_once() -> None:
    broken = _BrokenStore(0.0)
    retention = Retention(
        broken,  # type: ignore[arg-type]
        keep_days=0,
        keep_messages=1000,
        newest=lambda: 5000,
        last_arrival=lambda: 1,
        wall=FakeClock().now,
    )
    said: list[BaseException] = []
    retention.on_error = said.append
    _run(retention, 3)
    assert len(broken.asked) == 3 and {b.after for b in broken.asked} == {0}
    assert [str(e) for e in said] == ["disk I/O error"]
