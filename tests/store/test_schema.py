"""A store written by an older smsgw opens in this one, upgraded in place; a newer one is refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from smsgw.store.interface import StoreError, StoreInUse
from smsgw.store.records import TimelineStep
from smsgw.store.sqlite import SCHEMA_VERSION, SqliteStore
from tests.store.test_stores import row


def test_a_version_4_store_gains_namespaces_and_keeps_its_subscribers(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE subscribers (msisdn TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,"
            " inbox_after INTEGER NOT NULL);"
            "INSERT INTO subscribers VALUES ('8613800000007', 'Old', 'off', 3);"
            "PRAGMA user_version = 4;"
        )
    db.close()
    store = SqliteStore(str(path))
    assert store.subscribers() == [("8613800000007", "Old", "off", 3, "")]
    store.save_subscriber("8613800000008", "New", "on", 0, "ci-1")
    store.commit()
    assert ("8613800000008", "New", "on", 0, "ci-1") in store.subscribers()
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_store_from_a_newer_smsgw_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SqliteStore(str(path))


def test_a_version_5_store_gains_documents_and_keeps_its_subscribers(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    store = SqliteStore(str(path))
    store.save_subscriber("8613800000007", "Kept", "on", 0, "")
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE documents")
        db.execute("PRAGMA user_version = 5")
    db.close()
    store = SqliteStore(str(path))
    assert store.subscribers() == [("8613800000007", "Kept", "on", 0, "")]
    store.put_document("merchant.order", "ord_0001", {"status": "paid"})
    store.close()
    assert SqliteStore(str(path)).documents("merchant.order") == [("ord_0001", {"status": "paid"})]


def test_documents_come_back_in_first_put_order_and_any_text_is_stored(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "docs.db"))
    store.put_document("k", "b", 1)
    store.put_document("k", "a", {"name": "\udfff"})  # a lone surrogate: JSON escapes it
    store.put_document("other", "a", None)
    store.commit()
    store.put_document("k", "b", 2)  # replaced in place, not moved to the end
    store.delete_document("other", "a")
    assert store.documents("k") == [("b", 2), ("a", {"name": "\udfff"})]
    assert store.documents("other") == []
    store.close()


def test_a_version_6_store_gains_the_timeline_and_keeps_its_messages(tmp_path: Path) -> None:
    """Opening a store of the last version adds the timeline, with its indexes, and keeps the rest."""
    path = tmp_path / "v6.db"
    store = SqliteStore(str(path))
    store.insert_message(row(1, "8613800000007"))
    store.save_subscriber("8613800000007", "Kept", "on", 0, "run-1")
    store.put_document("merchant.order", "ord_0001", {"status": "paid"})
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE timeline")  # its indexes go with it
        db.execute("PRAGMA user_version = 6")
    db.close()
    store = SqliteStore(str(path))
    assert [m.id for m in store.find_messages()] == [1]
    assert store.subscribers() == [("8613800000007", "Kept", "on", 0, "run-1")]
    assert store.documents("merchant.order") == [("ord_0001", {"status": "paid"})]
    store.add_step(TimelineStep(at=1.0, namespace="run-1", msisdn="8613800000007", kind="http"))
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        listed = db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'timeline' AND type = 'index'")
        indexes = {name for (name,) in listed}
    db.close()
    assert indexes == {
        "timeline_by_msisdn",
        "timeline_by_namespace",
        "timeline_by_message_id",
        "timeline_by_order_id",
    }
    store = SqliteStore(str(path))
    assert [s.kind for s in store.timeline(namespace="run-1")] == ["http"]
    store.close()


def _pragma(path: Path, name: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"PRAGMA {name}").fetchone()[0])


def _fill(store: SqliteStore, count: int) -> None:
    for n in range(1, count + 1):
        store.insert_message(row(n, f"86138{n:08d}", body=b"x" * 400))
    store.commit()


def test_a_new_store_gives_pruned_pages_back_to_the_disk(tmp_path: Path) -> None:
    """Incremental vacuum is on from the start: after rows go, compact() frees their pages
    (every one asked for, not one a call) and the file shrinks."""
    path = tmp_path / "smsgw.db"
    store = SqliteStore(str(path))
    _fill(store, 3000)
    full, free = store.store_size()
    assert free == 0 and store.compactable
    store._db.execute("DELETE FROM messages WHERE id <= 2500")
    _, free = store.store_size()
    assert free > 100 * 4096
    assert store.compact(50) == free // 4096 - 50
    assert store.compact(100_000) == 0
    store.close()
    assert _pragma(path, "auto_vacuum") == 2 and path.stat().st_size < full / 3


def test_a_store_made_before_compaction_is_converted_once_at_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SqliteStore(str(path))
    _fill(store, 200)
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:  # as an earlier smsgw made it
        db.execute("PRAGMA auto_vacuum = NONE")
        db.execute("VACUUM")
    assert _pragma(path, "auto_vacuum") == 0
    store = SqliteStore(str(path))
    assert store.compactable and store.get_message(200) is not None
    store.close()
    assert _pragma(path, "auto_vacuum") == 2


def test_compact_all_gives_every_free_page_back_at_once(tmp_path: Path) -> None:
    """smsgw prune --compact: one call frees every page pruning left, not a few a tick."""
    path = tmp_path / "smsgw.db"
    store = SqliteStore(str(path))
    _fill(store, 3000)
    full, _ = store.store_size()
    store._db.execute("DELETE FROM messages WHERE id <= 2500")
    store.compact_all()
    size, free = store.store_size()
    store.close()
    assert free == 0 and size < full / 3 and path.stat().st_size < full / 3


def test_compact_all_converts_a_file_too_large_to_convert_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file made before compaction and over the size converted at open is converted by
    compact_all, whatever its size (smsgw prune --compact, while no smsgw runs)."""
    path = tmp_path / "old.db"
    store = SqliteStore(str(path))
    _fill(store, 3000)
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:  # as an earlier smsgw made it
        db.execute("PRAGMA auto_vacuum = NONE")
        db.execute("VACUUM")
    monkeypatch.setattr("smsgw.store.sqlite.CONVERT_AT_OPEN", 0)
    store = SqliteStore(str(path))
    assert not store.compactable
    store._db.execute("DELETE FROM messages WHERE id <= 2500")
    full, free = store.store_size()
    assert free > 0
    store.compact_all()
    size, free = store.store_size()
    assert store.compactable and free == 0 and size < full / 3
    store.close()
    assert _pragma(path, "auto_vacuum") == 2


def test_a_store_held_by_another_smsgw_is_refused_as_in_use(tmp_path: Path) -> None:
    path = str(tmp_path / "smsgw.db")
    holder = SqliteStore(path)
    with pytest.raises(StoreInUse, match="in use by another process"):
        SqliteStore(path)
    holder.close()
