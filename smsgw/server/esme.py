"""smsgw's own ESME over Twisted: a thin adapter over :class:`~smsgw.smpp.esme.EsmeSession`.

The mock merchant binds to the carrier with it, exactly as a shop's gateway would:
``submit(pdu)`` returns a Deferred of the submit_sm_resp, deliveries go to a handler whose
answer (a command_status, or a Deferred of one) becomes the deliver_sm_resp, and a lost
connection is made again after a pause.

A request that was sent but never answered because its connection broke (an SMSC restart, an
injected ``drop_connection``) is sent again once bound again, as real ESMEs do; one made
while the client is between connections waits for the bind. Either gives up after
``resend_limit`` lost connections, or when no bind comes within the response timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsgw.server.tcp import quick_ack, tune_socket, write_now
from smsgw.smpp.constants import status_name
from smsgw.smpp.esme import Answered, BindRefused, Bound, Delivered, EsmeConfig, EsmeEvent, EsmeSession
from smsgw.smpp.pdu import Pdu
from smsgw.smpp.session import ResponseTimedOut, ResponseUnmatched, SessionClosing
from smsgw.smpp.sm import DataSm, DeliverSm

log = Logger(namespace="smsgw.esme")

#: A delivery handler: the deliver_sm (or data_sm) → its command_status, or a Deferred of it.
DeliveryHandler = Callable[[DeliverSm | DataSm], "int | defer.Deferred[int]"]


class EsmeError(Exception):
    """A request got an error status, no answer, or its connection went away."""

    def __init__(self, message: str, command_status: int | None = None) -> None:
        super().__init__(message)
        self.command_status = command_status


@attrs.define(eq=False)
class _Request:
    """A request until it is answered: what to resend, and whom to tell."""

    pdu: Pdu
    answer: defer.Deferred[Pdu]
    since: float
    lost: int = 0  # connections it was sent on that broke before the answer


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

    def _handle(self, event: EsmeEvent) -> None:
        client = self.client
        if isinstance(event, Answered):
            deferred: defer.Deferred[Pdu] = event.context.answer
            status = event.response.command_status
            if status:
                deferred.errback(EsmeError(f"{client.config.system_id}: {status_name(status)}", status))
            else:
                deferred.callback(event.response)
        elif isinstance(event, Delivered):
            self._deliver(event.pdu)
        elif isinstance(event, ResponseTimedOut):
            event.context.answer.errback(
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
        elif isinstance(event, ResponseUnmatched):
            log.warn("{system_id}: {reason}; ignored", system_id=client.config.system_id, reason=event.reason)

    def _deliver(self, pdu: DeliverSm | DataSm) -> None:
        answer = defer.maybeDeferred(self.client.on_delivery, pdu)

        def respond(status: int) -> None:
            self.session.respond(pdu, status)
            self.flush()

        def failed(failure: Failure) -> None:
            log.failure("delivery handler failed; answering ESME_RX_T_APPN", failure)
            respond(0x64)

        answer.addCallbacks(respond, failed)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.client.lost(self, self.session.connection_lost())


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
        resend_limit: int = 3,
    ) -> None:
        self.config = config
        self.resend_limit = resend_limit
        self.reactor = reactor
        self.on_delivery = on_delivery
        self._connect = connect
        self.retry_delay = retry_delay
        self.connection: EsmeClientProtocol | None = None
        self._waiters: list[defer.Deferred[None]] = []
        #: Requests waiting for a bind: made between connections, or lost with one.
        self._unsent: list[_Request] = []
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
        """Unbind and stop reconnecting; requests waiting for a bind fail."""
        self._running = False
        if self._ticker.running:
            self._ticker.stop()
        unsent, self._unsent = self._unsent, []
        for request in unsent:
            request.answer.errback(EsmeError(f"{self.config.system_id}: stopped before the request was sent"))
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
        self._send_unsent()
        self._give_up_waiting()

    # -- from the protocol -----------------------------------------------------------

    def bound(self, connection: EsmeClientProtocol) -> None:
        """A bind was accepted."""
        self.connection = connection
        self._send_unsent()
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

    def lost(self, connection: EsmeClientProtocol, unanswered: list[Any]) -> None:
        """A connection ended; bind again after the pause, then resend what it never answered."""
        if self.connection is connection:
            self.connection = None
        for request in unanswered:
            request.lost += 1
            if self._running and request.lost <= self.resend_limit:
                log.info(
                    "{system_id}: {command} to {destination} unanswered when the connection was lost;"
                    " resending it once bound again",
                    system_id=self.config.system_id,
                    command=type(request.pdu).__name__,
                    destination=getattr(request.pdu, "destination_addr", "?"),
                )
                request.since = self.reactor.seconds()
                self._unsent.append(request)
            else:
                request.answer.errback(
                    EsmeError(
                        f"{self.config.system_id}: the connection to the SMSC was lost {request.lost} times"
                    )
                )
        if self._running:
            self.reactor.callLater(self.retry_delay, self._attempt)

    # -- requests --------------------------------------------------------------------

    def submit(self, pdu: Pdu) -> defer.Deferred[Pdu]:
        """Send a request (submit_sm, data_sm, ...); fires with its response.

        Between connections (after :meth:`start`) the request waits for the bind.

        :raises EsmeError: (in the Deferred) when not started, the window is full, the status is
            an error, or no answer comes.
        """
        connection = self.connection
        if connection is None and self._running:
            request = _Request(pdu, defer.Deferred(), self.reactor.seconds())
            self._unsent.append(request)
            return request.answer
        if connection is None or not connection.session.can_send:
            why = "not bound" if connection is None else "the window is full"
            return defer.fail(EsmeError(f"{self.config.system_id}: cannot send now: {why}"))
        request = _Request(pdu, defer.Deferred(), self.reactor.seconds())
        self._send(connection, request)
        return request.answer

    def _send(self, connection: EsmeClientProtocol, request: _Request) -> None:
        connection.session.send(request.pdu, self.reactor.seconds(), request)
        connection.flush()

    def _send_unsent(self) -> None:
        connection = self.connection
        while self._unsent and connection is not None and connection.session.can_send:
            self._send(connection, self._unsent.pop(0))

    def _give_up_waiting(self) -> None:
        """Fail the requests that waited longer than the response timeout for a bind."""
        deadline = self.reactor.seconds() - self.config.response_timeout
        stale = [request for request in self._unsent if request.since <= deadline]
        for request in stale:
            self._unsent.remove(request)
            request.answer.errback(
                EsmeError(f"{self.config.system_id}: not bound within {self.config.response_timeout:g} s")
            )
