"""The sans-I/O SMSC session: states, automatic answers, windows and timers, on plain bytes."""

from __future__ import annotations

import struct

import attrs
import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import BindType
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Unbind,
    UnbindResp,
)
from smsgw.smpp.session import (
    BindRequested,
    ResponseReceived,
    ResponseTimedOut,
    ResponseUnmatched,
    SessionClosing,
    SessionConfig,
    SmscSession,
    UnbindRequested,
)
from smsgw.smpp.sm import DataSmResp, DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp
from smsgw.smpp.states import SessionState


def read(session: SmscSession) -> list:
    return [codec.decode(raw) for raw in PduBuffer().feed(session.data_to_send())]


def bound(bind=BindTransceiver, **config) -> SmscSession:
    session = SmscSession(SessionConfig(**config), now=0.0)
    (event,) = session.receive_data(codec.encode(bind(1, system_id="esme", password="pw")), 0.0)
    assert isinstance(event, BindRequested)
    session.accept_bind(event.pdu, "esme")
    read(session)
    return session


def test_bind_is_handed_over_and_accepted_with_interface_version() -> None:
    """An accepted bind answers with the SMSC's system_id and sc_interface_version 0x34."""
    session = SmscSession(SessionConfig(system_id="smsgw"), now=0.0)
    (event,) = session.receive_data(codec.encode(BindTransmitter(4, system_id="a", password="b")), 0.0)
    assert event.bind_type is BindType.TRANSMITTER
    session.accept_bind(event.pdu, "a")
    (resp,) = read(session)
    assert (resp.sequence_number, resp.command_status, resp.system_id, resp.sc_interface_version) == (
        4,
        0,
        "smsgw",
        0x34,
    )
    assert session.state is SessionState.BOUND_TX


def test_refused_bind_keeps_session_open() -> None:
    """A refused bind answers header-only with the status; the session stays OPEN."""
    session = SmscSession(SessionConfig(), now=0.0)
    (event,) = session.receive_data(codec.encode(BindReceiver(2, system_id="x")), 0.0)
    session.reject_bind(event.pdu, S.ESME_RINVSYSID)
    (resp,) = read(session)
    assert resp.command_status == S.ESME_RINVSYSID and resp.system_id == ""
    assert session.state is SessionState.OPEN


def test_submit_before_bind_is_refused_with_rinvbndsts() -> None:
    """submit_sm in OPEN gets submit_sm_resp ESME_RINVBNDSTS, not a carrier event."""
    session = SmscSession(SessionConfig(), now=0.0)
    events = session.receive_data(codec.encode(SubmitSm(sequence_number=3, destination_addr="1")), 0.0)
    assert not any(isinstance(e, SubmitSm) for e in events)
    (resp,) = read(session)
    assert (
        isinstance(resp, SubmitSmResp)
        and resp.command_status == S.ESME_RINVBNDSTS
        and resp.sequence_number == 3
    )


def test_second_bind_gets_ralybnd() -> None:
    """A bind on a bound session is answered ESME_RALYBND."""
    session = bound()
    session.receive_data(codec.encode(BindTransceiver(9)), 1.0)
    (resp,) = read(session)
    assert resp.command_status == S.ESME_RALYBND


def test_receiver_may_not_submit() -> None:
    """submit_sm on a receiver bind is ESME_RINVBNDSTS."""
    session = bound(BindReceiver)
    session.receive_data(codec.encode(SubmitSm(sequence_number=2)), 1.0)
    (resp,) = read(session)
    assert resp.command_status == S.ESME_RINVBNDSTS


def test_submit_is_handed_over_and_answered() -> None:
    """A permitted submit_sm is an event; respond() writes its submit_sm_resp."""
    session = bound()
    (pdu,) = session.receive_data(codec.encode(SubmitSm(sequence_number=5, destination_addr="86")), 1.0)
    session.respond(pdu, 0, message_id="77")
    (resp,) = read(session)
    assert (resp.sequence_number, resp.message_id) == (5, "77")


def test_enquire_link_answered_even_before_bind() -> None:
    """enquire_link is answered automatically, also in OPEN."""
    session = SmscSession(SessionConfig(), now=0.0)
    assert session.receive_data(codec.encode(EnquireLink(8)), 0.0) == []
    assert read(session) == [EnquireLinkResp(8)]


