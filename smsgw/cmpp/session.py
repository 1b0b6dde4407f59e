"""One CMPP session seen from the gateway (the ISMG), without I/O.

As :mod:`smsgw.smpp.session` does for SMPP: bytes go in with :meth:`IsmgSession.receive_data`,
which returns what happened as events; bytes to send accumulate until
:meth:`IsmgSession.data_to_send`; time passes only through ``now`` arguments and
:meth:`IsmgSession.tick`.

The session answers on its own what needs no carrier decision: ACTIVE_TEST, TERMINATE, a
malformed request (its response with the code the decoder found), a request before
CMPP_CONNECT (the connection ends). A CONNECT is handed over as :class:`ConnectRequested`, for
the caller to check the SP and :meth:`~IsmgSession.accept` or :meth:`~IsmgSession.refuse` it;
SUBMIT, QUERY and CANCEL are handed over as the decoded PDU, answered with
:meth:`~IsmgSession.respond`. The gateway's own requests (DELIVER, ACTIVE_TEST) go out with
:meth:`~IsmgSession.send`, DELIVERs at most ``window`` at a time.

Keep-alive, from the specification (§7.1): when nothing was heard for ``active_test_interval``
(C, 3 minutes), an ACTIVE_TEST; one unanswered for ``response_timeout`` (T, 60 s) is sent
again at once, and after ``active_test_tries`` (N, 3) in a row the connection ends.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, Generic

import attrs

from smsgw.cmpp import auth, codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import HIGHEST_VERSION, CommandId, ConnectStatus, Version, command_name
from smsgw.cmpp.errors import RemoteProtocolError
from smsgw.cmpp.framing import DEFAULT_MAX_PDU_SIZE, CmppBuffer
from smsgw.ledger import ContextT, RequestLedger
from smsgw.outgoing import Outgoing

#: The highest Sequence_Id; CMPP's is a full 32 bits.
SEQUENCE_MAX = 0xFFFFFFFF
_U32 = struct.Struct(">I")
#: The answer every accepted SUBMIT gets, and the answer to every DELIVER, packed and read
#: directly (header, Msg_Id, Result of 1 octet in 2.0 and 4 in 3.0): a submit and its
#: report each pass one of them, and the layout tables cost several times a struct.
_MSG_ID_RESULT = {Version.V20: struct.Struct(">IIIQB"), Version.V30: struct.Struct(">IIIQI")}
_DELIVER_RESP = int(CommandId.DELIVER_RESP)


@attrs.frozen
class SessionConfig:
    """A session's limits and timers (seconds)."""

    #: DELIVERs sent and not yet answered (the specification's W).
    window: int = 16
    #: T: how long a request of ours waits for its response.
    response_timeout: float = 60.0
    #: C: silence after which an ACTIVE_TEST goes out.
    active_test_interval: float = 180.0
    #: N: unanswered ACTIVE_TESTs in a row that end the connection.
    active_test_tries: int = 3
    #: How long a new connection has to send its CMPP_CONNECT.
    connect_timeout: float = 30.0
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE


class State(enum.Enum):
    OPEN = "open"  # connected, no CMPP_CONNECT yet
    CONNECTING = "connecting"  # a CMPP_CONNECT waits for the caller's answer
    CONNECTED = "connected"
    TERMINATING = "terminating"  # our CMPP_TERMINATE waits for its answer
    CLOSING = "closing"  # sending what is queued, then the connection ends
    CLOSED = "closed"


@attrs.frozen
class ConnectRequested:
    """An SP asks to connect; the caller checks it and calls accept or refuse."""

    pdu: p.Connect
    version: Version


@attrs.frozen
class ResponseReceived(Generic[ContextT]):
    """The SP answered a request of ours (a DELIVER_RESP, with what was sent's context)."""

    pdu: p.Pdu
    context: ContextT | None


@attrs.frozen
class ResponseTimedOut(Generic[ContextT]):
    """A request of ours got no response within ``response_timeout``."""

    command_id: int
    context: ContextT | None


@attrs.frozen
class ResponseUnmatched:
    """A response that answers no request of ours (late, or for a Sequence_Id never sent)."""

    pdu: p.Pdu

    @property
    def reason(self) -> str:
        """What it was, for logs."""
        return f"{command_name(self.pdu.command_id)} with Sequence_Id {self.pdu.sequence_id} answers nothing sent"


