"""Where the API's reads of the store run: on a thread of the reactor's pool when the store
allows it (a database server's round trip then holds up no connection), else where they are
asked (SQLite answers in microseconds, and is used from the reactor's thread alone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer, threads

from smsgw.store.interface import MessageStore

T = TypeVar("T")
#: Runs a read (a function of no arguments that only reads the store); fires with its result.
Reads = Callable[[Callable[[], Any]], "defer.Deferred[Any]"]


def store_reads(store: MessageStore, reactor: Any) -> Reads:
    """How ``store`` is read from the API without blocking the reactor (see the module)."""
    if store.reads_anywhere:
        return lambda read: threads.deferToThreadPool(reactor, reactor.getThreadPool(), read)
    return inline_reads


def inline_reads(read: Callable[[], T]) -> defer.Deferred[T]:
    """Run ``read`` now, on this thread."""
    return defer.execute(read)
