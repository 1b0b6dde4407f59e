"""Retention: old final messages go in small batches, owed ones and the newest never do."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsgw.carrier.clock import FakeClock
from smsgw.carrier.retention import (
    BATCH_SECONDS,
    LARGEST_BATCH,
    SMALLEST_BATCH,
    Keep,
    Pruned,
    PruneRunning,
    Retention,
)
from smsgw.carrier.timeline import Timeline
from smsgw.store.interface import StoreError
from smsgw.store.records import PruneBatch, PruneDone, TimelineStep
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
    assert retention.pruned == {"count": 1998, "age": 0, "manual": 0}


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

    urgent = False  # no write queued that gates an answer

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked: list[PruneBatch] = []

    def prune_later(self, batch: PruneBatch, then: object) -> None:
        self.asked.append(batch)
        then(PruneDone(0, batch.after + batch.rows, self.seconds))  # type: ignore[operator]

    def compact(self, pages: int, *, last: bool = True) -> int:
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


def test_freed_pages_go_back_beside_the_batches_while_a_long_pass_goes_on(tmp_path: Path) -> None:
    """A pass over a million rows takes minutes: the file must not wait for its end to shrink."""
    store = _store(str(tmp_path / "smsgw.db"), count=3000)
    pages = store._read("PRAGMA page_count")[0][0]
    retention = _retention(store, FakeClock(), messages=1000)
    retention.tick()  # the first batch looks at 1000 of the 1999 rows to go
    assert 1000 < len(_kept(store)) < 3000, "the pass is not over yet"
    assert store.store_size()[1] == 0 and store._read("PRAGMA page_count")[0][0] < pages * 0.8


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


# -- a pass asked for by hand (DELETE /api/messages, smsgw prune) -------------------------


def test_a_manual_pass_runs_with_retention_off_and_keeps_what_is_owed_and_the_newest() -> None:
    """Retention off (keep nothing set): a manual pass still removes the final messages that
    ended before its cut, a batch a tick, and tells how many once it is done."""
    store = _store(count=3000, owed={5, 1500}, ended=1000.0)
    retention = _retention(store, FakeClock())
    told: list[Pruned] = []
    retention.prune_before(1000.0 + 2500.5, told.append)  # messages 1..2500 ended before it
    assert told == []  # a batch a tick, from the next one
    _run(retention, 10)
    assert told == [Pruned(2498)]
    assert _kept(store) == [5, 1500, *range(2501, 3001)]
    assert retention.pruned == {"count": 0, "age": 0, "manual": 2498}


def test_a_manual_pass_keeps_the_newest_and_the_last_arrival_whatever_its_cut() -> None:
    store = _store(count=10, ended=0.0)
    retention = _retention(store, FakeClock(), newest=10)
    told: list[Pruned] = []
    retention.prune_before(10**12, told.append)
    _run(retention, 3)
    assert _kept(store) == [10] and told == [Pruned(9)]


class _HeldStore(_TimedStore):
    """A store whose batches end when the test says (a PostgreSQL worker's, on the way)."""

    def __init__(self) -> None:
        super().__init__(BATCH_SECONDS)  # batches stay at 1000 rows
        self.waiting: list[tuple[PruneBatch, object]] = []

    def prune_later(self, batch: PruneBatch, then: object) -> None:
        self.asked.append(batch)
        self.waiting.append((batch, then))

    def finish(self, deleted: int = 0, error: BaseException | None = None) -> None:
        batch, then = self.waiting.pop(0)
        reached = batch.after if error else min(batch.after + batch.rows, batch.upto)
        then(PruneDone(deleted, reached, self.seconds, error))  # type: ignore[operator]


def _held(keep_messages: int = 0, newest: int = 5000) -> tuple[_HeldStore, Retention]:
    store = _HeldStore()
    retention = Retention(
        store,  # type: ignore[arg-type]
        keep_days=0,
        keep_messages=keep_messages,
        newest=lambda: newest,
        last_arrival=lambda: newest,
        wall=FakeClock().now,
    )
    return store, retention


def test_a_second_manual_pass_is_refused_while_one_runs() -> None:
    store, retention = _held(newest=500)
    told: list[Pruned] = []
    retention.prune_before(100.0, told.append)
    with pytest.raises(PruneRunning):
        retention.prune_before(200.0, told.append)
    retention.tick()
    with pytest.raises(PruneRunning):
        retention.prune_before(200.0, told.append)
    store.finish(deleted=7)  # one batch of 1000 rows covers ids 1..499
    assert told == [Pruned(7)]
    retention.prune_before(200.0, told.append)  # done: the next one is taken
    retention.tick()
    assert store.asked[-1].ended_before == 200.0


def test_a_manual_pass_goes_ahead_of_the_automatic_rules_one_batch_at_a_time() -> None:
    """While the count rule walks, a manual pass takes the next batch, and the count rule
    goes on from where it was once the manual pass is done."""
    store, retention = _held(keep_messages=1000, newest=10_000)
    retention.tick()
    assert [(b.after, b.ended_before) for b in store.asked] == [(0, float("inf"))]
    told: list[Pruned] = []
    retention.prune_before(50.0, told.append)
    retention.tick()
    assert len(store.asked) == 1  # one batch at a time: the count rule's is still out
    store.finish()
    retention.tick()
    assert (store.asked[-1].after, store.asked[-1].ended_before) == (0, 50.0)
    for _ in range(9):
        store.finish(deleted=1)
        retention.tick()
    store.finish(deleted=1)  # the tenth batch reaches 9999: the manual pass is done
    assert told == [Pruned(10)]
    retention.tick()
    assert (store.asked[-1].after, store.asked[-1].ended_before) == (1000, float("inf"))


def test_a_manual_pass_that_fails_ends_and_says_why_to_its_asker_alone() -> None:
    store, retention = _held()
    said: list[BaseException] = []
    retention.on_error = said.append
    told: list[Pruned] = []
    retention.prune_before(100.0, told.append)
    retention.tick()
    store.finish(error=OSError("disk I/O error"))
    assert [(p.deleted, str(p.error)) for p in told] == [(0, "disk I/O error")]
    assert said == []  # nothing is asked again: there is nothing to log
    retention.tick()
    assert len(store.asked) == 1
    retention.prune_before(100.0, told.append)  # a new one may be asked for
    retention.tick()
    assert len(store.asked) == 2


def test_a_manual_pass_with_nothing_to_walk_is_told_at_once() -> None:
    store, retention = _held(newest=1)
    told: list[Pruned] = []
    retention.prune_before(100.0, told.append)
    assert told == [Pruned(0)] and store.asked == []


def test_a_manual_pass_walks_this_nodes_ids_only() -> None:
    """A cluster's node numbers in its own range: its manual pass starts there."""
    first = 3 << 40
    store, retention = _held(newest=first + 500)
    retention.id_range = (first, first + (1 << 40) - 1)
    retention.prune_before(100.0, lambda pruned: None)
    retention.tick()
    assert (store.asked[0].after, store.asked[0].upto) == (first, first + 499)


def test_after_a_manual_pass_the_pages_go_back_with_retention_off(tmp_path: Path) -> None:
    store = _store(str(tmp_path / "smsgw.db"), count=3000)
    full, _ = store.store_size()
    retention = _retention(store, FakeClock())
    told: list[Pruned] = []
    retention.prune_before(10**12, told.append)
    _run(retention, 400)
    size, free = store.store_size()
    assert told == [Pruned(2999)] and free == 0 and size < full / 2


def _steps(store: SqliteStore, *ats: float) -> None:
    for at in ats:
        store.add_step(TimelineStep(at=at, namespace="ci", msisdn=PHONE, kind="http"))
    store.commit()


def _step_ids(store: SqliteStore) -> list[int]:
    return [step.id for step in store.timeline(limit=10_000)]


def test_the_timeline_keeps_its_newest_steps_walked_once_a_tenth_of_them_was_added() -> None:
    """With max_steps 50, a pass starts once 5 steps were added since the last one, and walks
    the table in batches down to the newest 50."""
    wall, store, timeline = FakeClock(), SqliteStore(":memory:"), Timeline("namespaces", max_steps=50)
    retention = Retention(
        store, keep_days=0, keep_messages=0, newest=lambda: 0, last_arrival=lambda: 0, wall=wall.now,
        timeline=timeline,
    )  # fmt: skip
    retention.rows["timeline"] = SMALLEST_BATCH  # several batches
    _steps(store, *[wall.now()] * 300)
    timeline.added = 300  # as recording them counted
    _run(retention)
    assert _step_ids(store) == list(range(251, 301)) and retention.steps_pruned == 250
    _steps(store, *[wall.now()] * 4)
    timeline.added = 4
    _run(retention)
    assert len(_step_ids(store)) == 54  # fewer than a tenth: no pass yet
    _steps(store, wall.now())
    timeline.added += 1
    _run(retention)
    assert _step_ids(store) == list(range(256, 306))


def test_steps_recorded_longer_ago_than_keep_days_go_by_the_wall_clock() -> None:
    wall, store, timeline = FakeClock(start=100 * DAY), SqliteStore(":memory:"), Timeline("namespaces")
    _steps(store, wall.now() - 8 * DAY, wall.now() - 8 * DAY, wall.now() - DAY, wall.now() - 8 * DAY)
    retention = Retention(
        store, keep_days=7, keep_messages=0, newest=lambda: 0, last_arrival=lambda: 0, wall=wall.now,
        timeline=timeline,
    )  # fmt: skip
    _run(retention)
    assert _step_ids(store) == [3, 4]  # the newest stays, however old
    assert retention.steps_pruned == 2 and retention.pruned["age"] == 0


def test_a_node_of_a_cluster_removes_only_messages_of_its_own_range() -> None:
    """keep_messages and keep_days count per node: a node's passes walk its own ids (from
    id_range), never the lower range of another node sharing the database."""
    wall = FakeClock(start=100 * DAY)
    store = _store(count=50, ended=wall.now() - 8 * DAY)  # another node's, long final
    mine = 1 << 40
    for n in range(1, 1201):
        store.insert_message(row(mine + n, PHONE, state=DELIVRD, done_at=wall.now() - 8 * DAY, seen=mine + n))
    store.commit()
    for keep in ({"messages": 1000}, {"days": 7}):
        retention = _retention(store, wall, newest=mine + 1200, **keep)  # type: ignore[arg-type]
        retention.id_range = (mine, mine + (1 << 40) - 1)
        _run(retention)
        assert _kept(store)[:50] == list(range(1, 51))
    assert _kept(store)[50:] == [mine + 1200]


def test_no_batch_starts_while_a_write_that_gates_an_answer_is_queued() -> None:
    """A batch commits the queue first: a failed batch must not take a submit's insert with it,
    or the next commit, of nothing, would release the submit's answer as if it were stored."""
    store = _store(count=3000)
    retention = _retention(store, FakeClock(), messages=1000)
    store.insert_message(row(3001, PHONE, state=ENROUTE))  # a submit's, its answer held
    assert store.urgent
    retention.tick()
    assert store.urgent  # nothing taken (a read commits the queue: so this first)
    assert len(_kept(store)) == 3001  # and nothing pruned
    retention.tick()
    assert len(_kept(store)) < 3001


class _FullDisk(_TimedStore):
    def compact(self, pages: int, *, last: bool = True) -> int:
        raise StoreError("giving smsgw.db's free pages back failed: database or disk is full")


def test_a_compaction_that_fails_is_said_once_and_the_carrier_ticks_on() -> None:
    store = _FullDisk(0.0)
    retention = Retention(
        store,  # type: ignore[arg-type]
        keep_days=0, keep_messages=0, newest=lambda: 5000, last_arrival=lambda: 5000, wall=FakeClock().now,
    )  # fmt: skip
    said: list[BaseException] = []
    retention.on_error = said.append
    retention._compacting = True  # as after a pass that removed messages
    _run(retention, 5)  # raises nothing: the carrier's tick goes on
    assert len(said) == 1 and "disk is full" in str(said[0])


def test_a_store_keeps_its_queued_writes_when_compaction_cannot_commit_them(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "smsgw.db"))
    store.put_document("merchant.state", "orders", 7)
    store._db.close()  # as a file that can no longer be written
    with pytest.raises(StoreError, match="free pages back failed"):
        store.compact(10)
    assert store.dirty  # still owed, for the carrier's next commit