@attrs.frozen
class ProtocolErrorAnswered:
    """A malformed PDU, answered with its code where CMPP gives it a response."""

    error: RemoteProtocolError


@attrs.frozen
class SessionClosing:
    """The connection ends once what is queued is sent (TERMINATE, a refused connect, a
    broken stream, a dead peer)."""

    reason: str


@attrs.frozen
class SessionLost(Generic[ContextT]):
    """The connection is gone; the contexts of the requests it never answered."""

    contexts: tuple[ContextT | None, ...]


IsmgEvent = (
    ConnectRequested
    | p.Submit
    | p.Query
    | p.Cancel
    | ResponseReceived[ContextT]
    | ResponseTimedOut[ContextT]
    | ResponseUnmatched
    | ProtocolErrorAnswered
    | SessionClosing
)

_REQUESTS_FOR_THE_CALLER = (p.Submit, p.Query, p.Cancel)
_RESPONSES = (
    p.DeliverResp,
    p.ActiveTestResp,
    p.TerminateResp,
    p.SubmitResp,
    p.ConnectResp,
    p.QueryResp,
    p.CancelResp,
)
_RESPONSE_CLASS: dict[type[p.Pdu], type[p.Pdu]] = {
    p.Submit: p.SubmitResp,
    p.Query: p.QueryResp,
    p.Cancel: p.CancelResp,
}


