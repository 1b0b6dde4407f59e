"""smsgw's own ESME over Twisted: a thin adapter over :class:`~smsgw.smpp.esme.EsmeSession`
(or, with :data:`CMPP`, an SP over :class:`~smsgw.cmpp.sp.SpSession`: the same client).

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

from smsgw.cmpp import session as cmpp_session
from smsgw.cmpp import sp as cmpp_sp
from smsgw.cmpp.sp import SpConfig
from smsgw.server.tcp import quick_ack, tune_socket, write_now
from smsgw.smpp import esme as smpp_esme
from smsgw.smpp import session as smpp_session
from smsgw.smpp.constants import status_name
from smsgw.smpp.esme import EsmeConfig

log = Logger(namespace="smsgw.esme")

#: A delivery handler: the deliver_sm, data_sm or CMPP_DELIVER → the status to answer it
#: with, or a Deferred of it.
DeliveryHandler = Callable[[Any], "int | defer.Deferred[int]"]


@attrs.frozen
class Dialect:
    """What differs between an ESME's session and an SP's, for one client to drive either.

    :ivar new_session: ``(config, now)`` → a session (``EsmeSession`` or ``SpSession``).
    :ivar status_of: a response's status (SMPP command_status, CMPP Result).
    :ivar status_name: a status for logs.
    :ivar retry_status: the answer to a delivery the handler failed on: "send it again later".
    :ivar events: the session's event classes: bound, refused, answered, delivered, timed
        out, closing, unmatched.
    """

    new_session: Callable[[Any, float], Any]
    status_of: Callable[[Any], int]
    status_name: Callable[[int], str]
    retry_status: int
    events: tuple[type[Any], type[Any], type[Any], type[Any], type[Any], type[Any], type[Any]]


SMPP = Dialect(
    smpp_esme.EsmeSession,
    lambda response: int(response.command_status),
    status_name,
    0x64,  # ESME_RX_T_APPN
    (
        smpp_esme.Bound, smpp_esme.BindRefused, smpp_esme.Answered, smpp_esme.Delivered,
        smpp_session.ResponseTimedOut, smpp_session.SessionClosing, smpp_session.ResponseUnmatched,
    ),
)  # fmt: skip
CMPP = Dialect(
    cmpp_sp.SpSession,
    # SUBMIT_RESP's Result, CANCEL_RESP's Success_Id (1: not cancelled); QUERY_RESP has none.
    lambda response: int(getattr(response, "result", getattr(response, "success_id", 0))),
    lambda result: f"Result {result}",
    9,  # other: the gateway delivers it again later
    (
        cmpp_sp.Bound, cmpp_sp.BindRefused, cmpp_sp.Answered, cmpp_sp.Delivered,
        cmpp_session.ResponseTimedOut, cmpp_session.SessionClosing, cmpp_session.ResponseUnmatched,
    ),
)  # fmt: skip


class EsmeError(Exception):
    """A request got an error status, no answer, or its connection went away."""

    def __init__(self, message: str, command_status: int | None = None) -> None:
        super().__init__(message)
        self.command_status = command_status


@attrs.define(eq=False)
class _Request:
    """A request until it is answered: what to resend, and whom to tell."""

    pdu: Any
    answer: defer.Deferred[Any]
    since: float
    lost: int = 0  # connections it was sent on that broke before the answer


class EsmeClientProtocol(protocol.Protocol):
    """One connection of :class:`EsmeClient`."""

    def __init__(self, client: EsmeClient) -> None:
        self.client = client
        self.session = client.dialect.new_session(client.config, client.reactor.seconds())
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
        dialect = client.dialect
        bound, refused, answered, delivered, timed_out, closing, unmatched = dialect.events
        if isinstance(event, answered):
            deferred: defer.Deferred[Any] = event.context.answer
            status = dialect.status_of(event.response)
            if status:
                deferred.errback(
                    EsmeError(f"{client.config.system_id}: {dialect.status_name(status)}", status)
                )
            else:
                deferred.callback(event.response)
        elif isinstance(event, delivered):
            self._deliver(event.pdu)
        elif isinstance(event, timed_out):
            event.context.answer.errback(
                EsmeError(f"{client.config.system_id}: no answer within the response timeout")
            )
        elif isinstance(event, bound):
            log.info(
                "{system_id} bound to {smsc}", system_id=client.config.system_id, smsc=event.smsc_system_id
            )
            client.bound(self)
        elif isinstance(event, refused):
            client.refused(event.command_status)
        elif isinstance(event, closing):
            log.info("{system_id}: {reason}", system_id=client.config.system_id, reason=event.reason)
        elif isinstance(event, unmatched):
            log.warn("{system_id}: {reason}; ignored", system_id=client.config.system_id, reason=event.reason)

    def _deliver(self, pdu: Any) -> None:
        answer = defer.maybeDeferred(self.client.on_delivery, pdu)

        def respond(status: int) -> None:
            self.session.respond(pdu, status)
            self.flush()

        def failed(failure: Failure) -> None:
            retry = self.client.dialect.retry_status
            log.failure(
                "delivery handler failed; answering {status}",
                failure,
                status=self.client.dialect.status_name(retry),
            )
            respond(retry)

        answer.addCallbacks(respond, failed)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.client.lost(self, self.session.connection_lost())


class EsmeClient(protocol.ClientFactory):
    """An ESME that stays bound: connects, binds, and reconnects after losing its connection.

    :param connect: makes one connection attempt with this factory (an endpoint's connect).
    :param on_delivery: handles each deliver_sm/data_sm (CMPP_DELIVER); returns the status
        to answer with.
    :param retry_delay: seconds between connection attempts.
    :param dialect: :data:`SMPP` (an ESME, ``config`` an ``EsmeConfig``) or :data:`CMPP` (an
        SP, ``config`` an ``SpConfig``: a "bind" is its CMPP_CONNECT).
    """

    def __init__(
        self,
        config: EsmeConfig | SpConfig,
        reactor: Any,
        connect: Callable[[protocol.ClientFactory], defer.Deferred[Any]],
        on_delivery: DeliveryHandler,
        *,
        retry_delay: float = 1.0,
        resend_limit: int = 3,
        dialect: Dialect = SMPP,
    ) -> None:
        self.config = config
        self.dialect = dialect
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
            status=self.dialect.status_name(command_status),
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

    def submit(self, pdu: Any) -> defer.Deferred[Any]:
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
