"""A PostgreSQL commit the reactor does not wait for: its end is told on the reactor's thread,
commits land in the order asked, and a read waits for the commits asked before it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'smsgw[postgres]')")

from smsgw.store.postgres import PostgresStore  # noqa: E402
from smsgw.store.records import TimelineStep  # noqa: E402
from tests.store.test_stores import ALICE, row  # noqa: E402


class Loop:
    """A reactor's callFromThread: functions queued from any thread, run by the test's."""

    def __init__(self) -> None:
        self.calls: queue.Queue[Callable[[], None]] = queue.Queue()

    def call_soon(self, function: Callable[[], None]) -> None:
        self.calls.put(function)

    def run_one(self) -> None:
        self.calls.get(timeout=10)()


def test_commits_land_in_order_and_are_told_on_the_callers_thread(postgres_url: str) -> None:
    loop = Loop()
    store = PostgresStore(postgres_url, call_soon=loop.call_soon)
    told: list[tuple[int, BaseException | None, bool]] = []
    for turn in range(1, 6):
        store.insert_message(row(turn, ALICE))
        store.commit_then(
            lambda error, turn=turn: told.append(
                (turn, error, threading.current_thread() is threading.main_thread())
            )
        )
    for _ in range(5):
        loop.run_one()
    assert told == [(turn, None, True) for turn in range(1, 6)]
    store.close()


def test_a_read_sees_the_commits_asked_before_it(postgres_url: str) -> None:
    loop = Loop()
    store = PostgresStore(postgres_url, call_soon=loop.call_soon)
    for turn in range(1, 21):
        store.insert_message(row(turn, ALICE))
        store.commit_then(lambda error: None)
    assert store.max_id() == 20  # without running the loop: the read queued behind them
    store.close()


def test_a_dropped_write_is_told_and_the_commit_still_lands(postgres_url: str) -> None:
    loop = Loop()
    dropped: list[str] = []
    store = PostgresStore(postgres_url, call_soon=loop.call_soon, on_dropped=lambda w, e: dropped.append(w))
    store.insert_message(row(1, ALICE))
    store.save_subscriber(ALICE, "\udfff", "on", 0)  # text UTF-8 cannot hold
    outcome: list[BaseException | None] = []
    store.commit_then(outcome.append)
    loop.run_one()  # the drop, told on this thread
    loop.run_one()  # the commit's end
    assert outcome == [None] and dropped == [f"subscriber {ALICE}"]
    assert store.get_message(1) is not None
    store.close()


def test_a_read_from_another_thread_sees_what_is_committed_and_leaves_the_queue(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.insert_message(row(1, ALICE))
    store.commit()
    store.insert_message(row(2, ALICE))  # queued by this thread, not committed
    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(lambda: [r.id for r in store.find_messages(msisdn=ALICE)]).result()
    assert seen == [1] and store.dirty  # the other thread neither saw nor took the queued write
    assert [r.id for r in store.find_messages(msisdn=ALICE)] == [2, 1]  # this thread's read applies it
    store.close()


def test_a_timeline_read_from_another_thread_sees_the_committed_steps(postgres_url: str) -> None:
    """The API reads the timeline off the reactor: it sees the steps committed, and a step still
    queued (lazily) only once a commit takes it."""
    store = PostgresStore(postgres_url)
    store.add_step(TimelineStep(at=1.0, namespace="run-1", msisdn=ALICE, kind="smpp.submit_sm"))
    store.commit()
    store.add_step(TimelineStep(at=2.0, namespace="run-1", msisdn=ALICE, kind="message.state"))
    with ThreadPoolExecutor(1) as pool:
        before = pool.submit(lambda: [s.kind for s in store.timeline(namespace="run-1")]).result()
        store.commit()
        after = pool.submit(lambda: [s.kind for s in store.timeline(namespace="run-1")]).result()
    assert before == ["smpp.submit_sm"] and after == ["smpp.submit_sm", "message.state"]
    store.close()
