"""One SMPP session seen from the ESME, without I/O: what an application bound to an SMSC runs.

Every ESME smsgw ships runs it: the mock merchant over Twisted (:mod:`smsgw.server.esme`),
``smsgw send`` and the scenario runner over a blocking socket (:mod:`smsgw.client`). It binds
on :meth:`EsmeSession.start`, keeps a window of outstanding requests (submit_sm, data_sm,
query_sm, ...), answers enquire_link and unbind itself, and hands the SMSC's deliver_sm and
data_sm to the caller, who answers each with :meth:`EsmeSession.respond`. Time passes only
through ``now``.

Which PDU may go which way in which state is the table in :mod:`smsgw.smpp.states`
(``PERMITTED`` for what the ESME sends, ``SMSC_PERMITTED`` for what it accepts); the state
changes in one place, :meth:`EsmeSession._transition`, by the ``TRANSITIONS`` both roles share.
"""

from __future__ import annotations

from typing import Any

import attrs

from smsgw.smpp import codec, specs
from smsgw.smpp.constants import BindType, CommandStatus, command_name
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.errors import LocalProtocolError, RemoteProtocolError
from smsgw.smpp.framing import DEFAULT_MAX_PDU_SIZE, PduBuffer
from smsgw.smpp.ledger import RequestLedger
from smsgw.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Unbind,
    UnbindResp,
)
from smsgw.smpp.session import ProtocolErrorAnswered, ResponseTimedOut, ResponseUnmatched, SessionClosing
from smsgw.smpp.sm import DataSm, DeliverSm
from smsgw.smpp.states import (
    BIND_COMMANDS,
    BOUND_STATE_OF,
    PERMITTED,
    SMSC_PERMITTED,
    TRANSITIONS,
    SessionState,
    Transition,
)

