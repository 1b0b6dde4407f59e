"""The CMPP server: a thin Twisted adapter between SP connections and the carrier.

As :mod:`smsgw.server.smpp` does for ESMEs: each connection owns a sans-I/O
:class:`~smsgw.cmpp.session.IsmgSession` and a :class:`~smsgw.frontend.cmpp.link.CmppLink`;
output waits for the end of the turn and its commit (the SMPP server's
:class:`~smsgw.server.flusher.TurnFlusher`, shared, so both protocols' answers go out after
one group commit). Session ids come from the same counter as SMPP's: the carrier keys binds,
queues and a message's ``via`` by them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from twisted.internet import protocol
from twisted.logger import Logger

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.cmpp import pdu as p
from smsgw.cmpp.session import (
    ConnectRequested,
    IsmgSession,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseTimedOut,
    ResponseUnmatched,
    SessionClosing,
    SessionConfig,
)
from smsgw.frontend.cmpp.link import CmppLink
from smsgw.frontend.later import ReadLater
from smsgw.server.eventlog import BudgetedLog
from smsgw.server.flusher import TurnFlusher
from smsgw.server.listener import SessionServer, TurnConnection
from smsgw.server.tcp import tune_socket

log = Logger(namespace="smsgw.cmpp")


class CmppServerProtocol(TurnConnection, protocol.Protocol):
    """One SP connection."""

    log = log
    label = "CMPP session"

    def __init__(self, factory: CmppServerFactory, session_id: int) -> None:
        self.factory = factory
        self.session_id = session_id
        self.peer = "?"
        self._socket: Any = None
        self.session: IsmgSession[object] = IsmgSession(factory.session_config, factory.reactor.seconds())
        self.link = CmppLink(
            factory.carrier, self.session, session_id, self.peer, self.output_ready, factory.read_later
        )
        self._handlers: dict[type, Any] = {
            p.Submit: self.link.submit,
            p.Cancel: self.link.cancel,
            p.Query: self.link.query,
            ResponseReceived: self.link.answered,
            ResponseTimedOut: self.link.timed_out,
            ConnectRequested: self._connect,
            ResponseUnmatched: self._unmatched,
            ProtocolErrorAnswered: self._protocol_error,
            SessionClosing: self._closing,
        }

    @property
    def bound(self) -> bool:
        return self.link.binding is not None

    # -- Twisted's side --------------------------------------------------------------

    def connectionMade(self) -> None:
        address = self.transport.getPeer()
        self.peer = self.link.peer = f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"
        self._socket = tune_socket(self.transport)
        self.transport.registerProducer(self, True)
        self.factory.connections[self.session_id] = self

    def _handle(self, data: bytes) -> None:
        handlers = self._handlers
        for event in self.session.receive_data(data, self.factory.reactor.seconds()):
            try:
                handlers[type(event)](event)
            except Exception:
                self._failed(event)
        self.factory.flusher.mark(self)

    # -- events ----------------------------------------------------------------------

    def _connect(self, event: ConnectRequested) -> None:
        over_limit = self.factory.over_limit()
        if over_limit is not None:
            self.link.refuse_connect(event, Rejected(Refusal.TOO_MANY_CONNECTIONS, over_limit))
            return
        if self.link.connect(event):
            log.info(
                "CMPP session {session_id}: SP {system_id} connected (CMPP {version}) from {peer}",
                session_id=self.session_id,
                system_id=event.pdu.source_addr,
                version="3.0" if event.version == 0x30 else "2.0",
                peer=self.peer,
            )

    def _unmatched(self, event: ResponseUnmatched) -> None:
        self.factory.warnings.warn(
            (self.session_id, "unmatched response"),
            "unmatched response",
            "CMPP session {session_id} ({system_id}) from {peer}: {pdu} answers nothing we sent; ignored",
            session_id=self.session_id,
            system_id=self.link.system_id,
            peer=self.peer,
            pdu=type(event.pdu).__name__,
        )

    def _protocol_error(self, event: ProtocolErrorAnswered) -> None:
        error = event.error
        self.factory.warnings.warn(
            (self.session_id, f"code {error.code}"),
            f"code {error.code}",
            "CMPP session {session_id} ({system_id}) from {peer}: {error}; answered with code {code}",
            session_id=self.session_id,
            system_id=self.link.system_id,
            peer=self.peer,
            error=str(error),
            code=error.code,
        )

    def _closing(self, event: SessionClosing) -> None:
        log.debug(
            "CMPP session {session_id} closing: {reason}", session_id=self.session_id, reason=event.reason
        )

    def _failed(self, event: Any) -> None:
        log.failure(
            "CMPP session {session_id}: internal error handling {event}",
            session_id=self.session_id,
            event=type(event).__name__,
        )


class CmppServerFactory(SessionServer):
    """Builds one :class:`CmppServerProtocol` per SP connection.

    :param flusher: the turn's group commit, shared with the SMPP server.
    :param session_ids: the carrier-wide session id counter, shared with the SMPP server.
    :param max_connections: connections open at once (0: no limit); over it a CONNECT is
        refused with Status 5.
    """

    def __init__(
        self,
        carrier: Carrier,
        session_config: SessionConfig,
        reactor: Any,
        *,
        flusher: TurnFlusher,
        read_later: ReadLater,
        session_ids: Iterator[int],
        max_connections: int = 0,
        tick_interval: float = 0.25,
    ) -> None:
        super().__init__(reactor, tick_interval)
        self.carrier = carrier
        self.session_config = session_config
        self.flusher = flusher
        self.read_later = read_later
        self.session_ids = session_ids
        self.max_connections = max_connections
        self.warnings = BudgetedLog(log, reactor.seconds, "protocol errors", call_later=reactor.callLater)

    def buildProtocol(self, addr: Any) -> CmppServerProtocol:
        return CmppServerProtocol(self, next(self.session_ids))

    def over_limit(self) -> str | None:
        """Why one more connected SP is too many, or None."""
        limit = self.max_connections
        if limit and len(self.connections) > limit:
            return f"{len(self.connections) - 1} CMPP connections are open (max_connections {limit})"
        return None

    def terminate_all(self) -> None:
        """Send CMPP_TERMINATE on every connected session (graceful shutdown)."""
        now = self.reactor.seconds()
        for connection in list(self.connections.values()):
            connection.session.terminate(now)
            self.flusher.mark(connection)
