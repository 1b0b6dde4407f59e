"""The sans-I/O ESME session's state table, on plain bytes and an injected clock (no SMSC session)."""

from __future__ import annotations

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import BindType
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.errors import LocalProtocolError
from smsgw.smpp.esme import Answered, BindRefused, Bound, Delivered, EsmeConfig, EsmeSession
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import (
    AlertNotification,
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    Unbind,
    UnbindResp,
)
from smsgw.smpp.session import ProtocolErrorAnswered, ResponseTimedOut, ResponseUnmatched, SessionClosing
from smsgw.smpp.sm import DataSm, DeliverSm, SubmitSm, SubmitSmResp
from smsgw.smpp.states import PERMITTED, SMSC_PERMITTED, SessionState

BIND_RESP = {
    BindType.TRANSMITTER: BindTransmitterResp,
    BindType.RECEIVER: BindReceiverResp,
    BindType.TRANSCEIVER: BindTransceiverResp,
}
BOUND_STATE = {
    BindType.TRANSMITTER: SessionState.BOUND_TX,
    BindType.RECEIVER: SessionState.BOUND_RX,
    BindType.TRANSCEIVER: SessionState.BOUND_TRX,
}


def read(session: EsmeSession) -> list[Pdu]:
    return [codec.decode(raw) for raw in PduBuffer().feed(session.data_to_send())]


def esme(bind_type: BindType = BindType.TRANSCEIVER, **config: object) -> EsmeSession:
    return EsmeSession(EsmeConfig("shop", "pw", bind_type, **config), now=0.0)  # type: ignore[arg-type]  # the test's own keywords


def bound(bind_type: BindType = BindType.TRANSCEIVER, **config: object) -> EsmeSession:
    session = esme(bind_type, **config)
    session.start(0.0)
    (bind,) = read(session)
    answer = BIND_RESP[bind_type](bind.sequence_number, system_id="smsc")
    assert session.receive_data(codec.encode(answer), 0.0) == [Bound("smsc")]
    return session


@pytest.mark.parametrize("bind_type", list(BindType))
def test_a_bind_moves_open_to_its_bound_state(bind_type: BindType) -> None:
    """start() sends the configured bind with its address_range; its resp enters the bind type's state."""
    session = esme(bind_type, address_range="ns:shop")
    assert session.state is SessionState.OPEN and not session.binding
    session.start(0.0)
    (bind,) = read(session)
    assert bind.command_id == {"transmitter": C.BIND_TRANSMITTER, "receiver": C.BIND_RECEIVER}.get(
        bind_type.value, C.BIND_TRANSCEIVER
    )
    assert bind.address_range == "ns:shop" and session.binding  # type: ignore[attr-defined]  # a bind PDU
    session.receive_data(codec.encode(BIND_RESP[bind_type](bind.sequence_number, system_id="smsc")), 1.0)
    assert session.state is BOUND_STATE[bind_type] and not session.binding


def test_a_refused_bind_stays_open_and_closes() -> None:
    session = esme()
    session.start(0.0)
    (bind,) = read(session)
    events = session.receive_data(
        codec.encode(BindTransceiverResp(bind.sequence_number, S.ESME_RINVPASWD)), 0.0
    )
    assert events == [BindRefused(S.ESME_RINVPASWD), SessionClosing("bind refused with 0x0000000E")]
    assert session.state is SessionState.OPEN and not session.can_send


def test_requests_the_state_does_not_allow_are_refused_locally() -> None:
    """send() raises for a submit before the bind, from a receiver, and after unbind; never a bind."""
    opened = esme()
    with pytest.raises(LocalProtocolError, match="not allowed in state open"):
        opened.send(SubmitSm(destination_addr="861"), 0.0)
    with pytest.raises(LocalProtocolError, match="bound_rx"):
        bound(BindType.RECEIVER).send(SubmitSm(destination_addr="861"), 0.0)
    with pytest.raises(LocalProtocolError):
        bound().send(BindTransceiverResp(), 0.0)
    session = bound()
    session.unbind(1.0)
    assert session.state is SessionState.UNBOUND and isinstance(read(session)[0], Unbind)
    with pytest.raises(LocalProtocolError, match="unbound"):
        session.send(SubmitSm(destination_addr="861"), 1.0)
    assert bound(BindType.TRANSMITTER).send(SubmitSm(destination_addr="861"), 0.0) == 2