def test_unknown_command_is_nacked_and_session_continues() -> None:
    """An unknown command_id gets generic_nack ESME_RINVCMDID with its sequence number."""
    session = bound()
    session.receive_data(struct.pack(">IIII", 16, 0x77, 0, 12) + codec.encode(EnquireLink(13)), 1.0)
    assert read(session) == [GenericNack(12, S.ESME_RINVCMDID), EnquireLinkResp(13)]
    assert session.close_reason is None


def test_framing_error_nacks_and_closes() -> None:
    """command_length 5 gets generic_nack ESME_RINVCMDLEN and the session closes."""
    session = bound()
    events = session.receive_data(struct.pack(">IIII", 5, 4, 0, 6), 1.0)
    assert any(isinstance(e, SessionClosing) for e in events)
    assert read(session) == [GenericNack(6, S.ESME_RINVCMDLEN)]


def test_unbind_from_esme() -> None:
    """unbind is answered with unbind_resp and the session moves to UNBOUND and closes."""
    session = bound()
    events = session.receive_data(codec.encode(Unbind(3)), 1.0)
    assert any(isinstance(e, UnbindRequested) for e in events)
    assert read(session) == [UnbindResp(3)]
    assert session.state is SessionState.UNBOUND and session.close_reason


def test_deliveries_respect_the_window_and_match_responses() -> None:
    """deliver_sm beyond the window is refused by can_deliver; responses carry their context."""
    session = bound(window=2)
    raw = codec.encode(DeliverSm(source_addr="1"))
    first = session.send_encoded(raw, 1.0, "a")
    session.send_encoded(raw, 1.0, "b")
    assert not session.can_deliver
    sent = read(session)
    assert [p.sequence_number for p in sent] == [first, first + 1]
    (event,) = session.receive_data(codec.encode(DeliverSmResp(first)), 2.0)
    assert isinstance(event, ResponseReceived) and event.context == "a"
    assert session.can_deliver


def test_unanswered_delivery_times_out() -> None:
    """A deliver_sm unanswered past the response timeout is reported with its context."""
    session = bound(response_timeout=5.0, enquire_link_interval=0)
    session.send_encoded(codec.encode(DeliverSm()), 10.0, "ctx")
    assert session.tick(14.9) == []
    assert session.tick(15.0) == [ResponseTimedOut(5, "ctx")]
    assert session.window_free == session.config.window


def wrong_answers(sequence: int) -> list:
    """Responses on a deliver_sm's sequence_number that are not its answer (v3.4 §3.2, §4.3)."""
    return [
        EnquireLinkResp(sequence),
        UnbindResp(sequence),
        DataSmResp(sequence),
        GenericNack(sequence, S.ESME_ROK),  # a nack that says nothing is wrong is no answer
    ]


@pytest.mark.parametrize(
    "answer",
    [DeliverSmResp(0, S.ESME_ROK), GenericNack(0, S.ESME_RSYSERR)],
    ids=["deliver_sm_resp", "generic_nack-RSYSERR"],
)
def test_only_its_own_response_or_an_error_nack_answers_a_delivery(answer) -> None:
    """A deliver_sm is answered by deliver_sm_resp or generic_nack with an error status, not by another response on its number."""
    session = bound(response_timeout=5.0, enquire_link_interval=0)
    sequence = session.send_encoded(codec.encode(DeliverSm()), 10.0, "receipt")
    read(session)
    for wrong in wrong_answers(sequence):
        (event,) = session.receive_data(codec.encode(wrong), 11.0)
        assert event == ResponseUnmatched(wrong, C.DELIVER_SM), wrong
        assert session.deliveries_in_flight == 1, wrong
    assert read(session) == []  # dropped, never nacked back
    assert session.close_reason is None
    (event,) = session.receive_data(codec.encode(attrs.evolve(answer, sequence_number=sequence)), 12.0)
    assert isinstance(event, ResponseReceived) and event.context == "receipt"
    assert event.response.command_status == answer.command_status
    assert session.deliveries_in_flight == 0 and session.tick(20.0) == []


def test_delivery_answered_by_a_wrong_response_times_out_and_names_it() -> None:
    """enquire_link_resp on a deliver_sm's number leaves it outstanding: it times out (so the carrier retries it), and the event names both."""
    session = bound(response_timeout=5.0, enquire_link_interval=0)
    sequence = session.send_encoded(codec.encode(DeliverSm()), 10.0, "receipt")
    (event,) = session.receive_data(codec.encode(EnquireLinkResp(sequence)), 11.0)
    assert f"enquire_link_resp (status ESME_ROK) with the sequence_number {sequence} of a deliver_sm" in (
        event.reason
    )
    assert session.tick(14.9) == []
    assert session.tick(15.0) == [ResponseTimedOut(C.DELIVER_SM, "receipt")]
    assert session.window_free == session.config.window


