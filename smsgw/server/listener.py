"""What every protocol's server shares: its open connections, a timer for their sessions,
input taken a slice a turn, and output that leaves at the end of the turn.

:class:`SessionServer` keeps the connections of one listener by session id, runs every
session's timers on one ticker (no timer per connection), and tells a graceful shutdown when
none is left; :class:`TurnConnection` is a connection's side of a turn: its input handled a
slice at a time, and its session's bytes, at the end of the turn, written once what they
answer is durable (:class:`~smsgw.server.flusher.TurnFlusher`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsgw.server.tcp import quick_ack, write_now

#: Octets of one connection's input handled in one reactor turn. A client that pipelines as
#: fast as it can (an enquire_link storm: 4,096 PDUs in one 64 KiB read) is handled a slice
#: at a time, the rest in the next turns, so every other connection gets its turn in between
#: instead of waiting as long as the whole read takes. 16 KiB holds two windows of 100 submit_sm.
INPUT_SLICE = 16 * 1024


class TurnConnection:
    """A connection as every protocol's server keeps it: its input handled a slice a turn,
    its session's output (``data_to_send``, ``close_reason``) written by the flusher at the end
    of the turn, its timers run by the listener's ticker, and no reading or delivering while
    its peer does not read. The protocol gives ``factory`` (``flusher``, ``carrier``,
    ``reactor``, ``connection_gone``), ``session``, ``link``, ``transport``, ``session_id``,
    its logger, ``_handlers`` (event type → handler) and ``_failed``, and ``_handle``, which
    feeds the session bytes and acts on its events."""

    factory: Any
    session: Any
    link: Any
    transport: Any
    session_id: int
    _socket: Any
    log: Logger
    #: How log lines name a session of this protocol.
    label = "session"
    _handlers: dict[type, Callable[[Any], None]]
    _failed: Callable[[Any], None]
    _handle: Callable[[bytes], None]
    #: Input read but not yet handled: it waits for the next turns (see INPUT_SLICE).
    _waiting = b""

    def dataReceived(self, data: bytes) -> None:
        if self._socket is not None and not quick_ack(self._socket):
            self._socket = None
        if self._waiting:  # input of an earlier read still waits for its turn: keep the order
            self._waiting += data
            return
        if len(data) > INPUT_SLICE:
            self._waiting, data = data[INPUT_SLICE:], data[:INPUT_SLICE]
            self.transport.pauseProducing()
            self.factory.reactor.callLater(0, self._next_slice)
        self._handle(data)

    def _next_slice(self) -> None:
        if not self._waiting:  # the connection went meanwhile
            return
        data, self._waiting = self._waiting[:INPUT_SLICE], self._waiting[INPUT_SLICE:]
        if self._waiting:
            self.factory.reactor.callLater(0, self._next_slice)
        elif not self.session.send_paused:
            self.transport.resumeProducing()
        self._handle(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._waiting = b""
        lost = self.session.connection_lost()
        self.factory.connection_gone(self.session_id)
        reason_text = self.session.close_reason or reason.getErrorMessage()
        link = self.link
        if link.binding is not None:
            link.lost(lost.contexts, reason_text)
            self.factory.flusher.mark()
            self.log.info(
                "{label} {session_id} of {system_id} ended: {reason}",
                label=self.label,
                session_id=self.session_id,
                system_id=link.system_id,
                reason=reason_text,
            )

    def tick(self, now: float) -> None:
        """Let the session's timers run (the listener's ticker calls it)."""
        for event in self.session.tick(now):
            try:
                self._handlers[type(event)](event)
            except Exception:
                self._failed(event)
        if self.session.has_data_to_send or self.session.close_reason is not None:
            self.factory.flusher.mark(self)

    def abort(self, reason: str) -> None:
        """Drop the connection now, without writing what is pending."""
        self.session.close(reason)
        self.session.data_to_send()
        self.transport.abortConnection()

    def pauseProducing(self) -> None:
        """The transport's buffer is full: stop reading and stop sending deliveries."""
        self.session.send_paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """The transport drained: read again and let deliveries flow."""
        self.session.send_paused = False
        if not self._waiting:  # else reading resumes once what was read is handled
            self.transport.resumeProducing()
        binding = self.link.binding
        if binding is not None:
            self.factory.carrier.outbox.resume(binding.account.system_id)
            self.factory.flusher.mark(self)

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