class IsmgSession(Outgoing, Generic[ContextT]):
    """The gateway's end of one SP connection.

    :param config: limits and timers.
    :param now: when the connection was made.
    """

    def __init__(self, config: SessionConfig, now: float) -> None:
        self.config = config
        self.state = State.OPEN
        #: The layouts spoken: 3.0 until a CMPP_CONNECT says otherwise.
        self.version = Version.V30
        #: The SP's Source_Addr, once connected.
        self.source_addr = ""
        self._buffer = CmppBuffer(config.max_pdu_size)
        self._ledger: RequestLedger[ContextT | None] = RequestLedger(
            frozenset({CommandId.DELIVER}), sequence_max=SEQUENCE_MAX
        )
        self._out: list[bytes] = []
        self._opened_at = now
        self._heard_at = now
        self._misses = 0
        self._testing = False
        #: The transport's buffer is full: no DELIVER goes out until it drains.
        self.send_paused = False
        #: A fault cut the connection: what the SP sent after that is never read.
        self.dropped = False
        #: Why the connection ends, once it does.
        self.close_reason: str | None = None

    @property
    def ending(self) -> bool:
        """Whether the connection is ending or gone (nothing more is read)."""
        return self.state in (State.CLOSING, State.CLOSED)

    # -- what the SP sends ------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[IsmgEvent[ContextT]]:
        """Take received bytes; what they mean, in order."""
        if self.ending:
            return []
        self._heard_at = now
        events: list[IsmgEvent[ContextT]] = []
        for raw in self._buffer.feed(data):
            self._receive(raw, events)
            if self.ending:  # nothing after a TERMINATE or a refusal is read
                return events
        if self._buffer.broken is not None:
            events.append(self._closing(str(self._buffer.broken)))
        return events

    def _receive(self, raw: bytes, events: list[IsmgEvent[ContextT]]) -> None:
        layout = _MSG_ID_RESULT[self.version]
        if len(raw) == layout.size and _U32.unpack_from(raw, 4)[0] == _DELIVER_RESP:
            _, _, sequence, msg_id, result = layout.unpack(raw)
            self._response(p.DeliverResp(sequence, msg_id, result), events)
            return
        try:
            pdu = codec.decode(raw, self.version)
        except RemoteProtocolError as error:
            self._answer_error(error, events)
            return
        if isinstance(pdu, p.Connect):
            self._connect(pdu, events)
        elif isinstance(pdu, _RESPONSES):
            self._response(pdu, events)
        elif self.state not in (State.CONNECTED, State.TERMINATING):
            events.append(self._closing(f"{command_name(pdu.command_id)} before a successful CMPP_CONNECT"))
        elif isinstance(pdu, p.ActiveTest):
            self._queue(p.ActiveTestResp(pdu.sequence_id))
        elif isinstance(pdu, p.Terminate):  # also while ours waits: both ends said so
            self._queue(p.TerminateResp(pdu.sequence_id))
            events.append(self._closing("the SP sent CMPP_TERMINATE"))
        elif self.state is State.TERMINATING:
            events.append(self._closing(f"{command_name(pdu.command_id)} after our CMPP_TERMINATE"))
        elif isinstance(pdu, _REQUESTS_FOR_THE_CALLER):
            events.append(pdu)
        else:  # a DELIVER: the gateway's to send, never an SP's
            events.append(self._closing(f"{command_name(pdu.command_id)} is the gateway's to send"))

    def _connect(self, pdu: p.Connect, events: list[IsmgEvent[ContextT]]) -> None:
        if self.state is not State.OPEN:
            self._queue(p.ConnectResp(pdu.sequence_id, ConnectStatus.OTHER, bytes(16), HIGHEST_VERSION))
            return
        try:
            self.version = Version.of(pdu.version)
        except ValueError:
            self.refuse(pdu, ConnectStatus.VERSION_TOO_HIGH)
            events.append(self._closing(f"CMPP_CONNECT asked for version 0x{pdu.version:02X}"))
            return
        self.state = State.CONNECTING
        events.append(ConnectRequested(pdu, self.version))

    def _response(self, pdu: p.Pdu, events: list[IsmgEvent[ContextT]]) -> None:
        entry = self._ledger.answer(pdu.sequence_id, pdu.command_id, 0)
        if entry is None:
            events.append(ResponseUnmatched(pdu))
            return
        _, command_id, context = entry
        if command_id == CommandId.ACTIVE_TEST:
            self._testing, self._misses = False, 0
        elif command_id == CommandId.TERMINATE:
            events.append(self._closing("the SP answered CMPP_TERMINATE"))
        else:
            events.append(ResponseReceived(pdu, context))

    def _answer_error(self, error: RemoteProtocolError, events: list[IsmgEvent[ContextT]]) -> None:
        sequence = error.sequence_id or 0
        if error.command_id == CommandId.CONNECT:
            self._queue(p.ConnectResp(sequence, error.code, bytes(16), HIGHEST_VERSION))
            events.append(ProtocolErrorAnswered(error))
            events.append(self._closing(f"a malformed CMPP_CONNECT: {error}"))
            return
        if self.state is not State.CONNECTED:
            events.append(self._closing(f"a malformed PDU before a successful CMPP_CONNECT: {error}"))
            return
        if error.command_id == CommandId.SUBMIT:
            self._queue(p.SubmitResp(sequence, 0, error.code))
        elif error.command_id == CommandId.CANCEL:
            self._queue(p.CancelResp(sequence, 1))
        elif error.command_id == CommandId.ACTIVE_TEST:
            self._queue(p.ActiveTestResp(sequence))
        events.append(ProtocolErrorAnswered(error))

    # -- the caller's answers ---------------------------------------------------------------

    def accept(self, request: p.Connect, secret: str) -> None:
        """Connect the SP: CONNECT_RESP Status 0, with AuthenticatorISMG. Nothing, when the
        connection ended meanwhile (its connect timeout, a malformed PDU)."""
        if self.state is not State.CONNECTING:
            return
        self.source_addr = request.source_addr
        authenticator = auth.authenticator_ismg(0, request.authenticator_source, secret, self.version)
        self._queue(p.ConnectResp(request.sequence_id, ConnectStatus.OK, authenticator, HIGHEST_VERSION))
        self.state = State.CONNECTED

    def refuse(self, request: p.Connect, status: int) -> SessionClosing:
        """Refuse the SP (Status 2 unknown source address, 3 bad authenticator, ...); the
        connection then ends."""
        if not self.ending:
            self._queue(p.ConnectResp(request.sequence_id, status, bytes(16), HIGHEST_VERSION))
        return self._closing(f"CMPP_CONNECT refused with Status {status}")

    def respond(self, request: p.Pdu, **fields: Any) -> None:
        """Answer a SUBMIT, QUERY or CANCEL (``msg_id`` and ``result`` of a SUBMIT_RESP, ...)."""
        self._queue(_RESPONSE_CLASS[type(request)](request.sequence_id, **fields))

    def answer_submit(self, request: p.Submit, msg_id: int, result: int = 0) -> None:
        """Answer a SUBMIT: what :meth:`respond` sends, packed directly."""
        layout = _MSG_ID_RESULT[self.version]
        self._out.append(layout.pack(layout.size, CommandId.SUBMIT_RESP, request.sequence_id, msg_id, result))

    # -- the gateway's requests -------------------------------------------------------------

    @property
    def can_deliver(self) -> bool:
        """Whether a DELIVER may go out now (connected, not paused, and the window has room)."""
        return (
            self.state is State.CONNECTED
            and not self.send_paused
            and self._ledger.in_flight < self.config.window
        )

    @property
    def window_free(self) -> int:
        """How many more DELIVERs may go out before the SP answers some."""
        return self.config.window - self._ledger.in_flight

    @property
    def deliveries_in_flight(self) -> int:
        """DELIVERs sent and not yet answered."""
        return self._ledger.in_flight

    def send_encoded(self, raw: bytes, now: float, context: ContextT | None = None) -> int:
        """Queue an already encoded DELIVER, giving it the next Sequence_Id (a resend is a
        header patch, not an encode); ``context`` comes back with its answer or timeout."""
        sequence = self._ledger.next_sequence()
        self._out.append(raw[:8] + _U32.pack(sequence) + raw[12:])
        self._ledger.add(sequence, now + self.config.response_timeout, CommandId.DELIVER, context)
        return sequence

    def send(self, pdu: p.Pdu, now: float, context: ContextT | None = None) -> int:
        """Send a request of the gateway's (its Sequence_Id is given here); the Sequence_Id."""
        sequence = self._ledger.next_sequence()
        pdu.sequence_id = sequence
        self._ledger.add(sequence, now + self.config.response_timeout, pdu.command_id, context)
        self._queue(pdu)
        return sequence

    def close(self, reason: str) -> SessionClosing:
        """End the connection after what is queued (the server aborts it at shutdown)."""
        return self._closing(reason)

    def drop(self, reason: str) -> SessionClosing:
        """Close as if the connection broke (an injected fault): what is queued still goes,
        nothing more is read, and the request being handled stays unanswered."""
        self.dropped = True
        return self._closing(reason)

    def terminate(self, now: float) -> None:
        """End the session the CMPP way: CMPP_TERMINATE, then close on its answer (or T)."""
        if self.state is State.CONNECTED:
            self.send(p.Terminate(0), now)
            self.state = State.TERMINATING

    # -- time and the connection ------------------------------------------------------------

    def tick(self, now: float) -> list[SessionClosing | ResponseTimedOut[ContextT]]:
        """Expire what waited too long, and keep the link alive."""
        events: list[SessionClosing | ResponseTimedOut[ContextT]] = []
        if (
            self.state in (State.OPEN, State.CONNECTING)
            and now - self._opened_at >= self.config.connect_timeout
        ):
            events.append(self._closing(f"no CMPP_CONNECT within {self.config.connect_timeout:g} s"))
            return events
        for command_id, context in self._ledger.expired(now):
            if command_id == CommandId.ACTIVE_TEST:
                self._misses += 1
                self._testing = False
                if self._misses >= self.config.active_test_tries:
                    events.append(self._closing(f"{self._misses} CMPP_ACTIVE_TEST unanswered"))
                    return events
                self._active_test(now)  # again at once (§7.1)
            elif command_id == CommandId.TERMINATE:
                events.append(self._closing("CMPP_TERMINATE unanswered"))
                return events
            else:
                events.append(ResponseTimedOut(command_id, context))
        if (
            self.state is State.CONNECTED
            and not self._testing
            and now - self._heard_at >= self.config.active_test_interval
        ):
            self._active_test(now)
        return events

    def _active_test(self, now: float) -> None:
        self._testing = True
        self.send(p.ActiveTest(0), now)

    def connection_lost(self) -> SessionLost[ContextT]:
        """The connection is gone; what it never answered."""
        self.state = State.CLOSED
        return SessionLost(tuple(context for _, context in self._ledger.clear()))

    def _queue(self, pdu: p.Pdu) -> None:
        self._out.append(codec.encode(pdu, self.version))

    def _closing(self, reason: str) -> SessionClosing:
        self.state = State.CLOSING
        if self.close_reason is None:
            self.close_reason = reason
        return SessionClosing(reason)
