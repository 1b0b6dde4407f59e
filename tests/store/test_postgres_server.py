"""The throwaway PostgreSQL server the store's tests run against (tests/postgres.py) is a real
one, each test's database is its own, and where there is none the tests say why."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import (
    BIN_ENV,
    MAX_IDENTIFIER,
    PostgresError,
    PostgresServer,
    database_name,
    find_bin_dir,
    unavailable_reason,
)

# Where psycopg is missing the fixtures would skip, but only once this module has been imported.
psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")


def test_the_server_is_postgresql(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT version()").fetchone()
    assert row is not None and row[0].startswith("PostgreSQL "), row


def test_each_url_is_a_database_of_its_own(postgres_server: PostgresServer, postgres_url: str) -> None:
    other = postgres_server.create_database("t_other_than_the_fixtures")
    try:
        assert other != postgres_url
        with psycopg.connect(postgres_url) as connection:
            connection.execute("CREATE TABLE only_here (n INTEGER)")
        with psycopg.connect(other) as connection:
            found = connection.execute("SELECT to_regclass('only_here')").fetchone()
        assert found == (None,)
    finally:
        postgres_server.drop_database("t_other_than_the_fixtures")


def test_a_commit_is_there_for_the_next_connection(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE kept (text TEXT NOT NULL)")
        connection.execute("INSERT INTO kept VALUES (%s)", ("héllo ✓",))
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT text FROM kept").fetchall() == [("héllo ✓",)]


def test_the_server_is_set_up_for_throwaway_data(postgres_url: str) -> None:
    """fsync off, but a commit still waits for its write (see SETTINGS in tests/postgres.py)."""
    with psycopg.connect(postgres_url) as connection:
        settings = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["fsync", "full_page_writes", "synchronous_commit", "max_connections", "server_encoding"],),
            ).fetchall()
        )
    assert settings == {
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "on",
        "max_connections": "200",
        "server_encoding": "UTF8",
    }


@pytest.mark.parametrize("test_name", ["test_x[a-b]", "t" * 100])
def test_database_names_are_identifiers_postgresql_keeps_whole(test_name: str) -> None:
    name = database_name(7, test_name)
    assert name.startswith("t7_") and len(name) <= MAX_IDENTIFIER and name.replace("_", "").isalnum()


def test_the_override_is_the_only_place_looked_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_ENV, str(tmp_path))
    assert find_bin_dir() is None
    assert unavailable_reason() == (
        f"{BIN_ENV}={tmp_path} holds no initdb and pg_ctl; unset it to search PATH and /usr/lib/postgresql/*/bin"
    )
    for program in ("initdb", "pg_ctl"):
        (tmp_path / program).write_text("#!/bin/sh\n")
        (tmp_path / program).chmod(0o755)
    assert find_bin_dir() == tmp_path


def test_a_failed_start_says_why_and_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer()
    monkeypatch.setattr(server, "_initdb_arguments", lambda: ["--no-such-option"])
    made: list[Path] = []
    mkdtemp = tempfile.mkdtemp

    def recorded_mkdtemp(**arguments: Any) -> str:
        made.append(Path(mkdtemp(**arguments)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recorded_mkdtemp)
    with pytest.raises(PostgresError, match="initdb.* exited with 1:\n.*no-such-option"):
        server.start()
    assert len(made) == 1 and not made[0].exists() and server.directory is None
