"""Clocks per namespace: advancing a namespace's clock fires, for its handsets, what the
carrier's clock fires for everyone (expiry with its receipt, scheduled delivery, retries,
USSD timeouts, injected delays) and nothing outside it; the carrier's clock moves them all."""

from __future__ import annotations

import pytest

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import Clocks, FakeClock
from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.subscribers import HandsetState
from smsgw.carrier.ussd import Phase, UssdRoute
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import MessageState
from smsgw.smpp.sm import DeliverSm, SubmitSmResp
from tests.carrier.helpers import Link, make_carrier, submit

A_PHONE, B_PHONE, PLAIN_PHONE = "8617000000001", "8617000000002", "8617000000003"
ONE_MINUTE = "000000000100000R"


def _two_namespaces(**carrier: object) -> tuple[Carrier, FakeClock]:
    clock = FakeClock()
    made = make_carrier(clock=clock, **carrier)  # type: ignore[arg-type]
    made.handsets.create(A_PHONE, namespace="ns-a")
    made.handsets.create(B_PHONE, namespace="ns-b")
    return made, clock


def _states(carrier: Carrier, *message_ids: str) -> list[str]:
    states = []
    for message_id in message_ids:
        record = carrier.store.get_message(int(message_id))
        assert record is not None
        states.append(MessageState(record.state).name)
    return states


def _receipts(link: Link) -> list[tuple[str, str]]:
    pdus = [p for p in link.read() if isinstance(p, DeliverSm)]
    link.ack(pdus)
    return [(p.receipted_message_id, MessageState(p.message_state).name) for p in pdus]


def test_a_namespace_clock_sums_the_advances_of_the_namespaces_around_it() -> None:
    clock = FakeClock()
    clocks = Clocks(clock, {"1": "run-1", "7": "run-1.7", "10": "run-10"}.get)  # type: ignore[arg-type]
    clocks.advance("run-1", 60)
    clocks.advance("run-1.7", 5)
    assert [clocks.offset(n) for n in ("run-1", "run-1.7", "run-10", "")] == [60, 65, 0, 0]
    assert clocks.now_for("7") == clock.now() + 65
    clocks.advance("", 100)  # the carrier's clock moves every namespace with it
    assert clocks.now_in("run-1.7") == clock.now() + 65 and clock.current == FakeClock().current + 100
    assert clocks.forget("run-1") == ["run-1", "run-1.7"]
    assert clocks.offset("run-1.7") == 0 and not clocks.shifted


def test_a_namespace_clock_follows_only_forward() -> None:
    clocks = Clocks(FakeClock(), lambda msisdn: "")
    clocks.advance("ci-1", 30)
    assert clocks.follow({"ci-1": 20, "ci-2": 10}) == ["ci-2"]
    assert clocks.advanced() == {"ci-1": 30, "ci-2": 10}


def test_a_namespace_advance_expires_its_held_message_and_no_other() -> None:
    """Two phones off, one in each namespace: advancing ns-a past the validity expires
    ns-a's message with its EXPIRED receipt; ns-b's waits until the carrier's clock moves."""
    carrier, _ = _two_namespaces()
    for phone in (A_PHONE, B_PHONE):
        carrier.handsets.set_state(phone, HandsetState.OFF)
    link = Link(carrier)
    link.send(submit(A_PHONE, validity_period=ONE_MINUTE))
    link.send(submit(B_PHONE, validity_period=ONE_MINUTE, sequence=2))
    a_id, b_id = (p.message_id for p in link.read())
    carrier.advance("ns-a", 61)
    assert _receipts(link) == [(a_id, "EXPIRED")]
    assert _states(carrier, a_id, b_id) == ["EXPIRED", "ENROUTE"]
    carrier.advance("", 61)
    assert _receipts(link) == [(b_id, "EXPIRED")]


def test_a_message_keeps_its_namespace_clock_from_its_submit() -> None:
    """Submitted after ns-a moved a day ahead, a message carries ns-a's time, and expires by
    its validity on ns-a's clock, not a day early or late."""
    carrier, clock = _two_namespaces()
    carrier.advance("ns-a", 86400)
    carrier.handsets.set_state(A_PHONE, HandsetState.OFF)
    link = Link(carrier)
    link.send(submit(A_PHONE, validity_period=ONE_MINUTE))
    (resp,) = link.read()
    record = carrier.store.get_message(int(resp.message_id))
    assert record is not None and record.submitted_at == clock.now() + 86400
    carrier.advance("ns-a", 59)
    assert _states(carrier, resp.message_id) == ["ENROUTE"]
    carrier.advance("ns-a", 2)
    assert _states(carrier, resp.message_id) == ["EXPIRED"]


