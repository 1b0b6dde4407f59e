"""Retention's batches, on each store alike: only final messages that owe nothing and ended
before the cut go, and never the newest message nor the last to reach a phone."""

from __future__ import annotations

from typing import Any

from smsgw.store.interface import MessageStore
from smsgw.store.records import PruneBatch, PruneDone, TimelineStep
from tests.store.test_stores import row

PHONE = "8613800000001"
SCHEDULED, ENROUTE, DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, REJECTD = 0, 1, 2, 3, 4, 5, 6, 8
OLD, NEW = 1000.0, 5000.0

#: id -> (what it is, its row's fields, whether retention may remove it with the cut at 2000)
ROWS: dict[int, tuple[str, dict[str, Any], bool]] = {
    1: ("delivered long ago", {"state": DELIVRD, "done_at": OLD, "seen": 1}, True),
    2: ("expired long ago", {"state": EXPIRED, "done_at": OLD}, True),
    3: ("undeliverable long ago", {"state": UNDELIV, "done_at": OLD}, True),
    4: ("cancelled long ago", {"state": DELETED, "done_at": OLD}, True),
    5: ("an MO the ESME refused", {"state": REJECTD, "direction": "MO", "done_at": OLD}, True),
    6: ("delivered, its receipt still owed", {"state": DELIVRD, "done_at": OLD, "report": DELIVRD}, False),
    7: ("held for a phone that is off", {"state": ENROUTE}, False),
    8: ("scheduled", {"state": SCHEDULED, "scheduled_at": NEW}, False),
    9: ("accepted, not final", {"state": ACCEPTD}, False),
    10: ("an MO still owed to its ESME", {"state": ENROUTE, "direction": "MO", "report": ENROUTE}, False),
    11: ("delivered after the cut", {"state": DELIVRD, "done_at": NEW, "seen": 3}, False),
    12: ("the last to reach a phone", {"state": DELIVRD, "done_at": OLD, "seen": 4}, False),
    13: ("the newest message", {"state": DELIVRD, "done_at": OLD, "seen": 2}, False),
}


def _fill(store: MessageStore) -> None:
    for row_id, (_, fields, _) in ROWS.items():
        store.insert_message(row(row_id, PHONE, **fields))
    store.commit()


def _prune(store: MessageStore, batch: PruneBatch) -> PruneDone:
    told: list[PruneDone] = []
    store.prune_later(batch, told.append)
    (done,) = told
    assert done.error is None, done.error
    return done


def test_a_batch_removes_only_final_messages_that_owe_nothing_and_ended_before_the_cut(
    store: MessageStore,
) -> None:
    _fill(store)
    done = _prune(store, PruneBatch(after=0, rows=100, upto=100, ended_before=2000.0, last_arrival=4))
    gone = sorted(row_id for row_id, (_, _, goes) in ROWS.items() if goes)
    assert done.deleted == len(gone) and done.seconds >= 0
    for row_id, (what, _, goes) in ROWS.items():
        assert (store.get_message(row_id) is None) == goes, what
    assert store.max_id() == 13 and store.max_seen() == 4  # a restart numbers on from them


def test_a_batch_stays_in_its_id_range(store: MessageStore) -> None:
    _fill(store)
    done = _prune(store, PruneBatch(after=1, rows=2, upto=100, ended_before=2000.0, last_arrival=4))
    assert (done.deleted, done.reached) == (2, 3)
    assert store.get_message(1) is not None and store.get_message(4) is not None
    done = _prune(store, PruneBatch(after=3, rows=100, upto=5, ended_before=2000.0, last_arrival=4))
    assert (done.deleted, done.reached) == (2, 5)
    assert (
        _prune(store, PruneBatch(after=0, rows=100, upto=100, ended_before=500.0, last_arrival=4)).deleted
        == 0
    )
    assert (
        _prune(store, PruneBatch(after=13, rows=100, upto=100, ended_before=2000.0, last_arrival=4)).reached
        == 13
    )


def test_a_batch_counts_rows_so_it_walks_over_gaps_in_the_ids(store: MessageStore) -> None:
    """A cluster's nodes number in ranges far apart: a batch of 2 rows reaches across."""
    store.insert_message(row(5, PHONE, state=DELIVRD, done_at=OLD))
    store.insert_message(row(1 << 40, PHONE, state=DELIVRD, done_at=OLD))
    store.insert_message(row((1 << 40) + 1, PHONE, state=DELIVRD, done_at=OLD))
    store.commit()
    done = _prune(store, PruneBatch(after=0, rows=2, upto=1 << 41, ended_before=2000.0, last_arrival=9))
    assert (done.deleted, done.reached) == (2, 1 << 40)


