"""What the carrier asks of a store, asked of each store alike (SQLite and PostgreSQL): the
same writes read back the same, in the same order, and survive a reopen."""

from __future__ import annotations

from typing import Any

from smsgw.store.interface import MessageStore
from tests.store.conftest import StoreOpener
from tests.store.test_commit import message_row

ALICE, BOB = "8613800000001", "8613800000002"
DELIVRD, ENROUTE, UNDELIV = 2, 1, 5


def row(row_id: int, msisdn: str, **values: Any) -> tuple[Any, ...]:
    from smsgw.store.records import MESSAGE_COLUMNS

    fields = dict(zip(MESSAGE_COLUMNS, message_row(row_id, msisdn)))
    fields.update(values)
    return tuple(fields[column] for column in MESSAGE_COLUMNS)


def ids(records: Any) -> list[int]:
    return [record.id for record in records]


def test_reads_see_the_writes_queued_before_them(store: MessageStore) -> None:
    store.insert_message(row(1, ALICE, state=ENROUTE))
    assert store.get_message(1) is not None  # no commit in between: the read applies it
    assert store.max_id() == 1
    assert not store.dirty


def test_what_was_committed_is_there_after_a_reopen(open_store: StoreOpener) -> None:
    store = open_store()
    store.insert_message(row(1, ALICE, state=ENROUTE, report=None))
    store.insert_message(row(2, ALICE, state=DELIVRD, report=DELIVRD, seen=1, done_at=3.0))
    store.save_subscriber(ALICE, "Alice", "off", 0, "ns-1")
    store.put_document("merchant.order", "ord_1", {"status": "paid", "note": "\x00 and \udfff"})
    store.commit()
    again = open_store()
    assert ids(again.pending_messages()) == [1]
    assert ids(again.owing()) == [2]
    assert again.max_seen() == 1
    assert again.subscribers() == [(ALICE, "Alice", "off", 0, "ns-1")]
    assert again.documents("merchant.order") == [("ord_1", {"status": "paid", "note": "\x00 and \udfff"})]


def test_find_messages_filters_and_pages_newest_first(store: MessageStore) -> None:
    for row_id in range(1, 8):
        msisdn = ALICE if row_id % 2 else BOB
        store.insert_message(row(row_id, msisdn, system_id="acme" if row_id < 4 else "smsgw", state=DELIVRD))
    store.insert_message(row(8, ALICE, direction="MO", state=ENROUTE))
    store.commit()
    assert ids(store.find_messages()) == [8, 7, 6, 5, 4, 3, 2, 1]
    assert ids(store.find_messages(msisdn=ALICE)) == [8, 7, 5, 3, 1]
    assert ids(store.find_messages(msisdn=ALICE, direction="MT", system_id="smsgw")) == [7, 5]
    assert ids(store.find_messages(state=ENROUTE)) == [8]
    assert ids(store.find_messages(before=5, limit=2)) == [4, 3]
    assert ids(store.find_messages(after=5, limit=2)) == [6, 7]
    assert ids(store.find_messages(among=[BOB])) == [6, 4, 2]
    assert store.find_messages(among=[]) == []
    assert store.last_msisdn("86138") == max(ALICE, BOB) and store.last_msisdn(BOB) == BOB
    assert store.last_msisdn("86139") is None and store.last_msisdn("86137") is None
    assert store.msisdns() == [ALICE, BOB]
    assert store.msisdns(limit=1) == [ALICE]


def test_a_phone_holds_its_parts_in_arrival_order(store: MessageStore) -> None:
    # Rows 1-3 reached ALICE in the order 3, 1, 2 (seen); row 4 is still held (no seen).
    for row_id, seen in [(1, 11), (2, 12), (3, 10), (4, None)]:
        store.insert_message(row(row_id, ALICE, seen=seen))
    store.insert_message(row(5, ALICE, direction="MO", seen=None))
    store.insert_message(row(6, ALICE, direction="MO", seen=None))
    store.commit()
    assert ids(store.handset_parts(ALICE, "MT", 0)) == [3, 1, 2]
    assert ids(store.handset_parts(ALICE, "MT", 10)) == [1, 2]
    assert ids(store.handset_parts(ALICE, "MT", 0, 2, newest=True)) == [1, 2]
    assert ids(store.handset_parts(ALICE, "MO", 5)) == [6]
    assert ids(store.handset_parts_back(ALICE, "MT", 12, 10)) == [2, 1]


def test_going_back_through_a_long_inbox_reads_every_part_once(store: MessageStore) -> None:
    for row_id in range(1, 451):
        store.insert_message(row(row_id, ALICE, seen=row_id))
    store.commit()
    back = store.handset_parts_back(ALICE, "MT", 450, 0)
    assert [next(back).id for _ in range(3)] == [450, 449, 448]  # lazily: the caller may stop
    assert ids(store.handset_parts_back(ALICE, "MT", 450, 20)) == list(range(450, 20, -1))


def test_state_reports_and_retries_as_the_carrier_writes_them(store: MessageStore) -> None:
    store.insert_message(row(1, ALICE, state=ENROUTE, report=None))
    store.insert_message(row(2, ALICE, direction="MO", state=ENROUTE, report=ENROUTE))
    store.commit()
    store.owe_report(1, ENROUTE)  # an intermediate receipt
    store.update_state(1, UNDELIV, 8.0, 0x45, UNDELIV)
    store.report_retry(1, UNDELIV, 2, 30.0)
    store.report_done(1, ENROUTE)  # the intermediate one: the final one stays owed
    store.mo_done(2, DELIVRD, 9.0)
    store.replace_message(1, b"new", 4.0, 99.0, 1)
    first = store.get_message(1)
    assert first is not None
    assert (first.state, first.done_at, first.error, first.report) == (UNDELIV, 8.0, 0x45, UNDELIV)
    assert (first.report_attempts, first.report_next_at) == (2, 30.0)
    assert (first.body, first.scheduled_at, first.expires_at, first.registered_delivery) == (
        b"new",
        4.0,
        99.0,
        1,
    )
    mo = store.get_message(2)
    assert mo is not None and (mo.state, mo.done_at, mo.report) == (DELIVRD, 9.0, None)
    assert ids(store.owing()) == [1]
    assert store.pending_messages() == []


def test_subscribers_and_documents_change_in_place(store: MessageStore) -> None:
    store.save_subscriber(BOB, "Bob", "on", 0)
    store.save_subscriber(ALICE, "Alice", "on", 0)
    store.save_subscriber(BOB, "Robert", "off", 4, "ns")
    store.put_document("k", "b", 1)
    store.put_document("k", "a", [1, 2])
    store.put_document("k", "b", 2)  # replaced in place: b stays first
    store.put_document("other", "a", None)
    store.delete_document("other", "a")
    store.delete_document("other", "never")
    store.commit()
    store.delete_subscriber(ALICE)
    assert store.subscribers() == [(BOB, "Robert", "off", 4, "ns")]
    assert store.documents("k") == [("b", 2), ("a", [1, 2])]
    assert store.documents("other") == []


def test_urgent_writes_gate_answers_and_lazy_ones_wait(store: MessageStore) -> None:
    store.insert_message(row(1, ALICE))
    assert store.urgent and store.dirty
    store.commit()
    assert not store.urgent and not store.dirty
    store.report_done(1, DELIVRD)
    assert store.dirty and not store.urgent
