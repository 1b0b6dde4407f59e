"""Every store test that takes ``store`` runs on each store: SQLite (a file in the test's
tmp_path) and PostgreSQL (a fresh database on the session's throwaway server; skipped, with
the reason, where PostgreSQL cannot be had)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smsgw.store.interface import MessageStore

#: Opens a store of the test's kind: ``open_store(on_dropped=...)``; the same test database each call.
StoreOpener = Callable[..., Any]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    if request.param == "sqlite":
        from smsgw.store.sqlite import SqliteStore

        path = str(tmp_path / "smsgw.db")
        opened: list[Any] = []

        def open_sqlite(**options: Any) -> Any:
            for earlier in opened:  # one process holds a SQLite store: a reopen closes the last
                earlier.close()
            opened[:] = [SqliteStore(path, **options)]
            return opened[0]

        yield open_sqlite
        for store in opened:
            store.close()
        return
    url = request.getfixturevalue("postgres_url")
    from smsgw.store.postgres import PostgresStore

    stores: list[Any] = []

    def open_postgres(**options: Any) -> Any:
        for earlier in stores:  # one smsgw at a time uses a database: a reopen closes the last
            earlier.close()
        stores.append(PostgresStore(url, **options))
        return stores[-1]

    yield open_postgres
    for store in stores:
        store.close()


@pytest.fixture
def store(open_store: StoreOpener) -> MessageStore:
    return open_store()  # type: ignore[no-any-return]
