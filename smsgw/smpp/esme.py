"""One SMPP session seen from the ESME, without I/O: what an application bound to an SMSC runs.

Used by smsgw's own ESMEs (the mock merchant). It binds on :meth:`EsmeSession.start`,
keeps a window of outstanding requests (submit_sm, data_sm, query_sm, ...), answers
enquire_link and unbind itself, and hands the SMSC's deliver_sm and data_sm to the caller,
who answers each with :meth:`EsmeSession.respond`. Time passes only through ``now``.
"""

from __future__ import annotations

import enum
import struct
from typing import Any

import attrs

from smsgw.smpp import codec, specs
from smsgw.smpp.constants import BindType, CommandStatus
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.errors import RemoteProtocolError
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

_U32 = struct.Struct(">I")
_BIND_PDU = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}
_BINDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
#: Requests that count against the ESME's window.
_WINDOWED = frozenset({C.SUBMIT_SM, C.DATA_SM, C.SUBMIT_MULTI, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
_NO_RESPONSE = frozenset({C.ALERT_NOTIFICATION, C.GENERIC_NACK})


class EsmeState(enum.Enum):
    """Where the ESME's session is."""

    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBOUND = "unbound"
    CLOSED = "closed"


@attrs.frozen
class EsmeConfig:
    """Who binds, how, and the session's limits (seconds; 0 switches a timer off)."""

    system_id: str
    password: str
    bind_type: BindType = BindType.TRANSCEIVER
    system_type: str = ""
    window: int = 10
    enquire_link_interval: float = 30.0
    response_timeout: float = 30.0
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE


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

    pdu: Any


class EsmeSession:
    """The ESME side of one SMPP session."""

    def __init__(self, config: EsmeConfig, now: float) -> None:
        self.config = config
        self.state = EsmeState.OPEN
        self.close_reason: str | None = None
        self._buffer = PduBuffer(config.max_pdu_size)
        self._out: list[bytes] = []
        self._requests = RequestLedger(_WINDOWED)
        self._last_received = now
        self._enquire_pending = False

    # -- starting and ending ---------------------------------------------------------

    def start(self, now: float) -> None:
        """Send the bind."""
        config = self.config
        bind = _BIND_PDU[config.bind_type](
            system_id=config.system_id, password=config.password, system_type=config.system_type
        )
        self.state = EsmeState.BINDING
        self._send(bind, now, None)

    def unbind(self, now: float) -> None:
        """End the session politely; it closes when the SMSC answers (or does not)."""
        if self.state is EsmeState.BOUND:
            self.state = EsmeState.UNBOUND
            self._send(Unbind(), now, None)

    def _closing(self, reason: str) -> SessionClosing:
        if self.close_reason is None:
            self.close_reason = reason
        return SessionClosing(self.close_reason)

    # -- sending ---------------------------------------------------------------------

    @property
    def can_send(self) -> bool:
        """Whether a request may be sent now (bound, window not full)."""
        return (
            self.state is EsmeState.BOUND
            and self.close_reason is None
            and self._requests.in_flight < self.config.window
        )

    def send(self, pdu: Pdu, now: float, context: Any = None) -> int:
        """Send a request (submit_sm, data_sm, query_sm, ...); return its sequence number.

        :param context: comes back with the answer (or its timeout).
        """
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

    def receive_data(self, data: bytes, now: float) -> list[Any]:
        """Feed received bytes; return the events they cause, in order."""
        events: list[Any] = []
        if self.close_reason is not None:
            return events
        self._last_received = now
        for raw in self._buffer.feed(data):
            try:
                pdu = codec.decode(raw)
            except RemoteProtocolError as error:
                self._answer_error(error)
                events.append(ProtocolErrorAnswered(error))
                continue
            command_id = pdu.command_id
            if command_id & 0x80000000:
                self._response(pdu, events)
            elif command_id in (C.DELIVER_SM, C.DATA_SM):
                if self.state is EsmeState.BOUND and self.config.bind_type.can_receive:
                    events.append(Delivered(pdu))
                else:
                    self.respond(pdu, CommandStatus.ESME_RINVBNDSTS)
            elif command_id == C.ENQUIRE_LINK:
                self._out.append(codec.encode(EnquireLinkResp(pdu.sequence_number)))
            elif command_id == C.UNBIND:
                self._out.append(codec.encode(UnbindResp(pdu.sequence_number)))
                self.state = EsmeState.UNBOUND
                events.append(self._closing("the SMSC unbound"))
            elif command_id != C.ALERT_NOTIFICATION:
                self._out.append(
                    codec.encode(GenericNack(pdu.sequence_number, CommandStatus.ESME_RINVBNDSTS))
                )
        broken = self._buffer.broken
        if broken is not None:
            self._out.append(codec.encode(GenericNack(broken.sequence_number or 0, broken.command_status)))
            events.append(self._closing(str(broken)))
        return events

    def _response(self, pdu: Pdu, events: list[Any]) -> None:
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
        elif command_id in _BINDS:
            if pdu.command_status == 0:
                self.state = EsmeState.BOUND
                events.append(Bound(getattr(pdu, "system_id", "")))
            else:
                events.append(BindRefused(pdu.command_status))
                events.append(self._closing(f"bind refused with 0x{pdu.command_status:08X}"))
        else:
            events.append(Answered(pdu, context))

    def _answer_error(self, error: RemoteProtocolError) -> None:
        self._out.append(codec.encode_error_answer(error))

    # -- time and output -------------------------------------------------------------

    def tick(self, now: float) -> list[Any]:
        """Send enquire_link when idle; expire requests nobody answered."""
        config = self.config
        events: list[Any] = []
        if self.close_reason is not None:
            return events
        if (
            self.state is EsmeState.BOUND
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
                    self._closing(f"no answer to 0x{command_id:08X} within {config.response_timeout:g} s")
                )
                break
        return events

    def connection_lost(self) -> list[Any]:
        """The connection is gone: the contexts of requests that will never be answered."""
        self.state = EsmeState.CLOSED
        return [context for command_id, context in self._requests.clear() if command_id in _WINDOWED]

    def data_to_send(self) -> bytes:
        """Return and forget the bytes queued for the SMSC."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data
