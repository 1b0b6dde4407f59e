"""What the carrier and its SMPP front end put on the timeline, driven through real SMPP
sessions on an in-memory store: a submit and its receipt in wire order, refusals and faults,
retries, an MO, a USSD push whose PIN is masked, and nothing for handsets not recorded."""

from __future__ import annotations

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import FakeClock
from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.subscribers import Subscriber
from smsgw.carrier.timeline import Timeline
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import UssdServiceOp
from smsgw.smpp.sm import DeliverSm, SubmitSm, SubmitSmResp
from smsgw.store.records import TimelineStep

from .helpers import Link, make_carrier, submit

BUYER = "8613800000077"
LOADED = "8613800000001"  # the helpers' subscriber, in no namespace


def carrier_recording(record: str = "namespaces", **options: object) -> Carrier:
    carrier = make_carrier(timeline=Timeline(record), **options)  # type: ignore[arg-type]
    carrier.subscribers.add(Subscriber(BUYER, "Buyer", namespace="ci-7"))
    return carrier


def steps(carrier: Carrier, **filters: object) -> list[TimelineStep]:
    return carrier.store.timeline(**filters)  # type: ignore[arg-type]


def kinds(found: list[TimelineStep]) -> list[str]:
    return [step.kind for step in found]


def deliveries(pdus: list[object]) -> list[DeliverSm]:
    return [pdu for pdu in pdus if isinstance(pdu, DeliverSm)]


def test_a_submit_and_its_receipt_are_recorded_in_wire_order() -> None:
    """submit_sm, its response, what the message did, the receipt sent and its answer, in
    that order; each PDU step holds octets that decode to the PDU that crossed the wire."""
    carrier = carrier_recording()
    link = Link(carrier)
    link.send(submit(BUYER, sequence=5))
    out = link.read()
    link.ack(deliveries(out))
    found = steps(carrier, msisdn=BUYER)
    assert kinds(found) == [
        "smpp.submit_sm",
        "smpp.submit_sm_resp",
        "message.accepted",
        "message.state",
        "smpp.deliver_sm",
        "smpp.deliver_sm_resp",
        "delivery.done",
    ]
    message_id = out[0].message_id
    assert {step.message_id for step in found} == {message_id}
    assert {(step.namespace, step.system_id) for step in found} == {("ci-7", "shop")}
    request, response, accepted, state, receipt, answer, done = found
    assert codec.decode(request.pdu) == submit(BUYER, sequence=5)
    assert codec.decode(response.pdu) == SubmitSmResp(5, 0, message_id=message_id)
    assert response.detail["status"] == "ESME_ROK"
    assert accepted.detail["text"] == "Your code is 123456"
    assert state.detail == {"state": "DELIVRD", "error": 0, "direction": "MT"}
    sent = codec.decode(receipt.pdu)
    assert sent == out[1]  # the receipt as it went out, its sequence number included
    assert receipt.detail["delivery"] == "receipt" and receipt.detail["attempt"] == 1
    assert codec.decode(answer.pdu).sequence_number == sent.sequence_number
    assert done.detail == {"delivery": "receipt", "outcome": "accepted", "state": "DELIVRD"}


def test_steps_are_on_the_clock_of_the_handsets_namespace() -> None:
    """A namespace a day ahead stamps its handset's steps a day ahead, as its messages are."""
    clock = FakeClock()
    carrier = carrier_recording(clock=clock)
    carrier.advance("ci-7", 86400)
    link = Link(carrier)
    link.send(submit(BUYER, sequence=2))
    link.ack(deliveries(link.read()))
    found = steps(carrier, msisdn=BUYER)
    assert {step.at for step in found} == {clock.now() + 86400}
    assert kinds(steps(carrier, namespace="ci-7"))[0] == "clock.advance"


def test_handsets_in_no_namespace_are_not_recorded_unless_everyone_is() -> None:
    """With the default mode a load test's traffic leaves no step; with "all" it does, in the
    namespace ""; with "off" nothing does."""
    for record, expected in (("namespaces", 0), ("all", 7), ("off", 0)):
        carrier = carrier_recording(record)
        link = Link(carrier)
        link.send(submit(LOADED, sequence=2))
        link.ack(deliveries(link.read()))
        found = steps(carrier)
        assert len(found) == expected, (record, kinds(found))
        assert all(step.namespace == "" for step in found)