def test_response_to_no_outstanding_request_is_reported() -> None:
    """A deliver_sm_resp with a number never sent, or after its timeout, answers nothing and is reported."""
    session = bound(response_timeout=5.0, enquire_link_interval=0)
    sequence = session.send_encoded(codec.encode(DeliverSm()), 10.0, "receipt")
    read(session)
    stray = DeliverSmResp(sequence + 40)
    assert session.receive_data(codec.encode(stray), 11.0) == [ResponseUnmatched(stray, None)]
    assert session.deliveries_in_flight == 1
    assert session.tick(15.0) == [ResponseTimedOut(C.DELIVER_SM, "receipt")]
    late = DeliverSmResp(sequence)
    (event,) = session.receive_data(codec.encode(late), 16.0)
    assert event == ResponseUnmatched(late, None) and "names no request outstanding" in event.reason
    assert read(session) == []  # dropped, never nacked back


def test_enquire_link_answered_by_a_wrong_response_still_closes() -> None:
    """deliver_sm_resp on our enquire_link's number is not its answer: the link check fails and the session closes."""
    session = bound(enquire_link_interval=30.0, response_timeout=5.0)
    session.tick(30.0)
    (probe,) = read(session)
    (event,) = session.receive_data(codec.encode(DeliverSmResp(probe.sequence_number)), 31.0)
    assert event == ResponseUnmatched(DeliverSmResp(probe.sequence_number), C.ENQUIRE_LINK)
    assert isinstance(session.tick(35.0)[0], SessionClosing)


def test_session_init_timer_closes_an_unbound_connection() -> None:
    """No bind within session_init_timeout closes the connection."""
    session = SmscSession(SessionConfig(session_init_timeout=10.0), now=0.0)
    assert session.tick(9.0) == []
    assert isinstance(session.tick(10.0)[0], SessionClosing)


def test_enquire_link_sent_when_idle_and_close_when_unanswered() -> None:
    """An idle bound session is probed with enquire_link; no answer closes it."""
    session = bound(enquire_link_interval=30.0, response_timeout=5.0)
    session.tick(30.0)
    (probe,) = read(session)
    assert isinstance(probe, EnquireLink)
    assert session.tick(34.0) == []
    assert isinstance(session.tick(35.0)[0], SessionClosing)


def test_answered_enquire_link_keeps_the_session() -> None:
    """An answered enquire_link keeps the session open."""
    session = bound(enquire_link_interval=30.0, response_timeout=5.0)
    session.tick(30.0)
    (probe,) = read(session)
    session.receive_data(codec.encode(EnquireLinkResp(probe.sequence_number)), 31.0)
    assert session.tick(40.0) == []


def test_inactivity_unbinds() -> None:
    """No request for inactivity_timeout makes the SMSC send unbind."""
    session = bound(inactivity_timeout=60.0, enquire_link_interval=0)
    session.tick(61.0)
    assert isinstance(read(session)[0], Unbind)
    assert session.state is SessionState.UNBOUND


def test_lost_connection_reports_unanswered_deliveries() -> None:
    """Closing with deliveries in flight reports their contexts as lost."""
    session = bound()
    session.send_encoded(codec.encode(DeliverSm()), 1.0, "x")
    session.send_encoded(codec.encode(DeliverSm()), 1.0, "y")
    assert session.connection_lost().contexts == ("x", "y")


def test_sequence_numbers_wrap() -> None:
    """Our sequence numbers run 1..0x7FFFFFFF and wrap to 1."""
    session = bound()
    session._requests._next = 0x7FFFFFFF
    assert session.send(EnquireLink(), 1.0) == 0x7FFFFFFF
    assert session.send(EnquireLink(), 1.0) == 1


@pytest.mark.parametrize("state_bind", [None, BindTransmitter, BindReceiver, BindTransceiver])
def test_every_command_in_every_state_is_answered_or_handed_over(state_bind) -> None:
    """No PDU kind, in any state, is silently dropped or crashes the session."""
    from smsgw.smpp import specs

    for cls in specs.FIELDS:
        session = bound(state_bind) if state_bind else SmscSession(SessionConfig(), now=0.0)
        events = session.receive_data(codec.encode(cls(sequence_number=77)), 1.0)
        output = read(session)
        handled = events or output or cls.command_id & 0x80000000
        assert handled, cls.__name__
