"""Nodes sharing one PostgreSQL database: each numbers its own rows, reads back its own work,
hands what it owes an account bound elsewhere to the nodes bound for it, and takes over the
work of a node whose lease ran out."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'smsgw[postgres]')")

from smsgw.store.interface import StoreError  # noqa: E402
from smsgw.store.nodes import SLOT_BITS, PostgresNodeStore  # noqa: E402
from smsgw.store.records import MessageRecord  # noqa: E402
from tests.store.test_stores import ALICE, BOB, DELIVRD, ENROUTE, row  # noqa: E402


@pytest.fixture
def nodes(postgres_url: str) -> Iterator[list[PostgresNodeStore]]:
    opened: list[PostgresNodeStore] = []
    yield opened
    for node in opened:
        node.close()


def join(url: str, opened: list[PostgresNodeStore], name: str, lease: float = 10.0) -> PostgresNodeStore:
    opened.append(PostgresNodeStore(url, name, lease=lease))
    return opened[-1]


def claimed(node: PostgresNodeStore, *accounts: str) -> list[int]:
    got: list[list[MessageRecord]] = []
    node.claim_owed(accounts, got.append)
    return [record.id for record in got[0]]


def test_each_node_numbers_its_rows_in_a_range_of_its_own(postgres_url: str, nodes: list) -> None:
    a, b = join(postgres_url, nodes, "a"), join(postgres_url, nodes, "b")
    assert (a.slot, b.slot) == (1, 2)
    assert a.max_id() == 1 << SLOT_BITS and b.max_id() == 2 << SLOT_BITS
    a.insert_message(row(a.max_id() + 1, ALICE))
    b.insert_message(row(b.max_id() + 1, ALICE))
    a.commit()
    b.commit()
    assert a.max_id() == (1 << SLOT_BITS) + 1 and b.max_id() == (2 << SLOT_BITS) + 1


def test_a_name_runs_once_and_keeps_its_slot_across_restarts(postgres_url: str, nodes: list) -> None:
    a = join(postgres_url, nodes, "a")
    join(postgres_url, nodes, "b")
    with pytest.raises(StoreError, match="node 'a' is already running"):
        PostgresNodeStore(postgres_url, "a")
    a.close()
    again = join(postgres_url, nodes, "a")  # at once: the earlier process's lock went with it
    assert again.slot == 1


def test_a_node_reads_back_its_own_work_and_claims_what_others_released(
    postgres_url: str, nodes: list
) -> None:
    a, b = join(postgres_url, nodes, "a"), join(postgres_url, nodes, "b")
    first = a.max_id() + 1
    a.insert_message(row(first, ALICE, system_id="shop", state=DELIVRD, report=DELIVRD))
    a.insert_message(row(first + 1, ALICE, system_id="shop", state=ENROUTE, report=None))
    a.insert_message(row(first + 2, ALICE, system_id="bank", state=DELIVRD, report=DELIVRD))
    a.commit()
    assert [r.id for r in a.owing()] == [first, first + 2] and [r.id for r in a.pending_messages()] == [
        first + 1
    ]
    assert b.owing() == [] and b.pending_messages() == []
    assert claimed(b, "shop", "bank") == []  # a is alive and holds them
    a.release_owed([first], "shop")  # no bind of shop on a
    a.commit()
    assert claimed(b, "shop", "bank") == [first]
    assert claimed(b, "shop") == []  # claimed once
    assert [r.id for r in b.owing()] == [first] and [r.id for r in a.owing()] == [first + 2]


def test_a_lost_nodes_work_is_taken_over_once_its_lease_ran_out(postgres_url: str, nodes: list) -> None:
    a = join(postgres_url, nodes, "a", lease=0.5)
    b = join(postgres_url, nodes, "b")
    first = a.max_id() + 1
    a.insert_message(row(first, ALICE, system_id="shop", state=DELIVRD, report=DELIVRD))
    a.insert_message(row(first + 1, ALICE, system_id="shop", state=ENROUTE, report=None))
    a.commit()
    taken: list[list[MessageRecord]] = []
    b.take_over(taken.append)
    assert taken == [[]] and claimed(b, "shop") == []  # its lease still runs
    time.sleep(0.7)  # a renews nothing: as if it had been killed
    b.take_over(taken.append)
    assert [r.id for r in taken[1]] == [first + 1]
    assert claimed(b, "shop") == [first]


def test_a_release_wakes_the_nodes_that_listen(postgres_url: str, nodes: list) -> None:
    a, b = join(postgres_url, nodes, "a"), join(postgres_url, nodes, "b")
    heard: queue.Queue[tuple[str, str]] = queue.Queue()
    b.listen(lambda channel, payload: heard.put((channel, payload)))
    a.insert_message(row(a.max_id() + 1, ALICE, system_id="shop", state=DELIVRD, report=DELIVRD))
    a.release_owed([a.max_id()], "shop")
    assert heard.empty()  # told on commit, not before
    a.commit()
    assert heard.get(timeout=5) == ("smsgw_owed", "shop")


def test_a_turns_arrivals_are_told_in_one_notification_a_batch(postgres_url: str, nodes: list) -> None:
    a, b = join(postgres_url, nodes, "a"), join(postgres_url, nodes, "b")
    heard: queue.Queue[tuple[str, str]] = queue.Queue()
    b.listen(lambda channel, payload: heard.put((channel, payload)))
    first = a.max_id() + 1
    a.insert_message(row(first, ALICE, state=ENROUTE, report=None))  # held: not there yet
    a.insert_message(row(first + 1, BOB, state=ENROUTE, report=None))
    a.commit()
    for n in range(500):  # more numbers than one payload takes
        a.insert_message(row(first + 2 + n, f"86139{n:08d}", state=DELIVRD, seen=n + 1, done_at=1.0))
    a.update_state(first, DELIVRD, 2.0, 0, None, seen=501)  # the held ones reach their phones
    a.update_state(first + 1, DELIVRD, 2.0, 0, None, seen=502)
    a.commit()
    told = [heard.get(timeout=5) for _ in range(3)]
    assert {channel for channel, _ in told} == {"smsgw_changed"}
    numbers = [payload.split(" ")[1].split(",") for _, payload in told]
    assert sorted(map(len, numbers)) == [2, 100, 400]
    assert sorted(sum(numbers, [])) == sorted([ALICE, BOB] + [f"86139{n:08d}" for n in range(500)])
    assert all(payload.endswith(" a") for _, payload in told)
    assert heard.empty()


def test_fresh_number_blocks_are_reserved_past_a_smallint(postgres_url: str, nodes: list) -> None:
    a, b = join(postgres_url, nodes, "a"), join(postgres_url, nodes, "b")
    assert a.reserve_numbers(32_000, 1000) == 33_000  # both values small: sent as smallints
    assert b.reserve_numbers(0, 1000) == 34_000  # after a's block, whatever b's floor
    got: list[int | None] = []
    a.reserve_numbers_later(40_000, 1000, got.append)
    assert got == [41_000]


def test_a_lease_is_renewed(postgres_url: str, nodes: list) -> None:
    a = join(postgres_url, nodes, "a", lease=0.5)
    b = join(postgres_url, nodes, "b")
    a.insert_message(row(a.max_id() + 1, ALICE, system_id="shop", state=ENROUTE, report=None))
    a.commit()
    renewed: list[bool] = []
    for _ in range(3):
        time.sleep(0.25)
        a.renew_lease(renewed.append)
    taken: list[list[MessageRecord]] = []
    b.take_over(taken.append)
    assert renewed == [True, True, True] and taken == [[]]


def test_a_single_smsgw_and_nodes_never_share_a_database(postgres_url: str, nodes: list) -> None:
    from smsgw.store.postgres import PostgresStore

    single = PostgresStore(postgres_url)
    with pytest.raises(StoreError, match="in use by an smsgw that is no node"):
        PostgresNodeStore(postgres_url, "a")
    single.close()
    join(postgres_url, nodes, "a")
    with pytest.raises(StoreError, match="give --node NAME"):
        PostgresStore(postgres_url)


def test_a_pending_mt_goes_with_its_receipt_to_the_node_that_takes_the_message_over(
    postgres_url: str, nodes: list
) -> None:
    a = join(postgres_url, nodes, "a", lease=0.5)
    b = join(postgres_url, nodes, "b")
    first = a.max_id() + 1
    a.insert_message(
        row(first, ALICE, system_id="shop", state=ENROUTE, report=ENROUTE)
    )  # an intermediate receipt owed
    a.commit()
    time.sleep(0.7)
    assert claimed(b, "shop") == []  # not as a receipt alone: the message is still pending
    taken: list[list[MessageRecord]] = []
    b.take_over(taken.append)
    assert [(r.id, r.report) for r in taken[0]] == [(first, ENROUTE)]


def test_pending_mts_a_single_smsgw_left_are_taken_by_the_first_node(postgres_url: str, nodes: list) -> None:
    from smsgw.store.postgres import PostgresStore

    single = PostgresStore(postgres_url)
    single.insert_message(row(7, ALICE, state=ENROUTE, report=None))
    single.close()
    a = join(postgres_url, nodes, "a")
    taken: list[list[MessageRecord]] = []
    a.take_over(taken.append)
    assert [r.id for r in taken[0]] == [7]


def test_a_lease_that_ran_out_is_said_so_once_renewed(postgres_url: str, nodes: list) -> None:
    a = join(postgres_url, nodes, "a", lease=0.3)
    time.sleep(0.5)
    renewed: list[bool] = []
    a.renew_lease(renewed.append)
    a.renew_lease(renewed.append)
    assert renewed == [False, True]
