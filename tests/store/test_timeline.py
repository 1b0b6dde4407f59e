"""Payments' steps (the timeline), on each store alike: recorded lazily, read back in the order
they were added by handset, namespace (and those inside it), message_id, order and time, paged
after the last one seen, bounded by pruning, and kept across a reopen."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from smsgw.store.interface import MessageStore
from smsgw.store.records import TimelineStep
from tests.store.conftest import StoreOpener
from tests.store.test_stores import ALICE, BOB, row

#: A submit_sm's header and a few body octets: raw bytes, NUL and high octets included.
PDU = bytes.fromhex("00000015000000040000000000000007") + b"\x00\xff\x80"


def step(
    kind: str = "http", *, at: float = 1.0, namespace: str = "", msisdn: str = ALICE, **fields: Any
) -> TimelineStep:
    return TimelineStep(at=at, namespace=namespace, msisdn=msisdn, kind=kind, **fields)


def kinds(steps: list[TimelineStep]) -> list[str]:
    return [s.kind for s in steps]


def test_a_step_comes_back_as_it_was_recorded_numbered_by_the_store(store: MessageStore) -> None:
    """Every field is read back as given; ``id`` is the store's, whatever the step said."""
    full = TimelineStep(
        at=1_700_000_000.25,
        namespace="run-1.7",
        msisdn=ALICE,
        kind="smpp.submit_sm",
        system_id="shop",
        message_id="0A1B",
        session=65535,
        order_id="ord_0001",
        detail={"status": "ESME_ROK", "text": "Kód 1234 \x00 \udfff", "parts": [1, 2], "none": None},
        pdu=PDU,
        id=99,
    )
    bare = TimelineStep(at=2.0, namespace="", msisdn="", kind="http")
    store.add_step(full)
    store.add_step(bare)
    store.commit()
    assert store.timeline() == [attrs.evolve(full, id=1), attrs.evolve(bare, id=2)]


def test_a_step_is_lazy_and_rides_the_next_commit(store: MessageStore) -> None:
    """Recording a step asks for no commit of its own; the next commit, needed or periodic, takes it."""
    store.add_step(step("smpp.submit_sm"))
    assert store.dirty and not store.urgent
    store.insert_message(row(1, ALICE))  # an answer's write: the turn commits for it
    store.add_step(step("smpp.submit_sm_resp", message_id="1"))
    store.commit()
    assert not store.dirty
    store.add_step(step("message.state", message_id="1"))
    store.commit()  # the periodic commit, with only a step queued
    assert not store.dirty
    assert kinds(store.timeline()) == ["smpp.submit_sm", "smpp.submit_sm_resp", "message.state"]
    assert store.get_message(1) is not None


def test_a_detail_that_is_not_json_is_refused_when_recorded(store: MessageStore) -> None:
    """The mistake surfaces in the recorder's call, not in a later commit of everyone's writes."""
    with pytest.raises(TypeError):
        store.add_step(step(detail={"when": object()}))
    assert not store.dirty


def test_a_step_the_store_refuses_is_dropped_alone_and_named(open_store: StoreOpener) -> None:
    """One bad step (text UTF-8 cannot hold) costs neither the turn's messages nor the other steps."""
    dropped: list[str] = []
    store = open_store(on_dropped=lambda write, error: dropped.append(write))
    store.add_step(step("ussd.screen", msisdn=BOB))
    store.add_step(step("ussd.screen", msisdn=ALICE, system_id="\udfff"))
    store.insert_message(row(1, ALICE))
    store.add_step(step("http", msisdn=BOB))
    store.commit()
    assert dropped == [f"timeline step ussd.screen of {ALICE}"]
    kept = store.timeline()
    # In order; PostgreSQL's identity skips the number the failed try took.
    assert kinds(kept) == ["ussd.screen", "http"] and kept[0].id < kept[1].id
    assert store.get_message(1) is not None


def test_each_filter_and_all_of_them_together(store: MessageStore) -> None:
    """Handset, message_ids (any of them), order and time each narrow the steps, and they AND."""
    store.add_step(step("smpp.submit_sm", at=10.0, msisdn=ALICE, message_id="m1"))
    store.add_step(step("merchant.order", at=11.0, msisdn=ALICE, order_id="ord_1"))
    store.add_step(step("smpp.deliver_sm", at=12.0, msisdn=BOB, message_id="m2", order_id="ord_1"))
    store.add_step(step("message.state", at=13.0, msisdn=ALICE, message_id="m1"))
    store.add_step(step("http", at=14.0, msisdn="", message_id="m3"))
    store.commit()
    assert [s.id for s in store.timeline()] == [1, 2, 3, 4, 5]
    assert [s.id for s in store.timeline(msisdn=ALICE)] == [1, 2, 4]
    assert [s.id for s in store.timeline(msisdn="")] == [5]
    assert [s.id for s in store.timeline(message_ids=["m1"])] == [1, 4]
    assert [s.id for s in store.timeline(message_ids=("m3", "m2", "m9"))] == [3, 5]
    assert store.timeline(message_ids=[""]) == []  # '' names no message
    with pytest.raises(TypeError, match="not the one str 'm1'"):
        store.timeline(message_ids="m1")
    assert [s.id for s in store.timeline(order_id="ord_1")] == [2, 3]
    assert store.timeline(order_id="") == []
    assert [s.id for s in store.timeline(since=11.0)] == [2, 3, 4, 5]
    assert [s.id for s in store.timeline(until=12.0)] == [1, 2]  # up to, not including, until
    assert [s.id for s in store.timeline(since=11.0, until=13.0)] == [2, 3]
    assert [s.id for s in store.timeline(msisdn=ALICE, message_ids=["m1", "m2"], since=11.0)] == [4]
    assert store.timeline(msisdn=BOB, order_id="ord_2") == []


