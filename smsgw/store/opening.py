"""Which store a configuration names, opened: the one place that knows there are two."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from smsgw.store.interface import Store, StoreError

#: How a store URL names PostgreSQL (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def redact(url: str) -> str:
    """``url`` without its password, for logs and errors."""
    return _PASSWORD.sub(r"\1***@", url)


def is_postgres_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return location.startswith(POSTGRES_SCHEMES)


def open_store(
    location: str,
    *,
    synchronous: str = "NORMAL",
    on_dropped: Callable[[str, BaseException], None],
    call_soon: Callable[[Callable[[], None]], None] | None = None,
    node: str | None = None,
    lease: float = 10.0,
    on_error: Callable[[str, BaseException], None] = lambda what, error: None,
) -> Store:
    """The store at ``location``: a ``postgresql://`` URL, else a SQLite file path (or
    ``:memory:``). Both hold messages, subscribers and documents alike.

    :param synchronous: SQLite's ``synchronous`` (PostgreSQL's commits are durable as its
        server is configured).
    :param call_soon: how a PostgreSQL store tells a commit's end on the reactor's thread.
    :param node: this process's name among several on one PostgreSQL database (with its
        ``lease`` in seconds, and ``on_error`` told of its background jobs that failed).
    :raises StoreError: it cannot be opened; the message says why and how to fix it.
    """
    if is_postgres_url(location):
        try:
            from smsgw.store.nodes import PostgresNodeStore
            from smsgw.store.postgres import PostgresStore
        except ImportError as error:
            raise StoreError(
                f"the store is a PostgreSQL database, and its driver is not installed ({error}): "
                "pip install 'smsgw[postgres]'"
            ) from error
        if node is not None:
            return PostgresNodeStore(
                location, node, lease=lease, on_error=on_error, on_dropped=on_dropped, call_soon=call_soon
            )
        return PostgresStore(location, on_dropped=on_dropped, call_soon=call_soon)
    if node is not None:
        raise StoreError(
            f"node {node!r}: several nodes share a PostgreSQL database, not a file; "
            "give --store postgresql://… with --node"
        )
    from smsgw.store.sqlite import SqliteStore

    path = location if location == ":memory:" else os.path.abspath(location)
    return SqliteStore(path, synchronous=synchronous, on_dropped=on_dropped)


def describe(location: str) -> str:
    """``location`` as logs, the ports file and /api/health may show it: no password."""
    if is_postgres_url(location):
        return redact(location)
    return location if location == ":memory:" else os.path.abspath(location)