def test_a_submit_refused_by_a_fault_shows_its_status_and_the_fault() -> None:
    """A refuse_submit rule: the submit_sm, its response with the rule's status, then the rule."""
    rule = FaultRule("busy", "refuse_submit", msisdn=BUYER, status=S.ESME_RMSGQFUL)
    carrier = carrier_recording(faults=FaultBook([rule]))
    link = Link(carrier)
    link.send(submit(BUYER, sequence=3))
    assert link.read()[0].command_status == S.ESME_RMSGQFUL
    found = steps(carrier, msisdn=BUYER)
    assert kinds(found) == ["smpp.submit_sm", "smpp.submit_sm_resp", "fault"]
    assert found[1].detail["status"] == "ESME_RMSGQFUL"
    assert codec.decode(found[1].pdu).command_status == S.ESME_RMSGQFUL
    assert found[2].detail["rule"] == "busy"


def test_a_receipt_refused_for_now_is_recorded_as_a_retry() -> None:
    """An error answer to the receipt is recorded with its status, then the retry and why."""
    carrier = carrier_recording()
    link = Link(carrier)
    link.send(submit(BUYER, sequence=2))
    link.ack(deliveries(link.read()), status=S.ESME_RX_T_APPN)
    found = steps(carrier, msisdn=BUYER)
    assert kinds(found)[-2:] == ["smpp.deliver_sm_resp", "delivery.retry"]
    assert found[-2].detail["status"] == "ESME_RX_T_APPN"
    assert found[-1].detail["why"] == "refused" and found[-1].detail["attempts"] == 1


def test_an_mo_is_recorded_from_the_handset_to_the_application() -> None:
    """A handset's text: accepted, its deliver_sm, the answer, its state, the delivery's end."""
    carrier = carrier_recording()
    link = Link(carrier)
    (message_id,) = carrier.handsets.send_sms(BUYER, "12345", "YES 123456")
    link.ack(deliveries(link.read()))
    found = steps(carrier, msisdn=BUYER)
    assert kinds(found) == [
        "message.accepted",
        "smpp.deliver_sm",
        "smpp.deliver_sm_resp",
        "message.state",
        "delivery.done",
    ]
    assert found[0].detail == {"direction": "MO", "from": BUYER, "to": "12345", "text": "YES 123456"}
    assert codec.decode(found[1].pdu).short_message == b"YES 123456"
    assert found[3].detail == {"state": "DELIVRD", "error": 0, "direction": "MO"}
    assert {step.message_id for step in found} == {message_id}


def test_a_pin_typed_at_a_prompt_is_masked_in_the_recorded_deliver_sm() -> None:
    """A USSD push asking for a PIN: the screens and the dialogue are recorded, and the
    deliver_sm carrying the PIN to the application is recorded with it masked, octets and
    all, while the application itself gets it in clear."""
    carrier = carrier_recording()
    link = Link(carrier)
    push = SubmitSm(
        sequence_number=2,
        service_type="USSD",
        source_addr="12345",
        destination_addr=BUYER,
        short_message=b"Enter PIN to pay 3.00",
        ussd_service_op=UssdServiceOp.USSR_REQUEST,
    )
    link.send(push)
    link.read()
    dialogue = carrier.handset_ussd.reply(BUYER, "9182")
    (sent,) = deliveries(link.read())
    assert sent.short_message == b"9182"  # the application needs the PIN
    link.ack([sent])
    found = steps(carrier, msisdn=BUYER)
    assert kinds(found) == [
        "smpp.submit_sm",
        "smpp.submit_sm_resp",
        "ussd.open",
        "ussd.screen",
        "ussd.input",
        "smpp.deliver_sm",
        "smpp.deliver_sm_resp",
    ]
    assert {step.session for step in found} == {dialogue.session}
    assert found[3].detail == {"text": "Enter PIN to pay 3.00", "expects_reply": True}
    assert found[4].detail == {"text": "****"}
    recorded = codec.decode(found[5].pdu)
    assert recorded.short_message == b"****"
    assert recorded.ussd_service_op == UssdServiceOp.USSR_CONFIRM
    assert recorded.sequence_number == sent.sequence_number
    assert all(b"9182" not in (step.pdu or b"") and "9182" not in str(step.detail) for step in found)
