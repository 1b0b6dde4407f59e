"""The SMPP server: a thin Twisted adapter between TCP connections and the carrier.

Each connection owns a sans-I/O :class:`SmscSession`. Received bytes go into the session;
its events go to the :class:`Carrier`; output is not written at once but at the end of the
reactor turn, once :class:`~smsgw.server.flusher.TurnFlusher` has made the turn's work
durable (group commit). See :mod:`smsgw.server.tcp` for the socket options and the direct write that keep
one-message-at-a-time clients fast.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import Any

from twisted.internet import protocol
from twisted.logger import Logger

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.frontend.smpp.link import SessionTotals, SmppLink
from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.server.eventlog import BudgetedLog
from smsgw.server.flusher import TurnFlusher
from smsgw.server.lag import SLOW_TURN, slow_turn
from smsgw.server.listener import SessionServer, TurnConnection
from smsgw.server.reads import read_later, store_reads
from smsgw.server.tcp import tune_socket
from smsgw.smpp.constants import CommandStatus, status_name
from smsgw.smpp.pdu import CancelSm, QuerySm, ReplaceSm
from smsgw.smpp.session import (
    BindRequested,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseTimedOut,
    ResponseUnmatched,
    SessionClosing,
    SessionConfig,
    SmscSession,
    UnbindRequested,
)
from smsgw.smpp.sm import DataSm, SubmitMulti, SubmitSm

log = Logger(namespace="smsgw.smpp")
_CARRIER_REQUESTS = (SubmitSm, DataSm, SubmitMulti, QuerySm, CancelSm, ReplaceSm)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class SmppServerProtocol(TurnConnection, protocol.Protocol):
    """One ESME connection."""

    log = log

    #: Why this connection is over a limit (its bind is refused and it is closed), or None.
    over_limit: str | None = None

    def __init__(self, factory: SmppServerFactory, session_id: int) -> None:
        self.factory = factory
        self.session_id = session_id
        self.host = self.peer = "?"
        self.session = SmscSession(factory.session_config, factory.reactor.seconds())
        self.link = SmppLink(
            factory.carrier,
            self.session,
            session_id,
            self.peer,
            self.output_ready,
            factory.totals,
            factory.pdu_log,
            factory.read_later,
        )
        # Requests and answers go straight to the link: no adapter frame on the hot path.
        self._handlers: dict[type, Any] = {cls: self.link.request for cls in _CARRIER_REQUESTS}
        self._handlers.update(
            {
                ResponseReceived: self.link.answered,
                ResponseTimedOut: self._timed_out,
                ResponseUnmatched: self._unmatched,
                BindRequested: self._bind,
                UnbindRequested: self._unbind_requested,
                ProtocolErrorAnswered: self._protocol_error,
                SessionClosing: self._closing,
            }
        )

    @property
    def name(self) -> str:
        """``system_id=... (session N)``, for logs."""
        return f"system_id={self.link.system_id} (session {self.session_id})"

    @property
    def bound(self) -> bool:
        """Whether the carrier accepted this connection's bind."""
        return self.link.binding is not None

    # -- Twisted's side --------------------------------------------------------------

    def connectionMade(self) -> None:
        factory = self.factory
        address = self.transport.getPeer()
        self.host = getattr(address, "host", "?")
        self.peer = self.link.peer = f"{self.host}:{getattr(address, 'port', '?')}"
        self._socket = tune_socket(self.transport)
        # Stop reading from a peer that does not read what we write (see pauseProducing).
        self.transport.registerProducer(self, True)
        factory.connections[self.session_id] = self
        log.debug("session {session_id} connected from {peer}", session_id=self.session_id, peer=self.peer)

    def _handle(self, data: bytes) -> None:
        handlers = self._handlers
        seconds = self.factory.reactor.seconds
        now = seconds()
        for event in self.session.receive_data(data, now):
            try:
                handlers[type(event)](event)
            except Exception:
                self._failed(event)
        self.factory.flusher.mark(self)
        # Timed with the session's own clock read: one more read, not a wrapper, on the hot path.
        took = seconds() - now
        if took > SLOW_TURN:
            slow_turn(f"SMPP {self.name} from {self.peer}", took)

    # -- events ----------------------------------------------------------------------

    def _timed_out(self, event: ResponseTimedOut) -> None:
        log.info(
            "session {session_id} of {system_id}: deliver_sm unanswered; will retry",
            session_id=self.session_id,
            system_id=self.link.system_id,
        )
        self.link.timed_out(event)

    def _unmatched(self, event: ResponseUnmatched) -> None:
        self.factory.warnings.warn(
            (self.session_id, "unmatched response"),
            "unmatched response",
            "session {session_id} ({system_id}) from {peer}: {reason}; ignored",
            session_id=self.session_id,
            system_id=self.link.system_id,
            peer=self.peer,
            reason=event.reason,
        )

    def _bind(self, event: BindRequested) -> None:
        pdu = event.pdu
        link = self.link
        # A refusal is logged, with its reason, by the carrier's refusal log.
        if self.over_limit is not None:
            link.refuse_bind(event, Rejected(Refusal.TOO_MANY_CONNECTIONS, self.over_limit))
            self.session.drop(self.over_limit)  # the refusal goes out, then the connection closes
            return
        if link.bind(event):
            log.info(
                "session {session_id}: {system_id} bound as {bind_type} from {peer}",
                session_id=self.session_id,
                system_id=pdu.system_id,
                bind_type=event.bind_type.value,
                peer=self.peer,
            )

    def _unbind_requested(self, event: UnbindRequested) -> None:
        pass  # the session answered; connectionLost does the carrier's part

    def _protocol_error(self, event: ProtocolErrorAnswered) -> None:
        error = event.error
        status = status_name(error.command_status)
        self.factory.warnings.warn(
            (self.session_id, status),
            status,
            "session {session_id} ({system_id}) from {peer}: {error}; answered {status}",
            session_id=self.session_id,
            system_id=self.link.system_id,
            peer=self.peer,
            error=error.args[0],
            status=status,
        )

    def _closing(self, event: SessionClosing) -> None:
        log.debug("session {session_id} closing: {reason}", session_id=self.session_id, reason=event.reason)

    def _failed(self, event: Any) -> None:
        log.failure(
            "session {session_id}: internal error handling {event}; answered ESME_RSYSERR",
            session_id=self.session_id,
            event=type(event).__name__,
        )
        if isinstance(event, _CARRIER_REQUESTS):
            self.session.respond(event, CommandStatus.ESME_RSYSERR)


