"""One CMPP session seen from the SP, without I/O: what an application connected to an ISMG runs.

The counterpart of :mod:`smsgw.cmpp.session` (the gateway's end), as :mod:`smsgw.smpp.esme`
is of SMPP's: :meth:`SpSession.start` sends CMPP_CONNECT, :meth:`SpSession.send` a SUBMIT
(at most ``window`` unanswered), and the gateway's DELIVERs (reports and MO) come out as
:class:`Delivered`, answered with :meth:`SpSession.respond`. ACTIVE_TEST and TERMINATE are
answered here; a silent link is tested after ``active_test_interval``, as the gateway does.
Its events and method names are the ESME session's, so one client adapter drives either.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from smsgw.cmpp import auth, codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import CommandId, Version, command_name
from smsgw.cmpp.errors import RemoteProtocolError
from smsgw.cmpp.framing import DEFAULT_MAX_PDU_SIZE, CmppBuffer
from smsgw.cmpp.session import SEQUENCE_MAX, ResponseTimedOut, ResponseUnmatched, SessionClosing
from smsgw.ledger import RequestLedger

#: Requests that count against the SP's window.
_WINDOWED = frozenset({CommandId.SUBMIT, CommandId.QUERY, CommandId.CANCEL})


@attrs.frozen
class SpConfig:
    """Who connects, and the session's limits (seconds).

    :ivar system_id: the SP_Id (CONNECT's Source_Addr).
    :ivar password: the shared secret.
    """

    system_id: str
    password: str = attrs.field(repr=False)
    version: Version = Version.V30
    window: int = 16
    response_timeout: float = 60.0
    active_test_interval: float = 180.0
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE


@attrs.frozen
class Bound:
    """The gateway accepted the CONNECT."""

    smsc_system_id: str = "ISMG"


@attrs.frozen
class BindRefused:
    """The gateway refused the CONNECT (its Status); the session closes."""

    command_status: int


@attrs.frozen
class Answered:
    """The gateway answered one of our requests."""

    response: p.Pdu
    context: Any


@attrs.frozen
class Delivered:
    """A CMPP_DELIVER (a report or an MO); answer it with :meth:`SpSession.respond`."""

    pdu: p.Deliver


SpEvent = (
    Bound | BindRefused | Answered | Delivered | ResponseTimedOut[Any] | ResponseUnmatched | SessionClosing
)


class SpSession:
    """The SP side of one CMPP session.

    :param clock: the wall clock the CONNECT's timestamp is read from (the authenticator
        digests it); ``now`` arguments drive the timers.
    """

    def __init__(self, config: SpConfig, now: float, clock: Any = time.time) -> None:
        self.config = config
        self.close_reason: str | None = None
        self.connected = False
        self._clock = clock
        self._buffer = CmppBuffer(config.max_pdu_size)
        self._ledger: RequestLedger[Any] = RequestLedger(_WINDOWED, sequence_max=SEQUENCE_MAX)
        self._out: list[bytes] = []
        self._heard_at = now
        self._testing = False

    # -- starting and ending -----------------------------------------------------------

    def start(self, now: float) -> None:
        """Send CMPP_CONNECT."""
        config = self.config
        stamp = auth.timestamp(self._clock())
        connect = p.Connect(
            0,
            source_addr=config.system_id,
            authenticator_source=auth.authenticator_source(config.system_id, config.password, stamp),
            version=config.version,
            timestamp=stamp,
        )
        self._send(connect, now, None)

    def unbind(self, now: float) -> None:
        """End the session the CMPP way (CMPP_TERMINATE); it closes on the answer. Named as the
        ESME session's, so one client adapter ends either."""
        if self.connected:
            self.connected = False
            self._send(p.Terminate(0), now, None)

    def _closing(self, reason: str) -> SessionClosing:
        if self.close_reason is None:
            self.close_reason = reason
        return SessionClosing(self.close_reason)

    # -- sending -----------------------------------------------------------------------

    @property
    def can_send(self) -> bool:
        """Whether a request may be sent now (connected, not closing, window not full)."""
        return self.connected and self.close_reason is None and self._ledger.in_flight < self.config.window

    def send(self, pdu: p.Pdu, now: float, context: Any = None) -> int:
        """Send a SUBMIT, QUERY or CANCEL; its Sequence_Id. ``context`` comes back with the answer."""
        return self._send(pdu, now, context)

    def _send(self, pdu: p.Pdu, now: float, context: Any) -> int:
        sequence = self._ledger.next_sequence()
        self._out.append(codec.encode(attrs.evolve(pdu, sequence_id=sequence), self.config.version))
        self._ledger.add(sequence, now + self.config.response_timeout, pdu.command_id, context)
        return sequence

    def respond(self, request: p.Deliver, result: int = 0) -> None:
        """Answer a DELIVER: Result 0 takes it; any other asks the gateway to send it again."""
        self._queue(p.DeliverResp(request.sequence_id, msg_id=request.msg_id, result=result))

    def _queue(self, pdu: p.Pdu) -> None:
        self._out.append(codec.encode(pdu, self.config.version))

    # -- receiving ---------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[SpEvent]:
        """Feed received bytes; the events they cause, in order."""
        events: list[SpEvent] = []
        if self.close_reason is not None:
            return events
        self._heard_at = now
        for raw in self._buffer.feed(data):
            try:
                pdu = codec.decode(raw, self.config.version)
            except RemoteProtocolError as error:
                events.append(self._closing(f"a malformed PDU from the gateway: {error}"))
                return events
            if isinstance(pdu, p.Deliver):
                events.append(Delivered(pdu))
            elif isinstance(pdu, p.ActiveTest):
                self._queue(p.ActiveTestResp(pdu.sequence_id))
            elif isinstance(pdu, p.Terminate):
                self._queue(p.TerminateResp(pdu.sequence_id))
                self.connected = False
                events.append(self._closing("the gateway sent CMPP_TERMINATE"))
            else:
                self._response(pdu, events)
        if self._buffer.broken is not None:
            events.append(self._closing(str(self._buffer.broken)))
        return events

    def _response(self, pdu: p.Pdu, events: list[SpEvent]) -> None:
        entry = self._ledger.answer(pdu.sequence_id, pdu.command_id, 0)
        if entry is None:
            events.append(ResponseUnmatched(pdu))
            return
        command_id, context = entry[1], entry[2]
        if command_id == CommandId.CONNECT:
            assert isinstance(pdu, p.ConnectResp)
            if pdu.status == 0:
                self.connected = True
                events.append(Bound())
            else:
                events.append(BindRefused(pdu.status))
                events.append(self._closing(f"CMPP_CONNECT refused with Status {pdu.status}"))
        elif command_id == CommandId.ACTIVE_TEST:
            self._testing = False
        elif command_id == CommandId.TERMINATE:
            events.append(self._closing("CMPP_TERMINATE answered"))
        else:
            events.append(Answered(pdu, context))

    # -- time and output ---------------------------------------------------------------

    def tick(self, now: float) -> list[SpEvent]:
        """Test a silent link; expire requests nobody answered."""
        events: list[SpEvent] = []
        if self.close_reason is not None:
            return events
        if self.connected and not self._testing and now - self._heard_at >= self.config.active_test_interval:
            self._testing = True
            self._send(p.ActiveTest(0), now, None)
        for command_id, context in self._ledger.expired(now):
            if command_id in _WINDOWED:
                events.append(ResponseTimedOut(command_id, context))
            else:
                timeout = self.config.response_timeout
                events.append(self._closing(f"no answer to {command_name(command_id)} within {timeout:g} s"))
                break
        return events

    def connection_lost(self) -> list[Any]:
        """The connection is gone: the contexts of requests that will never be answered."""
        self.connected = False
        return [context for command_id, context in self._ledger.clear() if command_id in _WINDOWED]

    def data_to_send(self) -> bytes:
        """Return and forget the bytes queued for the gateway."""
        out, self._out = b"".join(self._out), []
        return out