@pytest.mark.parametrize(
    ("bind_type", "delivery", "handed_over"),
    [
        (BindType.RECEIVER, DeliverSm(7), True),
        (BindType.TRANSCEIVER, DataSm(7), True),
        # Table 2-1 lets the SMSC send data_sm to a transmitter, never deliver_sm.
        (BindType.TRANSMITTER, DataSm(7), True),
        (BindType.TRANSMITTER, DeliverSm(7), False),
    ],
)
def test_deliveries_follow_the_bind_type(bind_type: BindType, delivery: Pdu, handed_over: bool) -> None:
    session = bound(bind_type)
    events = session.receive_data(codec.encode(delivery), 1.0)
    if handed_over:
        assert events == [Delivered(delivery)] and read(session) == []  # type: ignore[arg-type]  # a delivery
    else:
        assert isinstance(events[0], ProtocolErrorAnswered)
        (answer,) = read(session)
        assert (answer.command_id, answer.sequence_number, answer.command_status) == (
            C.DELIVER_SM_RESP,
            7,
            S.ESME_RINVBNDSTS,
        )


@pytest.mark.parametrize(
    ("state", "pdu", "answer"),
    [
        ("open", DeliverSm(3), (C.DELIVER_SM_RESP, S.ESME_RINVBNDSTS)),
        ("open", Unbind(3), (C.UNBIND_RESP, S.ESME_RINVBNDSTS)),
        ("open", Outbind(3), (C.GENERIC_NACK, S.ESME_RINVBNDSTS)),  # the ESME connects by itself
        ("bound", SubmitSm(3), (C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS)),  # an SMSC never submits
        ("unbound", DeliverSm(3), (C.DELIVER_SM_RESP, S.ESME_RINVBNDSTS)),
    ],
)
def test_requests_out_of_place_are_answered_never_dropped(
    state: str, pdu: Pdu, answer: tuple[int, int]
) -> None:
    session = esme() if state == "open" else bound()
    if state == "unbound":
        session.unbind(0.0)
        read(session)
    (event,) = session.receive_data(codec.encode(pdu), 1.0)
    assert isinstance(event, ProtocolErrorAnswered)
    (sent,) = read(session)
    assert (sent.command_id, sent.command_status, sent.sequence_number) == (*answer, 3)


def test_responses_out_of_place_are_dropped_and_reported() -> None:
    """A submit_sm_resp before the bind answers nothing: no generic_nack goes back."""
    session = esme()
    session.start(0.0)
    read(session)
    stray = SubmitSmResp(1, message_id="x")
    assert session.receive_data(codec.encode(stray), 0.0) == [ResponseUnmatched(stray, C.BIND_TRANSCEIVER)]
    assert read(session) == [] and session.binding


def test_enquire_link_is_answered_in_every_state_but_closed() -> None:
    for session in (esme(), bound()):
        assert session.receive_data(codec.encode(EnquireLink(9)), 0.0) == []
        assert read(session) == [EnquireLinkResp(9)]


def test_alert_notification_is_taken_quietly_when_receiving() -> None:
    session = bound(BindType.RECEIVER)
    assert session.receive_data(codec.encode(AlertNotification(4)), 0.0) == []
    assert read(session) == []


def test_an_unbind_from_the_smsc_is_answered_and_ends_the_session() -> None:
    session = bound()
    events = session.receive_data(codec.encode(Unbind(5)), 1.0)
    assert events == [SessionClosing("the SMSC unbound")]
    assert read(session) == [UnbindResp(5)] and session.state is SessionState.UNBOUND
    assert not session.can_send