class SmppServerFactory(SessionServer):
    """Builds one :class:`SmppServerProtocol` per ESME connection.

    :param pdu_log: where sessions log the requests that made messages, for the console.
    :param tick_interval: how often session and carrier timers are checked, in seconds.
    """

    def __init__(
        self,
        carrier: Carrier,
        session_config: SessionConfig,
        reactor: Any,
        *,
        pdu_log: PduLog | None = None,
        tick_interval: float = 0.25,
    ) -> None:
        super().__init__(reactor, tick_interval)
        self.carrier = carrier
        self.pdu_log = pdu_log
        self.session_config = session_config
        self.flusher = TurnFlusher(reactor, carrier)
        #: How the store is read without holding up the reactor, here and by the API.
        self.reads = store_reads(carrier.store, reactor, self.flusher.settle)
        self.read_later = read_later(self.reads)
        self.totals = SessionTotals()
        #: Protocol errors, one line per session and status a second: a client that keeps
        #: sending what is refused must not make the log the reactor's main work.
        self.warnings = BudgetedLog(log, reactor.seconds, "protocol errors", call_later=reactor.callLater)
        #: Session ids, carrier-wide: the CMPP server takes its own from the same counter.
        self.session_ids = itertools.count(1)

    def buildProtocol(self, addr: Any) -> SmppServerProtocol:
        connection = SmppServerProtocol(self, next(self.session_ids))
        connection.over_limit = self._make_room(getattr(addr, "host", "?"))
        return connection

    def _make_room(self, host: str) -> str | None:
        """Why one more connection from ``host`` is too many, after closing the oldest
        connection that never bound if that makes room; None when it may come in.

        Connections that open and never bind (a port scanner, a pool that dials ahead, an
        attacker) would otherwise hold every slot until their session_init_timeout, and a real
        ESME's bind would be refused meanwhile. A bound session is never closed for room.
        """
        reason = self._over_limit(host)
        if reason is None:
            return None
        per_ip = not (
            self.session_config.max_connections
            and len(self.connections) >= self.session_config.max_connections
        )
        for idle in self.connections.values():
            if not idle.bound and idle.over_limit is None and (not per_ip or idle.host == host):
                log.info(
                    "session {session_id} from {peer} never bound: closed to make room ({reason})",
                    session_id=idle.session_id,
                    peer=idle.peer,
                    reason=reason,
                )
                self.connections.pop(idle.session_id)
                idle.abort(f"closed to make room for a new connection: {reason}")
                return self._over_limit(host)
        return reason

    def _over_limit(self, host: str) -> str | None:
        """Why one more connection (from ``host``) is too many, or None."""
        limit = self.session_config.max_connections
        if limit and len(self.connections) >= limit:
            return f"{len(self.connections)} connections are open (max_connections {limit})"
        per_ip = self.session_config.max_connections_per_ip
        if per_ip and (self.session_config.per_ip_limit_on_loopback or not _is_loopback(host)):
            from_host = sum(1 for c in self.connections.values() if c.host == host)
            if from_host >= per_ip:
                return f"{from_host} connections are open from {host} (max_connections_per_ip {per_ip})"
        return None

    def tick(self) -> None:
        """Run every session's timers and the carrier's."""
        super().tick()
        self.carrier.tick()
        self.flusher.mark(lazy=True)

    def unbind_all(self) -> None:
        """Send unbind on every bound session (graceful shutdown)."""
        now = self.reactor.seconds()
        for connection in list(self.connections.values()):
            connection.session.unbind(now)
            self.flusher.mark(connection)
