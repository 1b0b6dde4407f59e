"""A PostgreSQL store migrates its schema at start, once however many processes start
together, refuses a schema newer than it knows, and says which database it could not reach
(never with its password)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'smsgw[postgres]')")

from smsgw.store.interface import StoreError  # noqa: E402
from smsgw.store.opening import redact  # noqa: E402
from smsgw.store.postgres import SCHEMA_VERSION, PostgresStore  # noqa: E402
from smsgw.store.records import TimelineStep  # noqa: E402
from tests.store.test_stores import ALICE, row  # noqa: E402


def schema_version(url: str) -> list[int]:
    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT version FROM smsgw_schema")]


def test_a_fresh_database_gets_the_current_schema(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    assert schema_version(postgres_url) == [SCHEMA_VERSION]


def test_processes_starting_together_migrate_once_and_one_keeps_the_database(postgres_url: str) -> None:
    def open_store(_: int) -> PostgresStore | StoreError:
        try:
            return PostgresStore(postgres_url)
        except StoreError as refused:
            return refused

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(open_store, range(4)))
    opened = [o for o in outcomes if isinstance(o, PostgresStore)]
    assert len(opened) == 1
    assert all("in use by another process" in str(o) for o in outcomes if isinstance(o, StoreError))
    opened[0].close()
    assert schema_version(postgres_url) == [SCHEMA_VERSION]


def test_a_schema_from_a_newer_smsgw_is_refused(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url) as db:
        db.execute("UPDATE smsgw_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}; this smsgw reads version"):
        PostgresStore(postgres_url)


def test_a_database_that_does_not_answer_is_named_without_its_password() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://smsgw:s3cret@127.0.0.1:{port}/smsgw"
    with pytest.raises(StoreError) as refused:
        PostgresStore(url, connect_timeout=1)
    assert f"cannot connect to the store postgresql://smsgw:***@127.0.0.1:{port}/smsgw" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_redact_keeps_everything_but_the_password() -> None:
    assert redact("postgresql://u:p@h:5/d?sslmode=require") == "postgresql://u:***@h:5/d?sslmode=require"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"


def test_one_smsgw_at_a_time_uses_a_database(postgres_url: str) -> None:
    first = PostgresStore(postgres_url)
    with pytest.raises(StoreError, match="is in use by another process"):
        PostgresStore(postgres_url)
    first.close()  # its connection ends, and with it the lock
    PostgresStore(postgres_url).close()


def test_a_version_5_database_gains_the_timeline_and_keeps_its_messages(postgres_url: str) -> None:
    """A database of the last version is migrated at start: the timeline is added, the rest kept."""
    store = PostgresStore(postgres_url)
    store.insert_message(row(1, ALICE))
    store.close()
    with psycopg.connect(postgres_url) as db:
        db.execute("DROP TABLE timeline")  # its indexes go with it
        db.execute("UPDATE smsgw_schema SET version = 5")
    store = PostgresStore(postgres_url)
    assert [m.id for m in store.find_messages()] == [1]
    store.add_step(TimelineStep(at=1.0, namespace="run-1.7", msisdn=ALICE, kind="http"))
    assert [s.kind for s in store.timeline(namespace="run-1")] == ["http"]
    store.close()
    assert schema_version(postgres_url) == [SCHEMA_VERSION] == [7]
    with psycopg.connect(postgres_url) as db:
        listed = db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'timeline'").fetchall()
        (collation,) = db.execute(
            "SELECT collation_name FROM information_schema.columns"
            " WHERE table_name = 'timeline' AND column_name = 'namespace'"
        ).fetchone() or (None,)
    # Byte order whatever the database's locale: a namespace's range holds what is inside it.
    assert collation == "C"
    assert {name for (name,) in listed} == {
        "timeline_pkey",
        "timeline_by_msisdn",
        "timeline_by_namespace",
        "timeline_by_message_id",
        "timeline_by_order_id",
    }


def test_autovacuum_follows_retention_closely(postgres_url: str) -> None:
    """Pruned rows' space is reused after a fiftieth of a table is dead, not a fifth."""
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url) as db:
        options = dict(db.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN ('messages', 'timeline')"
        ).fetchall())  # fmt: skip
    for table in ("messages", "timeline"):
        assert "autovacuum_vacuum_scale_factor=0.02" in options[table], table
