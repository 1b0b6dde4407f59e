"""The end of a reactor turn: what the turn did becomes durable, then its output goes out.

Once per turn (:meth:`TurnFlusher.mark` asks for it) the carrier hands its queued deliveries
to their binds, the store commits every write of the turn in one transaction (group commit),
and only when that commit is durable are the connections' answers and deliveries written. A
store that commits on this thread (SQLite) makes that one step; one whose commit travels to
a server (PostgreSQL) tells us later, and the reactor serves other turns meanwhile: their
output waits for the next commit, which starts as soon as the one in flight has landed and
takes everything queued by then. So a response never leaves before what it answers is
stored, and output on each connection keeps its order.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsgw.carrier.carrier import Carrier

log = Logger()


class Connection(Protocol):
    """What the flusher needs of a connection."""

    def take_output(self) -> tuple[bytes, bool]:
        """What the connection has to send so far, and whether it closes after that."""

    def write_output(self, output: tuple[bytes, bool]) -> None:
        """Send what :meth:`take_output` gave (closing after it when it said so)."""

    def abort(self, reason: str) -> None:
        """Drop the connection without sending anything more."""


_Held = tuple[list[tuple[Connection, tuple[bytes, bool]]], list[defer.Deferred[None]]]
_NOTHING_HELD: _Held = ([], [])


class TurnFlusher:
    """Commits each turn's work, then writes the output that waited for it."""

    def __init__(self, reactor: IReactorTime, carrier: Carrier) -> None:
        self._reactor = reactor
        self._carrier = carrier
        self._dirty: dict[Connection, None] = {}
        self._scheduled = False
        #: A commit is in flight: what the turns produce meanwhile waits for the next one.
        self._committing = False
        self._again = False
        #: Lazy writes are due too (the periodic tick), not only those that gate output.
        self._lazy = False
        self._settling: list[defer.Deferred[None]] = []
        #: The output and the settle waiters that wait for the commit in flight.
        self._held: _Held = _NOTHING_HELD

    def mark(self, connection: Connection | None = None, *, lazy: bool = False) -> None:
        """Ask for a flush at the end of this turn (and for ``connection``'s output to be
        written); ``lazy``: commit lazy writes too, even if nothing else needs a commit."""
        if connection is not None:
            self._dirty[connection] = None
        if lazy:
            self._lazy = True
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self.flush)

    def flush(self) -> None:
        """Dispatch deliveries, commit, then write every connection that has output."""
        self._scheduled = False
        if self._committing:
            self._again = True
            return
        carrier = self._carrier
        try:
            carrier.dispatch()
        except Exception:
            self._failed(Failure(), list(self._dirty), self._settling)
            self._dirty, self._settling = {}, []
            return
        held = []
        for connection in self._dirty:
            held.append((connection, connection.take_output()))
        self._dirty = {}
        self._held, self._settling = (held, self._settling), []
        store = carrier.store
        if store.urgent or (self._lazy and store.dirty):
            self._lazy = False
            self._committing = True
            store.commit_then(self._committed)
        else:
            self._committed(None)

    def settle(self) -> defer.Deferred[None]:
        """Flush now; fires once everything done so far is durable and written (at once
        with SQLite). It fails when the commit failed."""
        waiter: defer.Deferred[None] = defer.Deferred()
        self._settling.append(waiter)
        self.flush()
        return waiter

    def _committed(self, error: BaseException | None) -> None:
        """The commit of what is held landed (or none was needed): let the output go."""
        self._committing = False
        held, waiters = self._held
        self._held = _NOTHING_HELD
        if error is None:
            for connection, output in held:
                connection.write_output(output)
            for waiter in waiters:
                waiter.callback(None)
        else:
            self._failed(Failure(error), [connection for connection, _ in held], waiters)
        if self._again:
            self._again = False
            self.flush()

    @staticmethod
    def _failed(failure: Failure, connections: list[Connection], waiters: list[defer.Deferred[None]]) -> None:
        # Nothing of these turns is durable: answer none of it. The ESMEs see their
        # connections drop and resubmit, which is what a crashed SMSC would cause.
        log.failure("store commit failed; closing the connections waiting on it", failure)
        for connection in connections:
            connection.abort("store commit failed")
        for waiter in waiters:
            waiter.errback(failure)
