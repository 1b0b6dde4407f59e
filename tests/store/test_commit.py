"""A write that cannot be stored is dropped alone: the other writes of its commit go in."""

from __future__ import annotations

from typing import Any

from smsgw.store.records import MESSAGE_COLUMNS
from smsgw.store.sqlite import SqliteStore


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


def test_a_bad_write_is_dropped_alone_and_named() -> None:
    dropped: list[tuple[str, BaseException]] = []
    store = SqliteStore(":memory:", on_dropped=lambda write, error: dropped.append((write, error)))
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
    store.close()


def test_a_message_row_the_store_refuses_is_named_by_its_message_id() -> None:
    dropped: list[str] = []
    store = SqliteStore(":memory:", on_dropped=lambda write, error: dropped.append(write))
    store.insert_message(message_row(7, "8613800000002"))
    store.commit()
    store.insert_message(message_row(7, "8613800000005"))  # the same row id: a constraint fails
    store.save_subscriber("8613800000001", "Alice", "on", 0)
    store.commit()
    assert dropped == ["new message 7 for 8613800000005"]
    assert store.subscribers() == [("8613800000001", "Alice", "on", 0, "")]
    store.close()