def test_unbinds_crossing_are_both_answered() -> None:
    """Our unbind and the SMSC's cross: the SMSC's is answered, then ours is, and the state stays UNBOUND."""
    session = bound()
    session.unbind(1.0)
    (unbind,) = read(session)
    assert session.receive_data(codec.encode(Unbind(5)), 1.0) == [SessionClosing("the SMSC unbound")]
    assert read(session) == [UnbindResp(5)] and session.state is SessionState.UNBOUND
    session.connection_lost()
    assert session.state is SessionState.CLOSED
    assert session.receive_data(codec.encode(UnbindResp(unbind.sequence_number)), 2.0) == []


def test_submit_answers_drain_after_our_unbind() -> None:
    """A submit outstanding when we unbind still gets its answer; then the unbind_resp closes."""
    session = bound()
    sequence = session.send(SubmitSm(destination_addr="861"), 1.0, "order")
    session.unbind(1.0)
    (_, unbind) = read(session)
    answer = SubmitSmResp(sequence, message_id="42")
    assert session.receive_data(codec.encode(answer), 2.0) == [Answered(answer, "order")]
    assert session.receive_data(codec.encode(UnbindResp(unbind.sequence_number)), 2.0) == [
        SessionClosing("unbind answered")
    ]


def test_the_clock_drives_keepalive_and_timeouts() -> None:
    """Idle for the interval, the ESME probes; an unanswered bind or probe closes; a submit times out alone."""
    session = bound(enquire_link_interval=10.0, response_timeout=5.0)
    assert session.tick(9.9) == [] and read(session) == []
    assert session.tick(10.0) == [] and isinstance(read(session)[0], EnquireLink)
    assert session.tick(12.0) == [] and read(session) == []  # one probe at a time
    sequence = session.send(SubmitSm(destination_addr="861"), 12.0, "order")
    assert session.tick(15.0) == [SessionClosing("no answer to enquire_link within 5 s")]
    assert session.tick(17.0) == []  # closing: nothing more happens
    slow = bound(enquire_link_interval=0, response_timeout=5.0)
    sequence = slow.send(SubmitSm(destination_addr="861"), 1.0, "order")
    assert slow.tick(5.9) == [] and slow.tick(6.0) == [ResponseTimedOut(C.SUBMIT_SM, "order")]
    late = SubmitSmResp(sequence, message_id="1")
    assert slow.receive_data(codec.encode(late), 7.0) == [ResponseUnmatched(late, None)]
    unanswered = esme(response_timeout=5.0)
    unanswered.start(0.0)
    assert unanswered.tick(5.0) == [SessionClosing("no answer to bind_transceiver within 5 s")]


def test_the_window_and_a_lost_connection() -> None:
    session = bound(window=2)
    session.send(SubmitSm(destination_addr="861"), 0.0, "a")
    session.send(SubmitSm(destination_addr="862"), 0.0, "b")
    assert not session.can_send
    assert session.connection_lost() == ["a", "b"] and session.state is SessionState.CLOSED


def test_the_tables_agree_with_each_other() -> None:
    """Every request the ESME may send in a state may be answered to it in that state, and back."""
    for state in SessionState:
        requests = {c for c in PERMITTED[state] if not c & 0x80000000 and c != C.GENERIC_NACK}
        # A bind is answered in OPEN and its answer moves the state: the bind test covers it.
        for command_id in requests - {C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER}:
            assert command_id | 0x80000000 in SMSC_PERMITTED[state], (state, hex(command_id))
    assert SMSC_PERMITTED[SessionState.CLOSED] == PERMITTED[SessionState.CLOSED] == frozenset()
    assert GenericNack.command_id in SMSC_PERMITTED[SessionState.OPEN]
