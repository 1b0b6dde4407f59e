"""The ESME-side session against the SMSC-side session, bytes shuttled by hand (no sockets)."""

from __future__ import annotations

from smsgw.smpp import codec
from smsgw.smpp.constants import BindType
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.esme import Answered, BindRefused, Bound, Delivered, EsmeConfig, EsmeSession
from smsgw.smpp.pdu import (
    BindTransceiverResp,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
)
from smsgw.smpp.session import (
    BindRequested,
    ResponseTimedOut,
    ResponseUnmatched,
    SessionClosing,
    SessionConfig,
    SmscSession,
)
from smsgw.smpp.sm import DeliverSm, SubmitSm, SubmitSmResp
from smsgw.smpp.states import SessionState


class Pair:
    """An ESME session and an SMSC session wired back to back; the SMSC accepts binds it is told to."""

    def __init__(self, accept: bool = True, **esme: object) -> None:
        self.esme = EsmeSession(EsmeConfig("shop", "pw", **esme), now=0.0)  # type: ignore[arg-type]
        self.smsc = SmscSession(SessionConfig(), now=0.0)
        self.accept = accept
        self.smsc_events: list[object] = []

    def to_smsc(self, now: float = 0.0) -> list[object]:
        events = self.smsc.receive_data(self.esme.data_to_send(), now)
        for event in events:
            if isinstance(event, BindRequested):
                if self.accept:
                    self.smsc.accept_bind(event.pdu, "shop")
                else:
                    self.smsc.reject_bind(event.pdu, S.ESME_RINVPASWD)
        self.smsc_events += events
        return events

    def to_esme(self, now: float = 0.0) -> list[object]:
        return self.esme.receive_data(self.smsc.data_to_send(), now)

    def bind(self) -> list[object]:
        self.esme.start(0.0)
        self.to_smsc()
        return self.to_esme()


def test_bind_accepted_and_refused() -> None:
    """The ESME binds as configured; a refusal closes it with the status."""
    pair = Pair(bind_type=BindType.TRANSCEIVER)
    assert pair.bind() == [Bound("smsgw")] and pair.esme.state is SessionState.BOUND_TRX
    refused = Pair(accept=False)
    events = refused.bind()
    assert events[0] == BindRefused(S.ESME_RINVPASWD) and isinstance(events[1], SessionClosing)


def test_submits_answered_with_their_context_and_window() -> None:
    """Submits carry a context back with their resp; the window bounds how many are out."""
    pair = Pair(window=2)
    pair.bind()
    pair.esme.send(SubmitSm(destination_addr="861"), 1.0, "first")
    pair.esme.send(SubmitSm(destination_addr="862"), 1.0, "second")
    assert not pair.esme.can_send
    (first, second) = pair.to_smsc(1.0)
    pair.smsc.respond(first, 0, message_id="7")
    pair.smsc.respond(second, S.ESME_RTHROTTLED)
    answers = pair.to_esme(1.0)
    assert [(a.context, a.response.command_status) for a in answers] == [
        ("first", 0),
        ("second", S.ESME_RTHROTTLED),
    ]
    assert answers[0].response.message_id == "7" and pair.esme.can_send


def test_deliveries_are_handed_over_and_answered() -> None:
    """A deliver_sm from the SMSC is an event; respond() answers it and the SMSC sees the answer."""
    pair = Pair()
    pair.bind()
    pair.smsc.send(DeliverSm(source_addr="8613800000001", short_message=b"YES"), 2.0, "mo")
    (delivered,) = pair.to_esme(2.0)
    assert isinstance(delivered, Delivered) and delivered.pdu.short_message == b"YES"
    pair.esme.respond(delivered.pdu)
    (answered,) = pair.to_smsc(2.0)
    assert answered.context == "mo" and answered.response.command_status == 0


def test_keepalive_both_ways_and_timeouts() -> None:
    """The ESME answers enquire_link, probes when idle, and reports unanswered submits."""
    pair = Pair(enquire_link_interval=10.0, response_timeout=5.0)
    pair.bind()
    pair.smsc.send(EnquireLink(), 1.0)
    pair.to_esme(1.0)
    assert [type(e).__name__ for e in pair.to_smsc(1.0)] == []  # the enquire_link_resp matched quietly
    pair.esme.tick(12.0)
    (probe,) = [codec.decode(pair.esme.data_to_send())]
    assert isinstance(probe, EnquireLink)
    pair.smsc.receive_data(codec.encode(probe), 12.0)
    pair.to_esme(12.0)
    pair.esme.send(SubmitSm(destination_addr="861"), 20.0, "lost")
    pair.esme.data_to_send()
    assert pair.esme.tick(25.0) == [ResponseTimedOut(4, "lost")]


def test_a_submit_is_answered_by_its_submit_sm_resp_only() -> None:
    """bind_transceiver_resp or enquire_link_resp on a submit's number neither answers it nor rebinds; it still times out."""
    pair = Pair(window=1, response_timeout=5.0, enquire_link_interval=0)
    pair.bind()
    esme = pair.esme
    sequence = esme.send(SubmitSm(destination_addr="861"), 10.0, "order")
    esme.data_to_send()
    for wrong in (
        BindTransceiverResp(sequence, system_id="smsc"),
        EnquireLinkResp(sequence),
        GenericNack(sequence, S.ESME_ROK),
    ):
        assert esme.receive_data(codec.encode(wrong), 11.0) == [ResponseUnmatched(wrong, C.SUBMIT_SM)]
        assert not esme.can_send, wrong  # the submit still holds the window
    assert esme.data_to_send() == b""  # dropped, never nacked back
    assert esme.tick(15.0) == [ResponseTimedOut(C.SUBMIT_SM, "order")]

    sequence = esme.send(SubmitSm(destination_addr="862"), 20.0, "paid")
    esme.receive_data(codec.encode(EnquireLinkResp(sequence)), 21.0)
    (answered,) = esme.receive_data(codec.encode(SubmitSmResp(sequence, message_id="9")), 21.0)
    assert answered == Answered(SubmitSmResp(sequence, message_id="9"), "paid") and esme.can_send


def test_a_bind_is_answered_by_its_own_bind_resp_only() -> None:
    """While binding, enquire_link_resp, a status-0 generic_nack or another bind type's resp on the bind's number do not bind."""
    esme = EsmeSession(EsmeConfig("shop", "pw", bind_type=BindType.TRANSCEIVER), now=0.0)
    esme.start(0.0)
    (bind,) = [codec.decode(esme.data_to_send())]
    sequence = bind.sequence_number
    for wrong in (
        EnquireLinkResp(sequence),
        GenericNack(sequence, S.ESME_ROK),
        BindTransmitterResp(sequence, system_id="smsc"),
    ):
        assert esme.receive_data(codec.encode(wrong), 1.0) == [ResponseUnmatched(wrong, C.BIND_TRANSCEIVER)]
        assert esme.state is SessionState.OPEN and esme.binding, wrong
    assert esme.receive_data(codec.encode(BindTransceiverResp(sequence, system_id="smsc")), 1.0) == [
        Bound("smsc")
    ]
    assert esme.state is SessionState.BOUND_TRX and not esme.binding
