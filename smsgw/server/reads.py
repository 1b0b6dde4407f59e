"""Where reads of the store run: on a thread of the reactor's pool when the store allows it
(a database server's round trip then holds up no connection), else where they are asked
(SQLite answers in microseconds, and is used from the reactor's thread alone).

A read off the reactor sees only what is committed, while a read on it sees what is queued
too. So it waits first for the turn's writes to be durable (``settle``): it then sees
everything done before it was asked, as a read on the reactor would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer, threads

from smsgw.frontend.later import ReadLater
from smsgw.store.interface import MessageStore

T = TypeVar("T")
#: Runs a read (a function of no arguments that only reads the store); fires with its result.
Reads = Callable[[Callable[[], Any]], "defer.Deferred[Any]"]


def store_reads(store: MessageStore, reactor: Any, settle: Callable[[], defer.Deferred[None]]) -> Reads:
    """How ``store`` is read without blocking the reactor (see the module).

    :param settle: fires once everything done so far is durable
        (:meth:`~smsgw.server.flusher.TurnFlusher.settle`).
    """
    if not store.reads_anywhere:
        return inline_reads
    pool = reactor.getThreadPool()

    def off_reactor(read: Callable[[], T]) -> defer.Deferred[T]:
        return settle().addCallback(lambda _: threads.deferToThreadPool(reactor, pool, read))

    return off_reactor


def inline_reads(read: Callable[[], T]) -> defer.Deferred[T]:
    """Run ``read`` now, on this thread."""
    return defer.execute(read)


def read_later(reads: Reads) -> ReadLater:
    """``reads`` as a front end without Twisted calls it: ``run(read, then, failed)``."""

    def run(
        read: Callable[[], Any], then: Callable[[Any], None], failed: Callable[[BaseException], None]
    ) -> None:
        reads(read).addCallbacks(then, lambda failure: failed(failure.value))

    return run