_BIND_PDU: dict[BindType, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}
#: Requests that count against the ESME's window.
_WINDOWED = frozenset({C.SUBMIT_SM, C.DATA_SM, C.SUBMIT_MULTI, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
_NO_RESPONSE = frozenset({C.ALERT_NOTIFICATION, C.GENERIC_NACK})


@attrs.frozen
class EsmeConfig:
    """Who binds, how, and the session's limits (seconds; 0 switches a timer off).

    :ivar address_range: the bind's address_range (which addresses the ESME serves).
    """

    system_id: str
    password: str
    bind_type: BindType = BindType.TRANSCEIVER
    system_type: str = ""
    window: int = 10
    enquire_link_interval: float = 30.0
    response_timeout: float = 30.0
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE
    address_range: str = ""


@attrs.frozen
class Bound:
    """The SMSC accepted the bind."""

    smsc_system_id: str


@attrs.frozen
class BindRefused:
    """The SMSC refused the bind; the session closes."""

    command_status: int


@attrs.frozen
class Answered:
    """The SMSC answered one of our requests (also with a generic_nack)."""

    response: Pdu
    context: Any


@attrs.frozen
class Delivered:
    """The SMSC sent a deliver_sm or data_sm; answer it with :meth:`EsmeSession.respond`."""

    pdu: DeliverSm | DataSm


#: What :meth:`EsmeSession.receive_data` and :meth:`EsmeSession.tick` return.
EsmeEvent = (
    Bound
    | BindRefused
    | Answered
    | Delivered
    | ResponseTimedOut[Any]
    | ResponseUnmatched
    | ProtocolErrorAnswered
    | SessionClosing
)


class EsmeSession:
    """The ESME side of one SMPP session.

    :param config: who binds, and the limits.
    :param now: the clock's reading when the connection was made.
    """

    def __init__(self, config: EsmeConfig, now: float) -> None:
        self.config = config
        self.state = SessionState.OPEN
        self.close_reason: str | None = None
        self._permitted = SMSC_PERMITTED[self.state]
        self._buffer = PduBuffer(config.max_pdu_size)
        self._out: list[bytes] = []
        self._requests: RequestLedger[Any] = RequestLedger(_WINDOWED)
        self._last_received = now
        self._enquire_pending = False
        self._bind_pending = False

    # -- starting and ending ---------------------------------------------------------

    def start(self, now: float) -> None:
        """Send the bind."""
        config = self.config
        bind = _BIND_PDU[config.bind_type](
            system_id=config.system_id,
            password=config.password,
            system_type=config.system_type,
            address_range=config.address_range,
        )
        self._bind_pending = True
        self._send(bind, now, None)

    @property
    def binding(self) -> bool:
        """Whether the bind is sent and not yet answered."""
        return self._bind_pending

    def unbind(self, now: float) -> None:
        """End the session politely; it closes when the SMSC answers (or does not)."""
        if self.state.is_bound:
            self._transition(Transition.UNBIND_SENT)
            self._send(Unbind(), now, None)

    def _closing(self, reason: str) -> SessionClosing:
        if self.close_reason is None:
            self.close_reason = reason
        return SessionClosing(self.close_reason)

    def _transition(self, what: Transition) -> None:
        self.state = TRANSITIONS[(self.state, what)]
        self._permitted = SMSC_PERMITTED[self.state]

    # -- sending ---------------------------------------------------------------------

    @property
    def can_send(self) -> bool:
        """Whether a request may be sent now (bound, not closing, window not full)."""
        return (
            self.state.is_bound
            and self.close_reason is None
            and self._requests.in_flight < self.config.window
        )

    def send(self, pdu: Pdu, now: float, context: Any = None) -> int:
        """Send a request (submit_sm, data_sm, query_sm, ...); return its sequence number.

        :param context: comes back with the answer (or its timeout).
        :raises LocalProtocolError: the bind does not allow this request now (check
            :attr:`can_send` for the window).
        """
        if pdu.command_id not in PERMITTED[self.state] or pdu.command_id in BIND_COMMANDS:
            raise LocalProtocolError(f"{type(pdu).__name__} is not allowed in state {self.state.value}")
        return self._send(pdu, now, context)

    def _send(self, pdu: Pdu, now: float, context: Any) -> int:
        sequence_number = self._requests.next_sequence()
        self._out.append(codec.encode(attrs.evolve(pdu, sequence_number=sequence_number)))
        if pdu.command_id not in _NO_RESPONSE:
            self._requests.add(sequence_number, now + self.config.response_timeout, pdu.command_id, context)
        return sequence_number

    def respond(self, request: Pdu, command_status: int = 0, **fields: Any) -> None:
        """Answer a deliver_sm or data_sm from the SMSC."""
        response = specs.RESPONSE_CLASS[type(request)]
        self._out.append(codec.encode(response(request.sequence_number, command_status, **fields)))

    # -- receiving -------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[EsmeEvent]:
        """Feed received bytes; return the events they cause, in order."""
        events: list[EsmeEvent] = []
        if self.close_reason is not None:
            return events
        self._last_received = now
        for raw in self._buffer.feed(data):
            try:
                pdu = codec.decode(raw)
            except RemoteProtocolError as error:
                self._out.append(codec.encode_error_answer(error))
                events.append(ProtocolErrorAnswered(error))
                continue
            command_id = pdu.command_id
            if pdu.is_response:
                if command_id in self._permitted:
                    self._response(pdu, events)
                else:
                    events.append(ResponseUnmatched(pdu, self._requests.command_of(pdu.sequence_number)))
            elif command_id not in self._permitted:
                events.append(ProtocolErrorAnswered(self._refuse(pdu)))
            elif isinstance(pdu, (DeliverSm, DataSm)):
                events.append(Delivered(pdu))
            elif command_id == C.ENQUIRE_LINK:
                self._out.append(codec.encode(EnquireLinkResp(pdu.sequence_number)))
            elif command_id == C.UNBIND:
                self._out.append(codec.encode(UnbindResp(pdu.sequence_number)))
                self._transition(Transition.UNBIND_RECEIVED)
                events.append(self._closing("the SMSC unbound"))
            # What is left is alert_notification, which has no answer and no use here.
        broken = self._buffer.broken
        if broken is not None:
            self._out.append(codec.encode(GenericNack(broken.sequence_number or 0, broken.command_status)))
            events.append(self._closing(str(broken)))
        return events

    def _refuse(self, pdu: Pdu) -> RemoteProtocolError:
        error = RemoteProtocolError(
            f"{type(pdu).__name__} is not allowed in state {self.state.value}",
            CommandStatus.ESME_RINVBNDSTS,
            command_id=pdu.command_id,
            sequence_number=pdu.sequence_number,
        )
        self._out.append(codec.encode_error_answer(error))
        return error

    def _response(self, pdu: Pdu, events: list[EsmeEvent]) -> None:
        requests = self._requests
        entry = requests.answer(pdu.sequence_number, pdu.command_id, pdu.command_status)
        if entry is None:
            # Not answered back: a generic_nack names a sequence_number, and the SMSC would take
            # it for the answer to its own request of that number.
            events.append(ResponseUnmatched(pdu, requests.command_of(pdu.sequence_number)))
            return
        command_id, context = entry[1], entry[2]
        if command_id == C.ENQUIRE_LINK:
            self._enquire_pending = False
        elif command_id == C.UNBIND:
            events.append(self._closing("unbind answered"))
        elif command_id in BIND_COMMANDS:
            self._bind_pending = False
            if pdu.command_status == 0:
                self._transition(BOUND_STATE_OF[self.config.bind_type])
                events.append(Bound(getattr(pdu, "system_id", "")))
            else:
                events.append(BindRefused(pdu.command_status))
                events.append(self._closing(f"bind refused with 0x{pdu.command_status:08X}"))
        else:
            events.append(Answered(pdu, context))

    # -- time and output -------------------------------------------------------------

    def tick(self, now: float) -> list[EsmeEvent]:
        """Send enquire_link when idle; expire requests nobody answered."""
        config = self.config
        events: list[EsmeEvent] = []
        if self.close_reason is not None:
            return events
        if (
            self.state.is_bound
            and config.enquire_link_interval
            and not self._enquire_pending
            and now - self._last_received >= config.enquire_link_interval
        ):
            self._enquire_pending = True
            self._send(EnquireLink(), now, None)
        for command_id, context in self._requests.expired(now):
            if command_id in _WINDOWED:
                events.append(ResponseTimedOut(command_id, context))
            else:
                events.append(
                    self._closing(
                        f"no answer to {command_name(command_id)} within {config.response_timeout:g} s"
                    )
                )
                break
        return events

    def connection_lost(self) -> list[Any]:
        """The connection is gone: the contexts of requests that will never be answered."""
        self._transition(Transition.CLOSED)
        return [context for command_id, context in self._requests.clear() if command_id in _WINDOWED]

    def data_to_send(self) -> bytes:
        """Return and forget the bytes queued for the SMSC."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data