def test_a_namespace_takes_those_inside_it_and_not_its_neighbours(store: MessageStore) -> None:
    """``run-1`` takes ``run-1`` and ``run-1.7`` (and deeper), not ``run-10``, ``run-1-b``
    or ``run-1x``; an underscore is a character like any other, no wildcard."""
    for namespace in ["run-1", "run-1.7", "run-10", "run-1-b", "run-1x", "run-1.7.2", "", "run_1", "run-1/"]:
        store.add_step(step(namespace or "none", namespace=namespace))
    store.commit()
    assert kinds(store.timeline(namespace="run-1")) == ["run-1", "run-1.7", "run-1.7.2"]
    assert kinds(store.timeline(namespace="run-1.7")) == ["run-1.7", "run-1.7.2"]
    assert kinds(store.timeline(namespace="run-10")) == ["run-10"]
    assert kinds(store.timeline(namespace="run_1")) == ["run_1"]
    assert kinds(store.timeline(namespace="")) == ["none"]  # no namespace: only the steps of none
    assert kinds(store.timeline(namespace="run")) == []


def test_after_and_limit_page_through_the_steps_for_a_poller(store: MessageStore) -> None:
    """A poller gives the last id it saw and gets the next ones, as many as it asks for."""
    for n in range(1, 8):
        store.add_step(step(f"step {n}", namespace="run-1.7" if n % 2 else "run-2"))
    store.commit()
    assert [s.id for s in store.timeline(limit=3)] == [1, 2, 3]
    assert [s.id for s in store.timeline(after=3, limit=3)] == [4, 5, 6]
    assert [s.id for s in store.timeline(after=6, limit=3)] == [7]
    assert store.timeline(after=7) == []
    assert [s.id for s in store.timeline(namespace="run-1", after=1, limit=2)] == [3, 5]
    store.add_step(step("late", namespace="run-1"))
    assert [s.id for s in store.timeline(namespace="run-1", after=7)] == [8]  # the read applies the queue


def test_steps_are_there_after_a_reopen_and_numbering_goes_on(open_store: StoreOpener) -> None:
    """What was committed survives a restart; the next step is numbered after the last one."""
    store = open_store()
    store.add_step(step("smpp.submit_sm", namespace="run-1", message_id="m1", pdu=PDU))
    store.add_step(step("ussd.screen", namespace="run-1.7", session=3, detail={"text": "1. Pay"}))
    store.close()  # a clean stop commits what is queued, lazy steps included
    again = open_store()
    assert [(s.id, s.kind) for s in again.timeline(namespace="run-1")] == [
        (1, "smpp.submit_sm"),
        (2, "ussd.screen"),
    ]
    assert again.timeline(message_ids=["m1"])[0].pdu == PDU
    again.add_step(step("http"))
    assert [s.id for s in again.timeline(after=2)] == [3]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"msisdn": ALICE}, "timeline_by_msisdn"),
        ({"namespace": "run-1"}, "timeline_by_namespace"),
        ({"namespace": "run-1", "after": 40}, "timeline_by_namespace"),
        ({"message_ids": ["m1", "m2"]}, "timeline_by_message_id"),
        ({"order_id": "ord_1"}, "timeline_by_order_id"),
    ],
)
def test_each_filter_reads_through_its_index(filters: dict[str, Any], index: str, tmp_path: Any) -> None:
    """SQLite's plan for each filter reads its index, not every step (a busy carrier keeps up to
    [timeline] max_steps of many namespaces' steps)."""
    from smsgw.store import sql
    from smsgw.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "plan.db"))
    query, params = sql.timeline(
        **{
            "msisdn": None, "namespace": None, "message_ids": (), "order_id": None,
            "since": None, "until": None, "after": 0, "limit": 1000, **filters,
        }
    )  # fmt: skip
    plan = " ".join(row[-1] for row in store._db.execute(f"EXPLAIN QUERY PLAN {query}", params))
    store.close()
    assert f"INDEX {index}" in plan, plan
