"""One SMPP session seen from the SMSC, without I/O.

Bytes go in with :meth:`SmscSession.receive_data`, which returns what happened as events;
bytes to send accumulate until :meth:`SmscSession.data_to_send`; time passes only through
the ``now`` arguments and :meth:`SmscSession.tick`. The session answers on its own what needs
no carrier decision (enquire_link, unbind, PDUs not allowed in the current state, malformed
PDUs) and hands every permitted request to the caller as the decoded PDU itself, which the
caller answers with :meth:`SmscSession.respond`.

Timers are deadlines kept here and checked by ``tick``, not callbacks: one table of
outstanding requests, in send order, swept from the front.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeAlias

import attrs

from smsgw.outgoing import Outgoing
from smsgw.smpp import codec, specs
from smsgw.smpp.constants import (
    INTERFACE_VERSION_34,
    RESPONSE_BIT,
    BindType,
    CommandStatus,
    command_name,
    status_name,
)
from smsgw.smpp.constants import (
    CommandId as C,
)
from smsgw.smpp.errors import RemoteProtocolError
from smsgw.smpp.framing import DEFAULT_MAX_PDU_SIZE, PduBuffer
from smsgw.smpp.ledger import ContextT, RequestLedger
from smsgw.smpp.pdu import (
    BindRequest,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Unbind,
    UnbindResp,
)
from smsgw.smpp.sm import DataSmResp, SubmitSmResp
from smsgw.smpp.states import (
    BIND_COMMANDS,
    BIND_TYPE_OF,
    BOUND_STATE_OF,
    PERMITTED,
    TRANSITIONS,
    SessionState,
    Transition,
)

_U32 = struct.Struct(">I")
_EXPECTS_RESPONSE = frozenset({C.DELIVER_SM, C.DATA_SM, C.ENQUIRE_LINK, C.UNBIND, C.OUTBIND})
_DELIVERIES = frozenset({C.DELIVER_SM, C.DATA_SM})
#: Requests the caller decides on; the session hands them over as PDUs.
_CARRIER_REQUESTS = frozenset({C.SUBMIT_SM, C.DATA_SM, C.SUBMIT_MULTI, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
#: The answer to an accepted submit_sm or data_sm, written without making the response PDU:
#: a load test has thousands a second.
_ACCEPTED: dict[int, Callable[..., bytes]] = {
    C.SUBMIT_SM: codec.field_encoder(SubmitSmResp, ("message_id",)),
    C.DATA_SM: codec.field_encoder(DataSmResp, ("message_id",)),
}
#: Responses the ESME may send: each must answer an outstanding request of ours (see _response).
_RESPONSES = frozenset(
    {C.DELIVER_SM_RESP, C.DATA_SM_RESP, C.ENQUIRE_LINK_RESP, C.UNBIND_RESP, C.GENERIC_NACK}
)


@attrs.frozen
class SessionConfig:
    """Limits and timers of one session; every time is in seconds, 0 switches a timer off."""

    system_id: str = "smsgw"
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE
    #: deliver_sm/data_sm sent and not yet answered, per session.
    #: A test carrier should not be what limits an ESME's receipt rate: 100 lets receipts
    #: keep pace with a client that pipelines 100 submits (SMPP v3.4 suggests at most 10; set it).
    window: int = 100
    session_init_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    #: Time without any request but enquire_link before the SMSC unbinds.
    inactivity_timeout: float = 0.0
    response_timeout: float = 30.0
    #: Connections the SMSC takes at once, in all and from one address (0: no limit); one more
    #: gets its bind refused with ESME_RTHROTTLED and is closed.
    max_connections: int = 1000
    max_connections_per_ip: int = 200
    #: Whether max_connections_per_ip counts loopback peers too: on one machine every client
    #: (a load test, the merchant, the test suite) shares 127.0.0.1, so by default it does not.
    per_ip_limit_on_loopback: bool = False


#: Upper bounds (seconds) of the histogram of ESME answer times to deliver_sm.
ANSWER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def out_key(command_id: int, command_status: int) -> int:
    """The key of :attr:`SmscSession.pdus_out` for a PDU written."""
    return command_id << 32 | command_status


# -- events ----------------------------------------------------------------------------
# Values, not frozen: one is made per answered delivery, and a frozen attrs class pays a call
# per field (see smsgw.smpp.pdu).


@attrs.define
class BindRequested:
    """An ESME asks to bind; answer with :meth:`SmscSession.accept_bind` or ``reject_bind``."""

    pdu: BindRequest
    bind_type: BindType


@attrs.define
class ResponseReceived(Generic[ContextT]):
    """The ESME answered a deliver_sm or data_sm (or generic_nack'ed it).

    :ivar context: what the caller sent the request with (None if nothing).
    """

    response: Pdu
    context: ContextT | None


@attrs.define
class ResponseTimedOut(Generic[ContextT]):
    """The ESME did not answer a deliver_sm or data_sm within the response timeout."""

    command_id: int
    context: ContextT | None


@attrs.define
class ResponseUnmatched:
    """A response that answers none of our outstanding requests; it is dropped, not answered.

    SMPP v3.4 §3.2: a response carries its request's sequence_number and command_id with bit 31
    set; generic_nack (§4.3) is the answer to a PDU that cannot be made out, so one with status 0
    answers nothing. The request under that number, if any, keeps waiting for its own response
    or its timeout.

    :ivar request: the command_id of the request outstanding under the response's
        sequence_number (which this response is not the answer to), or None when nothing is:
        an answer after its timeout, or a number never sent.
    """

    response: Pdu
    request: int | None

    @property
    def reason(self) -> str:
        """What does not match, for a log line."""
        response = self.response
        got = f"{command_name(response.command_id)} (status {status_name(response.command_status)})"
        number = response.sequence_number
        if self.request is None:
            return f"{got} with sequence_number {number}, which names no request outstanding"
        return (
            f"{got} with the sequence_number {number} of a {command_name(self.request)}, which "
            f"only {command_name(self.request | RESPONSE_BIT)} or a generic_nack with an error status answers"
        )


@attrs.define
class UnbindRequested:
    """The ESME unbound; the session answered and will close."""


@attrs.define
class ProtocolErrorAnswered:
    """The ESME sent something SMPP forbids here; the session answered it with a status."""

    error: RemoteProtocolError


@attrs.define
class SessionClosing:
    """The connection should close once the pending output is written."""

    reason: str


@attrs.define
class SessionLost(Generic[ContextT]):
    """The connection is gone; ``contexts`` are the deliveries that were never answered."""

    contexts: tuple[ContextT | None, ...]


#: What :meth:`SmscSession.receive_data` returns: a request for the caller is the PDU itself.
SmscEvent: TypeAlias = (
    Pdu
    | BindRequested
    | ResponseReceived[ContextT]
    | ResponseUnmatched
    | UnbindRequested
    | ProtocolErrorAnswered
    | SessionClosing
)


# -- the session -----------------------------------------------------------------------


class SmscSession(Outgoing, Generic[ContextT]):
    """The SMSC side of one SMPP session.

    ``ContextT`` is what the caller sends its deliveries with (:meth:`send_encoded`) and gets
    back with their answer; the session never looks at it.

    :param config: limits and timers.
    :param now: the clock's reading when the connection was made.
    """

    def __init__(self, config: SessionConfig, now: float) -> None:
        self.config = config
        self.state = SessionState.OPEN
        self.bind_type: BindType | None = None
        self.system_id: str | None = None
        self.close_reason: str | None = None
        #: Set by :meth:`drop`: requests already handed over are to be left unanswered.
        self.dropped = False
        #: Set while the peer does not read what is sent (the edge's flow control):
        #: deliveries wait instead of piling up in memory.
        self.send_paused = False
        self._permitted = PERMITTED[self.state]
        self._buffer = PduBuffer(config.max_pdu_size)
        #: PDUs read, by command_id; PDUs written, by ``command_id << 32 | command_status``
        #: (:func:`out_key`). Plain int-keyed counts for /metrics: one dict increment a PDU.
        self.pdus_in: defaultdict[int, int] = defaultdict(int)
        self.pdus_out: defaultdict[int, int] = defaultdict(int)
        #: How long the ESME took to answer each deliver_sm/data_sm: counts per
        #: :data:`ANSWER_BUCKETS` upper bound (the last one: slower), and their sum.
        self.answer_times = [0] * (len(ANSWER_BUCKETS) + 1)
        self.answer_seconds = 0.0
        self._out: list[bytes] = []
        # The session's own enquire_link and unbind go without a context.
        self._requests: RequestLedger[ContextT | None] = RequestLedger(_DELIVERIES)
        self._opened_at = now
        self._last_received = now
        self._last_request = now
        self._enquire_link_pending = False

    # -- input -----------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[SmscEvent[ContextT]]:
        """Feed received bytes; return the events they cause, in order."""
        events: list[SmscEvent[ContextT]] = []
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
            self.pdus_in[command_id] += 1
            if command_id not in self._permitted:
                events.append(ProtocolErrorAnswered(self._refuse(pdu)))
            elif command_id in _CARRIER_REQUESTS:
                self._last_request = now
                events.append(pdu)
            elif command_id in _RESPONSES:
                self._response(pdu, events, now)
            elif command_id == C.ENQUIRE_LINK:
                self._out.append(codec.encode(EnquireLinkResp(pdu.sequence_number)))
                self.pdus_out[C.ENQUIRE_LINK_RESP << 32] += 1
            elif command_id in BIND_COMMANDS:
                # A bind's command_id decodes to that bind; no cast call in the receive loop.
                events.append(BindRequested(pdu, BIND_TYPE_OF[command_id]))  # type: ignore[arg-type]
            elif command_id == C.UNBIND:
                self._out.append(codec.encode(UnbindResp(pdu.sequence_number)))
                self.pdus_out[C.UNBIND_RESP << 32] += 1
                self._transition(Transition.UNBIND_RECEIVED)
                events.append(UnbindRequested())
                events.append(self._closing("the ESME unbound"))
        broken = self._buffer.broken
        if broken is not None:
            self._out.append(codec.encode(GenericNack(broken.sequence_number or 0, broken.command_status)))
            self.pdus_out[C.GENERIC_NACK << 32 | broken.command_status] += 1
            events.append(ProtocolErrorAnswered(broken))
            events.append(self._closing(str(broken)))
        return events

    def _response(self, pdu: Pdu, events: list[SmscEvent[ContextT]], now: float) -> None:
        requests = self._requests
        entry = requests.answer(pdu.sequence_number, pdu.command_id, pdu.command_status)
        if entry is None:
            # Dropped, not nacked: a generic_nack names a sequence_number, and the ESME would take
            # it for the answer to its own request of that number (each side numbers its own).
            events.append(ResponseUnmatched(pdu, requests.command_of(pdu.sequence_number)))
            return
        request_id = entry[1]
        if request_id in _DELIVERIES:
            # The deadline is the send time plus the response timeout: the ESME took this long.
            waited = now - entry[0] + self.config.response_timeout
            self.answer_times[bisect_left(ANSWER_BUCKETS, waited)] += 1
            self.answer_seconds += waited
            events.append(ResponseReceived(pdu, entry[2]))
        elif request_id == C.ENQUIRE_LINK:
            self._enquire_link_pending = False
        elif request_id == C.UNBIND:
            events.append(self._closing("unbind answered"))

    @property
    def deliveries_in_flight(self) -> int:
        """deliver_sm and data_sm sent and not yet answered."""
        return self._requests.in_flight

    def _refuse(self, pdu: Pdu) -> RemoteProtocolError:
        state = self.state
        if pdu.command_id in BIND_COMMANDS and state.is_bound:
            status = CommandStatus.ESME_RALYBND
            message = f"already bound as {self.bind_type.value if self.bind_type else '?'}"
        else:
            status = CommandStatus.ESME_RINVBNDSTS
            name = type(pdu).__name__
            message = f"{name} is not allowed in state {state.value}"
        error = RemoteProtocolError(
            message, status, command_id=pdu.command_id, sequence_number=pdu.sequence_number
        )
        self._answer_error(error)
        return error

    def _answer_error(self, error: RemoteProtocolError) -> None:
        raw = codec.encode_error_answer(error)
        self.pdus_out[_U32.unpack_from(raw, 4)[0] << 32 | error.command_status] += 1
        self._out.append(raw)

    # -- answers the caller decides --------------------------------------------------

    def respond(self, request: Pdu, command_status: int = 0, **fields: Any) -> None:
        """Queue the response to a request the session handed over.

        :param fields: the response's body fields (ignored on error where SMPP omits them);
            their types are those of the response class, which only ``request`` names.
        """
        response = specs.RESPONSE_CLASS[type(request)]
        self.pdus_out[response.command_id << 32 | command_status] += 1
        self._out.append(codec.encode(response(request.sequence_number, command_status, **fields)))

    def accept(self, request: Pdu, message_id: str) -> None:
        """Answer a submit_sm or data_sm the caller accepted: status 0 and its message_id."""
        command_id = request.command_id
        self.pdus_out[(command_id | RESPONSE_BIT) << 32] += 1
        self._out.append(_ACCEPTED[command_id](request.sequence_number, 0, message_id))

    def accept_bind(self, request: BindRequest, system_id: str) -> None:
        """Accept a bind: answer it and enter the bound state of its type.

        :param system_id: the account the ESME bound as.
        """
        bind_type = BIND_TYPE_OF[request.command_id]
        self._transition(BOUND_STATE_OF[bind_type])
        self.bind_type = bind_type
        self.system_id = system_id
        # sc_interface_version is a 3.4 TLV; a 3.3 ESME would not know it.
        version = INTERFACE_VERSION_34 if request.interface_version >= INTERFACE_VERSION_34 else None
        self.respond(request, system_id=self.config.system_id, sc_interface_version=version)

    def reject_bind(self, request: Pdu, command_status: int) -> None:
        """Refuse a bind with a status; the session stays open for another attempt."""
        self.respond(request, command_status)

    # -- requests the SMSC sends -----------------------------------------------------

    @property
    def window_free(self) -> int:
        """How many more deliver_sm/data_sm may be sent before the ESME answers some."""
        return self.config.window - self.deliveries_in_flight

    @property
    def can_deliver(self) -> bool:
        """Whether deliver_sm may be sent now (bound to receive, not closing, window open)."""
        return (
            self.close_reason is None
            and not self.send_paused
            and self.deliveries_in_flight < self.config.window
            and (self.state is SessionState.BOUND_RX or self.state is SessionState.BOUND_TRX)
        )

    def send(self, pdu: Pdu, now: float, context: ContextT | None = None) -> int:
        """Queue a request with the next sequence number; return that number."""
        return self.send_encoded(codec.encode(pdu), now, context)

    def send_encoded(self, raw: bytes, now: float, context: ContextT | None = None) -> int:
        """Queue an already encoded request, giving it the next sequence number.

        Deliveries are stored encoded, so resending one is a header patch, not an encode.

        :param context: returned with the response (or its timeout) to say what it was for.
        """
        sequence_number = self._requests.next_sequence()
        self._out.append(raw[:12] + _U32.pack(sequence_number) + raw[16:])
        # What an SMSC sends (deliver_sm 0x005, data_sm 0x103, enquire_link, unbind, outbind):
        # command_ids its last two octets name.
        command_id = raw[6] << 8 | raw[7]
        self.pdus_out[command_id << 32] += 1
        if command_id in _EXPECTS_RESPONSE:
            self._requests.add(sequence_number, now + self.config.response_timeout, command_id, context)
        return sequence_number

    def unbind(self, now: float) -> None:
        """Start ending a bound session from the SMSC side."""
        if self.state.is_bound:
            self._transition(Transition.UNBIND_SENT)
            self.send(Unbind(), now)

    def close(self, reason: str) -> SessionClosing:
        """Ask for the connection to be closed after the pending output."""
        return self._closing(reason)

    def drop(self, reason: str) -> SessionClosing:
        """Ask for the connection to be closed as if it broke (an injected fault).

        Output already queued (answers to earlier requests) still goes, then the connection
        closes; the caller leaves unanswered the request it was handling and every later one
        handed over with it (:attr:`dropped`), as a peer whose connection broke never reads them.
        """
        self.dropped = True
        return self._closing(reason)

    def _closing(self, reason: str) -> SessionClosing:
        if self.close_reason is None:
            self.close_reason = reason
        return SessionClosing(self.close_reason)

    # -- time and the end ------------------------------------------------------------

    def tick(self, now: float) -> list[SessionClosing | ResponseTimedOut[ContextT]]:
        """Let time pass: expire timers, send enquire_link; return the resulting events."""
        config = self.config
        events: list[SessionClosing | ResponseTimedOut[ContextT]] = []
        if self.close_reason is not None:
            return events
        state = self.state
        if state is SessionState.OPEN:
            if config.session_init_timeout and now - self._opened_at >= config.session_init_timeout:
                events.append(self._closing(f"no bind within {config.session_init_timeout:g} s"))
                return events
        elif state.is_bound:
            if (
                config.enquire_link_interval
                and not self._enquire_link_pending
                and now - self._last_received >= config.enquire_link_interval
            ):
                self._enquire_link_pending = True
                self.send(EnquireLink(), now)
            if config.inactivity_timeout and now - self._last_request >= config.inactivity_timeout:
                self.unbind(now)
        for command_id, context in self._requests.expired(now):
            if command_id in _DELIVERIES:
                events.append(ResponseTimedOut(command_id, context))
            else:
                name = "enquire_link" if command_id == C.ENQUIRE_LINK else "unbind"
                events.append(self._closing(f"no answer to {name} within {config.response_timeout:g} s"))
                break
        return events

    def connection_lost(self) -> SessionLost[ContextT]:
        """The connection is gone: report the deliveries that will never be answered."""
        self._transition(Transition.CLOSED)
        lost = tuple(context for command_id, context in self._requests.clear() if command_id in _DELIVERIES)
        return SessionLost(lost)

    def _transition(self, what: Transition) -> None:
        self.state = TRANSITIONS[(self.state, what)]
        self._permitted = PERMITTED[self.state]
