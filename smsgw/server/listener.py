"""What every protocol's server shares: its open connections, a timer for their sessions, and
output that leaves at the end of the turn.

:class:`SessionServer` keeps the connections of one listener by session id, runs every
session's timers on one ticker (no timer per connection), and tells a graceful shutdown when
none is left; :class:`TurnOutput` is a connection's side of the
:class:`~smsgw.server.flusher.TurnFlusher`: its session's bytes are taken at the end of the
turn and written once what they answer is durable.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall

from smsgw.server.tcp import write_now


class TurnOutput:
    """A connection whose session queues output (``data_to_send``, ``close_reason``) that the
    flusher writes at the end of the turn, and that stops reading and delivering while its
    peer does not read; ``factory`` (``flusher``, ``carrier``), ``session``, ``link`` and
    ``transport`` are the protocol's."""

    factory: Any
    session: Any
    link: Any
    transport: Any

    def pauseProducing(self) -> None:
        """The transport's buffer is full: stop reading and stop sending deliveries."""
        self.session.send_paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """The transport drained: read again and let deliveries flow."""
        self.session.send_paused = False
        if self.may_read():
            self.transport.resumeProducing()
        binding = self.link.binding
        if binding is not None:
            self.factory.carrier.outbox.resume(binding.account.system_id)
            self.factory.flusher.mark(self)

    def may_read(self) -> bool:
        """Whether reading may resume now (not while earlier input still waits its turn)."""
        return True

    def stopProducing(self) -> None:
        """The transport is going away."""

    def output_ready(self) -> None:
        """The session has output; write it at the end of the turn."""
        self.factory.flusher.mark(self)

    def take_output(self) -> tuple[bytes, bool]:
        """What the session queued so far, and whether the connection closes after it."""
        return self.session.data_to_send(), self.session.close_reason is not None

    def write_output(self, output: tuple[bytes, bool]) -> None:
        """Write what :meth:`take_output` gave once it may go; close if it said so."""
        data, closing = output
        if self.transport is None:
            return
        if data:
            write_now(self.transport, data)
        if closing:
            self.transport.loseConnection()


class SessionServer(protocol.Factory):
    """One listener's connections by session id, their timers, and the wait for none to be left.

    :param tick_interval: how often the sessions' timers are checked, in seconds.
    """

    def __init__(self, reactor: Any, tick_interval: float) -> None:
        self.reactor = reactor
        self.connections: dict[int, Any] = {}
        self._idle_waiters: list[defer.Deferred[None]] = []
        self._ticker = LoopingCall(self.tick)
        self._ticker.clock = reactor
        self._tick_interval = tick_interval

    def startFactory(self) -> None:
        self._ticker.start(self._tick_interval, now=False)

    def stopFactory(self) -> None:
        if self._ticker.running:
            self._ticker.stop()

    def tick(self) -> None:
        """Run every session's timers."""
        now = self.reactor.seconds()
        for connection in list(self.connections.values()):
            connection.tick(now)

    def connection_gone(self, session_id: int) -> None:
        """Forget a closed connection; wake :meth:`when_idle` waiters once none is left."""
        self.connections.pop(session_id, None)
        if not self.connections:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def when_idle(self) -> defer.Deferred[None]:
        """A Deferred that fires once every connection has closed."""
        if not self.connections:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._idle_waiters.append(waiter)
        return waiter
