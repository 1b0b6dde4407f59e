"""What a commit writes: each queued write as it was queued, however the store batches it
(receipts done as ranges of ids); a write that cannot be stored is dropped alone."""

from __future__ import annotations

from typing import Any

import pytest

from smsgw.store.interface import MessageStore
from smsgw.store.records import MESSAGE_COLUMNS, MessageRecord
from tests.store.conftest import StoreOpener


def message_row(row_id: int, msisdn: str) -> tuple[Any, ...]:
    fields: dict[str, Any] = dict.fromkeys(MESSAGE_COLUMNS, 0)
    fields.update(
        id=row_id,
        message_id=str(row_id),
        system_id="smsgw",
        direction="MT",
        msisdn=msisdn,
        service_type="",
        source_addr="12345",
        dest_addr=msisdn,
        body=b"hello",
        sar_ref=None,
        sar_total=None,
        sar_seq=None,
        scheduled_at=None,
        done_at=None,
        report=None,
        seen=None,
    )
    return tuple(fields[column] for column in MESSAGE_COLUMNS)


def test_a_bad_write_is_dropped_alone_and_named(open_store: StoreOpener) -> None:
    dropped: list[tuple[str, BaseException]] = []
    store = open_store(on_dropped=lambda write, error: dropped.append((write, error)))
    # One turn's queue: two clients' writes around one that UTF-8 cannot encode.
    store.save_subscriber("8613800000001", "Alice", "on", 0)
    store.insert_message(message_row(1, "8613800000002"))
    store.save_subscriber("8613800000003", "\udfff", "on", 0)
    store.insert_message(message_row(2, "8613800000002"))
    store.save_subscriber("8613800000004", "Bob", "off", 0)
    store.commit()
    assert store.subscribers() == [
        ("8613800000001", "Alice", "on", 0, ""),
        ("8613800000004", "Bob", "off", 0, ""),
    ]
    assert [m.message_id for m in store.find_messages(msisdn="8613800000002")] == ["2", "1"]
    assert [(write, type(error)) for write, error in dropped] == [
        ("subscriber 8613800000003", UnicodeEncodeError)
    ]
    # The store carries on: the next commit is a plain one.
    store.update_state(1, 2, 5.0, 0, None)
    store.commit()
    assert store.get_message(1).state == 2  # type: ignore[union-attr]


def test_a_message_row_the_store_refuses_is_named_by_its_message_id(open_store: StoreOpener) -> None:
    dropped: list[str] = []
    store = open_store(on_dropped=lambda write, error: dropped.append(write))
    store.insert_message(message_row(7, "8613800000002"))
    store.commit()
    store.insert_message(message_row(7, "8613800000005"))  # the same row id: a constraint fails
    store.save_subscriber("8613800000001", "Alice", "on", 0)
    store.commit()
    assert dropped == ["new message 7 for 8613800000005"]
    assert store.subscribers() == [("8613800000001", "Alice", "on", 0, "")]


def test_receipts_done_in_one_commit_clear_exactly_their_own_rows(store: MessageStore) -> None:
    # Receipts accepted in one turn are written as ranges of ids: those left owed inside a
    # range (4 owes the same state, 6 another) and a repeated id must come out as one by one.
    for row_id in range(1, 10):
        store.insert_message(message_row(row_id, "8613800000002"))
        store.update_state(row_id, 2, 5.0, 0, 3 if row_id == 6 else 2)
    store.commit()
    for row_id, state in [(1, 2), (2, 2), (3, 2), (5, 2), (5, 2), (6, 2), (7, 2), (9, 5), (8, 2)]:
        store.report_done(row_id, state)
    store.commit()
    owed = {row_id: store.get_message(row_id).report for row_id in range(1, 10)}  # type: ignore[union-attr]
    assert owed == {1: None, 2: None, 3: None, 4: 2, 5: None, 6: 3, 7: None, 8: None, 9: 2}


@pytest.mark.parametrize(
    "nulls",
    [
        {},  # every column set
        {"sar_ref": None, "sar_total": None, "sar_seq": None, "scheduled_at": None},  # most MT
        {"done_at": None, "report": None, "seen": None},  # held
    ],
)
def test_a_message_comes_back_as_it_was_stored_whichever_columns_are_null(
    nulls: dict[str, Any], store: MessageStore
) -> None:
    values: dict[str, Any] = dict(zip(MESSAGE_COLUMNS, message_row(1, "8613800000002")))
    values.update(sar_ref=7, sar_total=2, sar_seq=1, scheduled_at=9.5, done_at=12.0, report=2, seen=3)
    values.update(nulls)
    store.insert_message(tuple(values[column] for column in MESSAGE_COLUMNS))
    store.commit()
    assert store.get_message(1) == MessageRecord(**values)