def test_a_scheduled_message_comes_due_on_its_namespace_clock() -> None:
    carrier, _ = _two_namespaces()
    link = Link(carrier)
    link.send(submit(A_PHONE, schedule_delivery_time="000000000030000R"))
    link.send(submit(B_PHONE, schedule_delivery_time="000000000030000R", sequence=2))
    a_id, b_id = (p.message_id for p in link.read())
    carrier.advance("ns-a", 30)
    assert _receipts(link) == [(a_id, "DELIVRD")]
    assert _states(carrier, b_id) == ["ENROUTE"]


def test_a_refused_receipt_is_retried_on_its_namespace_clock() -> None:
    """A receipt refused for now (ESME_RX_T_APPN) comes again once its namespace's clock has
    passed the backoff; the carrier's clock standing still does not hold it back."""
    carrier, _ = _two_namespaces()
    link = Link(carrier)
    link.send(submit(A_PHONE))
    link.send(submit(B_PHONE, sequence=2))
    pdus = link.read()
    receipts = [p for p in pdus if isinstance(p, DeliverSm)]
    link.ack(receipts, S.ESME_RX_T_APPN)
    carrier.advance("ns-a", 1)
    again = [p for p in link.read() if isinstance(p, DeliverSm)]
    assert [p.source_addr for p in again] == [A_PHONE]  # a receipt comes from its handset


def test_a_handset_reply_owed_to_an_account_expires_on_its_namespace_clock() -> None:
    """An MO nobody is bound to take is dropped after the outbox validity on its sender's
    namespace clock (60 s in these tests), not on another's."""
    carrier, _ = _two_namespaces()
    carrier.handsets.send_sms(A_PHONE, "12345", "YES")
    carrier.handsets.send_sms(B_PHONE, "12345", "YES")
    assert carrier.outbox.pending("shop") == 2
    carrier.advance("ns-a", 61)
    assert carrier.outbox.pending("shop") == 1
    (mo,) = carrier.store.find_messages(msisdn=A_PHONE, limit=5)
    assert MessageState(mo.state).name == "EXPIRED"


def test_a_ussd_prompt_times_out_on_its_namespace_clock() -> None:
    carrier, _ = _two_namespaces(ussd_routes=(UssdRoute("*126#", "shop"),))
    link = Link(carrier)
    dialogues = [carrier.handset_ussd.dial(phone, "*126#") for phone in (A_PHONE, B_PHONE)]
    limit = carrier.ussd.limits.app_timeout
    carrier.advance("ns-a", limit + 1)
    assert [d.phase for d in dialogues] == [Phase.CLOSED, Phase.WAITING_APP]
    assert dialogues[0].end_code == "app_timeout"
    link.read()


def test_an_injected_delay_ends_on_its_namespace_clock() -> None:
    carrier, _ = _two_namespaces(faults=FaultBook([FaultRule("slow", "delay_delivery", every=1, delay=30)]))
    link = Link(carrier)
    link.send(submit(A_PHONE))
    link.send(submit(B_PHONE, sequence=2))
    a_id, b_id = (p.message_id for p in link.read() if isinstance(p, SubmitSmResp))
    carrier.advance("ns-a", 30)
    assert _states(carrier, a_id, b_id) == ["DELIVRD", "ENROUTE"]


@pytest.mark.parametrize("namespace", ["", "ns-a", "run-1"])
def test_moving_a_namespace_clock_does_what_moving_the_carrier_clock_does(namespace: str) -> None:
    """The same flows with the carrier's clock moved or with the handset's namespace's
    (or the one around it) moved end in the same states and receipts."""
    clock = FakeClock()
    carrier = make_carrier(clock=clock)
    phone, off = "8617000000011", "8617000000012"
    carrier.handsets.create(phone, namespace="run-1.ns-a" if namespace == "run-1" else "ns-a")
    carrier.handsets.create(off, namespace="run-1.ns-a" if namespace == "run-1" else "ns-a")
    carrier.handsets.set_state(off, HandsetState.OFF)
    link = Link(carrier)
    link.send(submit(off, validity_period=ONE_MINUTE))
    link.send(submit(phone, schedule_delivery_time="000000000030000R", sequence=2))
    link.send(submit(off, validity_period="000000000500000R", sequence=3, registered_delivery=0x11))
    ids = [p.message_id for p in link.read() if isinstance(p, SubmitSmResp)]
    link.read()
    carrier.handsets.send_sms(phone, "12345", "STOP")
    step = 61.0
    if namespace:
        carrier.advance(namespace, step)
    else:
        clock.advance(step)
        carrier.tick()
    receipts = _receipts(link)
    assert sorted(receipts) == sorted([(ids[0], "EXPIRED"), (ids[1], "DELIVRD")])
    assert _states(carrier, *ids) == ["EXPIRED", "DELIVRD", "ENROUTE"]
