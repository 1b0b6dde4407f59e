"""smsgw's own ESME over Twisted: a thin adapter over :class:`~smsgw.smpp.esme.EsmeSession`.

The mock merchant binds to the carrier with it, exactly as a shop's gateway would:
``submit(pdu)`` returns a Deferred of the submit_sm_resp, deliveries go to a handler whose
answer (a command_status, or a Deferred of one) becomes the deliver_sm_resp, and a lost
connection is made again after a pause.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsgw.server.tcp import quick_ack, tune_socket, write_now
from smsgw.smpp.constants import status_name
from smsgw.smpp.esme import Answered, BindRefused, Bound, Delivered, EsmeConfig, EsmeSession
from smsgw.smpp.pdu import Pdu
from smsgw.smpp.session import ResponseTimedOut, SessionClosing

log = Logger(namespace="smsgw.esme")

#: A delivery handler: the deliver_sm (or data_sm) → its command_status, or a Deferred of it.
DeliveryHandler = Callable[[Any], "int | defer.Deferred[int]"]


class EsmeError(Exception):
    """A request got an error status, no answer, or its connection went away."""

    def __init__(self, message: str, command_status: int | None = None) -> None:
        super().__init__(message)
        self.command_status = command_status


class EsmeClientProtocol(protocol.Protocol):
    """One connection of :class:`EsmeClient`."""

    def __init__(self, client: EsmeClient) -> None:
        self.client = client
        self.session = EsmeSession(client.config, client.reactor.seconds())
        self._socket: Any = None

    def connectionMade(self) -> None:
        self._socket = tune_socket(self.transport)
        self.session.start(self.client.reactor.seconds())
        self.flush()

    def dataReceived(self, data: bytes) -> None:
        if self._socket is not None and not quick_ack(self._socket):
            self._socket = None
        for event in self.session.receive_data(data, self.client.reactor.seconds()):
            self._handle(event)
        self.flush()

    def tick(self) -> None:
        """Let the session's timers run."""
        for event in self.session.tick(self.client.reactor.seconds()):
            self._handle(event)
        self.flush()

    def flush(self) -> None:
        """Write what the session queued; close when it is ending."""
        data = self.session.data_to_send()
        if data and self.transport is not None:
            write_now(self.transport, data)
        if self.session.close_reason is not None and self.transport is not None:
            self.transport.loseConnection()

    def _handle(self, event: Any) -> None:
        client = self.client
        if isinstance(event, Answered):
            deferred: defer.Deferred[Pdu] = event.context
            status = event.response.command_status
            if status:
                deferred.errback(EsmeError(f"{client.config.system_id}: {status_name(status)}", status))
            else:
                deferred.callback(event.response)
        elif isinstance(event, Delivered):
            self._deliver(event.pdu)
        elif isinstance(event, ResponseTimedOut):
            event.context.errback(
                EsmeError(f"{client.config.system_id}: no answer within the response timeout")
            )
        elif isinstance(event, Bound):
            log.info(
                "{system_id} bound to {smsc}", system_id=client.config.system_id, smsc=event.smsc_system_id
            )
            client.bound(self)
        elif isinstance(event, BindRefused):
            client.refused(event.command_status)
        elif isinstance(event, SessionClosing):
            log.info("{system_id}: {reason}", system_id=client.config.system_id, reason=event.reason)

    def _deliver(self, pdu: Any) -> None:
        answer = defer.maybeDeferred(self.client.on_delivery, pdu)

        def respond(status: int) -> None:
            self.session.respond(pdu, status)
            self.flush()

        def failed(failure: Failure) -> None:
            log.failure("delivery handler failed; answering ESME_RX_T_APPN", failure)
            respond(0x64)

        answer.addCallbacks(respond, failed)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        for deferred in self.session.connection_lost():
            deferred.errback(EsmeError("the connection to the SMSC was lost"))
        self.client.lost(self)


class EsmeClient(protocol.ClientFactory):
    """An ESME that stays bound: connects, binds, and reconnects after losing its connection.

    :param connect: makes one connection attempt with this factory (an endpoint's connect).
    :param on_delivery: handles each deliver_sm/data_sm; returns the status to answer with.
    :param retry_delay: seconds between connection attempts.
    """

    def __init__(
        self,
        config: EsmeConfig,
        reactor: Any,
        connect: Callable[[protocol.ClientFactory], defer.Deferred[Any]],
        on_delivery: DeliveryHandler,
        *,
        retry_delay: float = 1.0,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.on_delivery = on_delivery
        self._connect = connect
        self.retry_delay = retry_delay
        self.connection: EsmeClientProtocol | None = None
        self._waiters: list[defer.Deferred[None]] = []
        self._running = False
        self._ticker = LoopingCall(self._tick)
        self._ticker.clock = reactor
        self.noisy = False  # one "Starting factory" line per reconnect says nothing

    def buildProtocol(self, addr: Any) -> EsmeClientProtocol:
        return EsmeClientProtocol(self)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Connect and keep connecting."""
        self._running = True
        self._ticker.start(0.5, now=False)
        self._attempt()

    def stop(self) -> None:
        """Unbind and stop reconnecting."""
        self._running = False
        if self._ticker.running:
            self._ticker.stop()
        if self.connection is not None:
            self.connection.session.unbind(self.reactor.seconds())
            self.connection.flush()

    def when_bound(self) -> defer.Deferred[None]:
        """A Deferred that fires once a bind is accepted (at once when bound)."""
        if self.connection is not None:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def _attempt(self) -> None:
        if not self._running:
            return
        attempt = self._connect(self)
        attempt.addErrback(self._retry_later)

    def _retry_later(self, failure: Failure) -> None:
        log.info(
            "{system_id}: cannot reach the SMSC ({why}); retrying",
            system_id=self.config.system_id,
            why=failure.getErrorMessage(),
        )
        if self._running:
            self.reactor.callLater(self.retry_delay, self._attempt)

    def _tick(self) -> None:
        if self.connection is not None:
            self.connection.tick()

    # -- from the protocol -----------------------------------------------------------

    def bound(self, connection: EsmeClientProtocol) -> None:
        """A bind was accepted."""
        self.connection = connection
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def refused(self, command_status: int) -> None:
        """A bind was refused: wrong credentials do not get better by retrying fast."""
        log.error(
            "{system_id}: bind refused with {status}",
            system_id=self.config.system_id,
            status=status_name(command_status),
        )

    def lost(self, connection: EsmeClientProtocol) -> None:
        """A connection ended; bind again after the pause."""
        if self.connection is connection:
            self.connection = None
        if self._running:
            self.reactor.callLater(self.retry_delay, self._attempt)

    # -- requests --------------------------------------------------------------------

    def submit(self, pdu: Pdu) -> defer.Deferred[Pdu]:
        """Send a request (submit_sm, data_sm, ...); fires with its response.

        :raises EsmeError: (in the Deferred) when not bound, the window is full, the status is
            an error, or no answer comes.
        """
        connection = self.connection
        if connection is None or not connection.session.can_send:
            why = "not bound" if connection is None else "the window is full"
            return defer.fail(EsmeError(f"{self.config.system_id}: cannot send now: {why}"))
        answer: defer.Deferred[Pdu] = defer.Deferred()
        connection.session.send(pdu, self.reactor.seconds(), answer)
        connection.flush()
        return answer