NODE_A, NODE_B = 1 << 40, 2 << 40


def _node_range(first: int) -> tuple[int, int]:
    return first, first + (1 << 40) - 1


def test_a_node_keeps_its_own_newest_row_whatever_other_nodes_hold(store: MessageStore) -> None:
    """Node A's newest stored message stays though node B numbers higher, and though A's
    counter has moved past it (a USSD screen takes an id without a row): a restart of A
    numbers on from it."""
    for row_id in (NODE_A + 1, NODE_A + 2, NODE_A + 3, NODE_B + 1):
        store.insert_message(row(row_id, PHONE, state=EXPIRED, done_at=OLD))
    store.commit()
    batch = PruneBatch(NODE_A, 100, NODE_A + 4, 2000.0, NODE_A, _node_range(NODE_A))
    assert _prune(store, batch).deleted == 2
    assert store.get_message(NODE_A + 3) is not None and store.get_message(NODE_B + 1) is not None


def test_a_node_keeps_a_row_whose_arrival_another_node_numbered(store: MessageStore) -> None:
    """After a takeover node A delivered node B's message, numbering its arrival in A's range:
    B's pass keeps it, or A's next start would number an arrival twice."""
    store.insert_message(row(NODE_B + 1, PHONE, state=DELIVRD, done_at=OLD, seen=NODE_A + 7))
    store.insert_message(row(NODE_B + 2, PHONE, state=DELIVRD, done_at=OLD, seen=NODE_B + 1))
    store.insert_message(row(NODE_B + 3, PHONE, state=DELIVRD, done_at=OLD))
    store.commit()
    batch = PruneBatch(NODE_B, 100, NODE_B + 3, 2000.0, NODE_B + 5, _node_range(NODE_B))
    assert _prune(store, batch).deleted == 1
    assert store.get_message(NODE_B + 1) is not None and store.get_message(NODE_B + 2) is None


def test_fresh_numbers_never_repeat_once_the_messages_to_them_are_pruned(open_store: Any) -> None:
    store = open_store()
    first = store.reserve_numbers(0, 1000)  # the pool's numbers up to here may have been given out
    store.reserve_numbers_later(first, 1000, lambda last: None)
    store.commit()
    # No message went to any of them (or all were pruned): only the reservation remembers.
    reopened = open_store()
    assert reopened.max_id() == 0
    assert reopened.reserve_numbers(0, 1000) == first + 2000


def test_a_timeline_batch_removes_steps_older_than_the_cut_or_beyond_the_newest_kept(
    store: MessageStore,
) -> None:
    for at in (100.0, 100.0, 5000.0, 100.0, 5000.0, 5000.0, 5000.0, 100.0):  # ids 1..8
        store.add_step(TimelineStep(at=at, namespace="run-1", msisdn=PHONE, kind="http"))
    store.commit()
    ids = [step.id for step in store.timeline(namespace="run-1")]

    def batch(after: int, rows: int, ended_before: float, keep: int) -> PruneBatch:
        return PruneBatch(after, rows, 1 << 62, ended_before, table="timeline", keep=keep)

    # Three rows a batch: ids 1..3 looked at, the two old ones go.
    done = _prune(store, batch(0, 3, 1000.0, keep=100))
    assert (done.deleted, done.reached) == (2, ids[2])
    done = _prune(store, batch(done.reached, 100, 1000.0, keep=100))
    assert done.deleted == 1  # id 4; id 8 is old too, but the newest step stays
    assert [s.id for s in store.timeline(namespace="run-1")] == [ids[2], ids[4], ids[5], ids[6], ids[7]]
    # The count rule: the newest two stay, whatever their age.
    assert _prune(store, batch(0, 100, 0.0, keep=2)).deleted == 3
    assert [s.id for s in store.timeline(namespace="run-1")] == ids[6:]
    assert _prune(store, batch(ids[7], 100, 1e9, keep=1)).reached == ids[7]  # nothing left above
    # The newest step stayed: the next one is numbered after it, so a poller's "after" holds.
    store.add_step(TimelineStep(at=1.0, namespace="run-1", msisdn=PHONE, kind="late"))
    assert [s.id for s in store.timeline(namespace="run-1", after=ids[7])] == [ids[7] + 1]
