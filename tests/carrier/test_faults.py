"""Injected faults, on the sans-I/O carrier: which events a rule strikes, and what it reports."""

from __future__ import annotations

import random
from typing import Any

import pytest

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import FakeClock
from smsgw.carrier.events import FaultInjected, Refused
from smsgw.carrier.faults import MAGIC_NUMBERS, Effect, FaultBook, FaultRule
from smsgw.carrier.subscribers import HandsetState
from smsgw.carrier.ussd import ABORT_OP, NETWORK_ERROR_SCREEN, UssdRoute
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import MessageState
from smsgw.smpp.pdu import QuerySm
from smsgw.smpp.sm import SmeAddress, SubmitMulti, SubmitSm
from smsgw.text.coding import decode_text

from .helpers import OFF_PHONE, Link, make_carrier, submit

PHONE = "8613800000001"
VALIDITY = 48 * 3600.0  # the default validity period of an MT


def faulty(*rules: FaultRule, clock: FakeClock | None = None, seed: int = 0, **options: Any) -> Carrier:
    """A carrier with these rules in force, recording every FaultInjected as ``carrier.injected``."""
    carrier = make_carrier(clock=clock, faults=FaultBook(rules, random.Random(seed)), **options)
    carrier.injected = []  # type: ignore[attr-defined]
    carrier.events.subscribe(carrier.injected.append, FaultInjected)  # type: ignore[attr-defined]
    return carrier


def injected(carrier: Carrier) -> list[tuple[str, str, str]]:
    return [(e.rule, e.effect, e.detail) for e in carrier.injected]  # type: ignore[attr-defined]


def inbox_texts(carrier: Carrier, msisdn: str = PHONE) -> list[str]:
    return [decode_text(r.body, r.data_coding) for r in carrier.store.handset_parts(msisdn, "MT", 0)]


def state_of(carrier: Carrier, message_id: str) -> MessageState:
    record = carrier.store.get_message(int(message_id))
    assert record is not None
    return MessageState(record.state)


def test_every_third_submit_to_matching_numbers_is_refused_with_the_chosen_status() -> None:
    rule = FaultRule("slow-lane", "refuse_submit", msisdn="86139*", every=3, status=S.ESME_RTHROTTLED)
    carrier = make_carrier(faults=FaultBook([rule]))
    seen: list[object] = []
    carrier.events.subscribe(seen.append, FaultInjected, Refused)
    link = Link(carrier)
    destinations = ["8613900000001", "13900000002", "8613800000001", "+8613900000003", "8613900000004"]
    for n, to in enumerate(destinations * 2):
        link.send(submit(to, sequence=n + 1, registered_delivery=0))
    statuses = [p.command_status for p in link.read()]
    # The 86139… submits (every one but 8613800000001, in any notation) count 1, 2, 3 at the
    # 4th submit and 4, 5, 6 at the 7th: those two are refused.
    T = S.ESME_RTHROTTLED
    assert statuses == [0, 0, 0, T, 0, 0, T, 0, 0, 0]
    injected = [e for e in seen if isinstance(e, FaultInjected)]
    assert [(e.rule, e.effect, e.system_id, e.msisdn, e.detail) for e in injected] == [
        ("slow-lane", "refuse_submit", "shop", "8613900000003", "ESME_RTHROTTLED"),
        ("slow-lane", "refuse_submit", "shop", "8613900000002", "ESME_RTHROTTLED"),
    ]
    refused = [e for e in seen if isinstance(e, Refused)]
    assert len(refused) == 2 and "injected fault 'slow-lane'" in refused[0].reason


def test_fail_delivery_ends_the_message_with_the_chosen_receipt_and_keeps_it_off_the_phone() -> None:
    rule = FaultRule(
        "dead-sim", "fail_delivery", msisdn="8613800000001", state=MessageState.UNDELIV, error=34
    )
    carrier = make_carrier(faults=FaultBook([rule]))
    injected: list[FaultInjected] = []
    carrier.events.subscribe(injected.append, FaultInjected)
    link = Link(carrier)
    link.send(submit("8613800000001"))
    resp, receipt = link.read()
    assert resp.command_status == 0
    assert b"stat:UNDELIV err:034" in receipt.short_message
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.UNDELIV
    assert carrier.store.handset_parts("8613800000001", "MT", 0) == []  # never reached the phone
    assert [(e.rule, e.detail) for e in injected] == [("dead-sim", "UNDELIV err 034")]


def test_a_rule_for_another_account_leaves_this_one_alone() -> None:
    rule = FaultRule("other", "refuse_submit", account="someone-else", status=S.ESME_RSYSERR)
    link = Link(make_carrier(faults=FaultBook([rule])))
    link.send(submit(registered_delivery=0))
    assert [p.command_status for p in link.read()] == [0]


def test_probability_draws_from_the_seeded_generator() -> None:
    rule = FaultRule("flaky", "refuse_submit", probability=0.5, status=S.ESME_RSYSERR)
    runs = []
    for _ in range(2):
        book = FaultBook([rule], random.Random(7))
        runs.append(
            [book.strike(Effect.REFUSE_SUBMIT, "shop", "8613800000001") is not None for _ in range(200)]
        )
    assert runs[0] == runs[1]
    assert 70 < sum(runs[0]) < 130


def test_overlapping_rules_each_count_every_event() -> None:
    first = FaultRule("first", "refuse_submit", every=2)
    second = FaultRule("second", "refuse_submit", every=3, status=S.ESME_RSYSERR)
    book = FaultBook([first, second])
    fired = [book.strike(Effect.REFUSE_SUBMIT, "shop", "1") for _ in range(6)]
    assert [r.name if r else None for r in fired] == [None, "first", "second", "first", None, "first"]


@pytest.mark.parametrize(
    "bad",
    [
        {"every": -1},
        {"probability": 1.5},
        {"effect": "explode"},
        {"state": MessageState.DELIVRD},
        {"error": 1000},
    ],
)
def test_impossible_rules_are_refused(bad: dict) -> None:
    fields = {"name": "x", "effect": "refuse_submit", **bad}
    with pytest.raises(ValueError):
        FaultRule.from_mapping(fields)


@pytest.mark.parametrize(
    ("pattern", "number", "matches"),
    [
        ("*0001", "8619999990001", True),
        ("*0001", "8619999990011", False),
        ("86139*", "8613900000001", True),
        ("86139*", "8613800000001", False),
        ("8613800000001", "8613800000001", True),
        ("8613800000001", "86138000000012", False),
        ("8613[0-5]*", "8613500000000", True),
        ("8613[0-5]*", "8613600000000", False),
        ("86?38*", "8613800000001", True),
    ],
)
def test_number_globs(pattern: str, number: str, matches: bool) -> None:
    assert FaultRule("x", "refuse_submit", msisdn=pattern).matches("shop", number) is matches


def test_submit_multi_lists_a_struck_destination_as_unsuccessful() -> None:
    """The other destinations are accepted; the struck one is in unsuccess_sme with its status."""
    rule = FaultRule("one-down", "refuse_submit", msisdn="8613900000071", status=S.ESME_RSYSERR)
    link = Link(make_carrier(faults=FaultBook([rule])))
    link.send(
        SubmitMulti(
            sequence_number=1,
            source_addr="12345",
            dest_addresses=(SmeAddress(1, 1, "8613900000070"), SmeAddress(1, 1, "8613900000071")),
            short_message=b"hello",
        )
    )
    (resp,) = link.read()
    assert resp.command_status == 0 and resp.message_id
    assert [(u.destination_addr, u.error_status_code) for u in resp.unsuccess_smes] == [
        ("8613900000071", S.ESME_RSYSERR)
    ]


def test_fail_delivery_also_strikes_a_message_held_for_a_phone_that_was_off() -> None:
    """Held while the phone is off, the message fails as the rule says once the phone is back."""
    rule = FaultRule("dead-sim", "fail_delivery", msisdn=OFF_PHONE, state=MessageState.EXPIRED, error=27)
    carrier = make_carrier(faults=FaultBook([rule]))
    link = Link(carrier)
    link.send(submit(OFF_PHONE))
    (resp,) = link.read()
    carrier.handsets.set_state(OFF_PHONE, HandsetState.ON)
    (receipt,) = link.read()
    assert (
        receipt.receipted_message_id == resp.message_id and b"stat:EXPIRED err:027" in receipt.short_message
    )
    assert carrier.store.handset_parts(OFF_PHONE, "MT", 0) == []


# -- drop_connection -----------------------------------------------------------------------


def test_drop_connection_closes_without_answering_and_never_reads_what_came_behind() -> None:
    """Three pipelined submits, the second struck: the first is answered, the others are not
    answered and not stored, and the session asks to close naming the rule."""
    carrier = faulty(FaultRule("cut", "drop_connection", msisdn="8613800000002", limit=1))
    link = Link(carrier)
    batch = b"".join(
        codec.encode(submit(to, sequence=n, registered_delivery=0))
        for n, to in enumerate([PHONE, "8613800000002", PHONE], start=1)
    )
    for event in link.session.receive_data(batch, 0.0):
        link.smpp.request(event)
    (answered,) = link.read()
    assert (answered.sequence_number, answered.command_status) == (1, 0)
    assert link.session.close_reason == (
        "injected fault 'cut': connection dropped at submit_sm to 8613800000002"
    )
    assert carrier.store.count_messages() == 1
    assert injected(carrier) == [
        ("cut", "drop_connection", f"session {link.session_id} closed at submit_sm sequence 2")
    ]
    again = Link(carrier)  # the ESME binds again and resends: the limit of one is spent
    again.send(submit("8613800000002", sequence=2, registered_delivery=0))
    assert [p.command_status for p in again.read()] == [0]


# -- delay_delivery ------------------------------------------------------------------------


def test_delay_delivery_holds_the_message_enroute_until_the_carrier_clock_passes_it() -> None:
    """ENROUTE (query_sm says so) and off the phone for 30 s of carrier time, even if the phone
    is switched on meanwhile; then delivered, and the receipt follows the real delivery."""
    clock = FakeClock()
    carrier = faulty(FaultRule("slow", "delay_delivery", msisdn=PHONE, delay=30), clock=clock)
    link = Link(carrier)
    link.send(submit())
    (resp,) = link.read()
    link.send(QuerySm(2, message_id=resp.message_id, source_addr="12345"))
    (query,) = link.read()
    assert query.message_state == MessageState.ENROUTE and inbox_texts(carrier) == []
    carrier.handsets.set_state(PHONE, HandsetState.ON)
    clock.advance(29.9)
    carrier.tick()
    assert link.read() == [] and inbox_texts(carrier) == []
    clock.advance(0.1)
    carrier.tick()
    (receipt,) = link.read()
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVRD
    assert inbox_texts(carrier) == ["Your code is 123456"]
    record = carrier.store.get_message(int(resp.message_id))
    assert record is not None and record.done_at == record.submitted_at + 30
    assert injected(carrier) == [("slow", "delay_delivery", "delayed 30 s")]


def test_a_random_delay_is_drawn_from_the_range_by_the_seeded_generator() -> None:
    """delay = [10, 20]: each struck message waits its own draw; the same seed draws the same."""
    draws = []
    for _ in range(2):
        clock = FakeClock()
        carrier = faulty(FaultRule("jitter", "delay_delivery", delay=(10, 20)), clock=clock, seed=3)
        link = Link(carrier)
        for n in range(3):
            link.send(submit(sequence=n + 1, registered_delivery=0))
        draws.append([float(detail.split()[1]) for _, _, detail in injected(carrier)])
        clock.advance(max(draws[-1]) - 0.001)
        carrier.tick()
        assert len(inbox_texts(carrier)) == 2
    assert draws[0] == draws[1] and all(10 <= d <= 20 for d in draws[0]) and len(set(draws[0])) == 3


# -- unreachable ---------------------------------------------------------------------------


def test_unreachable_holds_the_message_as_for_a_phone_that_is_off_until_its_validity_ends() -> None:
    """ENROUTE while the phone is on but out of reach; at the validity's end EXPIRED err 027,
    the receipt of an absent subscriber."""
    clock = FakeClock()
    carrier = faulty(FaultRule("tunnel", "unreachable", msisdn=PHONE), clock=clock)
    link = Link(carrier)
    link.send(submit())
    (resp,) = link.read()
    assert state_of(carrier, resp.message_id) is MessageState.ENROUTE
    clock.advance(VALIDITY)
    carrier.tick()
    (receipt,) = link.read()
    assert b"stat:EXPIRED err:027" in receipt.short_message
    assert inbox_texts(carrier) == []
    assert injected(carrier) == [("tunnel", "unreachable", "held: the handset is out of reach")]


def test_switching_an_unreachable_phone_on_again_makes_the_network_try_again() -> None:
    """Each attempt asks the rule again: with limit = 1 the second attempt delivers."""
    carrier = faulty(FaultRule("tunnel", "unreachable", msisdn=PHONE, limit=1))
    link = Link(carrier)
    link.send(submit())
    (resp,) = link.read()
    carrier.handsets.set_state(PHONE, HandsetState.ON)  # already on: "try again"
    (receipt,) = link.read()
    assert receipt.receipted_message_id == resp.message_id and b"stat:DELIVRD" in receipt.short_message
    assert carrier.faults.counts("tunnel") == (2, 1)


def test_unreachable_refuses_a_network_initiated_ussd_push_as_for_an_off_phone() -> None:
    carrier = faulty(FaultRule("tunnel", "unreachable", msisdn=PHONE))
    link = Link(carrier)
    link.send(SubmitSm(1, service_type="USSD", source_addr="12345", destination_addr=PHONE,
                       short_message=b"Pay 10?", ussd_service_op=2))  # fmt: skip
    (resp,) = link.read()
    assert resp.command_status == S.ESME_RDELIVERYFAILURE
    assert carrier.ussd.current(PHONE) is None
    assert injected(carrier) == [("tunnel", "unreachable", "USSD push refused: ESME_RDELIVERYFAILURE")]


# -- no_receipt and duplicate_receipt -------------------------------------------------------


def test_no_receipt_delivers_the_message_and_never_sends_its_receipt() -> None:
    clock = FakeClock()
    carrier = faulty(FaultRule("lost-dlr", "no_receipt", msisdn=PHONE), clock=clock)
    link = Link(carrier)
    link.send(submit())
    (resp,) = link.read()
    clock.advance(3600)
    carrier.tick()
    assert link.read() == []
    record = carrier.store.get_message(int(resp.message_id))
    assert record is not None and (record.state, record.report) == (MessageState.DELIVRD, None)
    assert carrier.store.owing() == []  # nothing to resend after a restart either
    assert inbox_texts(carrier) == ["Your code is 123456"]
    assert injected(carrier) == [("lost-dlr", "no_receipt", "receipt DELIVRD withheld")]


def test_duplicate_receipt_sends_the_receipt_twice_and_both_are_settled() -> None:
    carrier = faulty(FaultRule("echo", "duplicate_receipt", msisdn=PHONE, limit=1))
    link = Link(carrier)
    link.send(submit())
    resp, first, second = link.read()
    assert first.receipted_message_id == second.receipted_message_id == resp.message_id
    assert first.short_message == second.short_message and first.sequence_number != second.sequence_number
    link.ack([first, second])
    assert carrier.outbox.pending("shop") == 0 and carrier.store.owing() == []
    link.send(submit(sequence=2))  # the limit is spent: one receipt again
    assert [p.command_id for p in link.read()] == [0x80000004, 0x00000005]


# -- ussd_timeout --------------------------------------------------------------------------


def test_ussd_timeout_ends_the_dialogue_as_the_application_timeout_does() -> None:
    """The app's menu is taken as too late: the phone shows the network error, the app gets
    the abort saying app_timeout, and its late submit is refused."""
    rule = FaultRule("slow-app", "ussd_timeout", code="*126#")
    carrier = faulty(rule, ussd_routes=(UssdRoute("*126#", system_id="shop"),))
    link = Link(carrier)
    dialogue = carrier.handset_ussd.dial(PHONE, "*126#")
    (opened,) = link.read()
    link.ack([opened])
    link.send(SubmitSm(2, service_type="USSD", source_addr="*126#", destination_addr=PHONE,
                       short_message=b"1 Pay", ussd_service_op=2,
                       its_session_info=dialogue.its_session_info))  # fmt: skip
    abort, resp = link.read()
    assert (abort.ussd_service_op, decode_text(abort.short_message, 0)) == (ABORT_OP, "app_timeout")
    assert resp.command_status == S.ESME_RSUBMITFAIL
    assert (dialogue.end_code, dialogue.screen.text) == ("app_timeout", NETWORK_ERROR_SCREEN)  # type: ignore[union-attr]
    (event,) = carrier.injected  # type: ignore[attr-defined]
    assert (event.rule, event.msisdn) == ("slow-app", PHONE)


def test_ussd_timeout_for_another_service_code_leaves_the_dialogue_alone() -> None:
    rule = FaultRule("slow-app", "ussd_timeout", code="*384#")
    carrier = faulty(rule, ussd_routes=(UssdRoute("*126#", system_id="shop"),))
    link = Link(carrier)
    dialogue = carrier.handset_ussd.dial(PHONE, "*126#")
    link.ack(link.read())
    link.send(SubmitSm(2, service_type="USSD", source_addr="*126#", destination_addr=PHONE,
                       short_message=b"1 Pay", ussd_service_op=2,
                       its_session_info=dialogue.its_session_info))  # fmt: skip
    assert [p.command_status for p in link.read()] == [0]
    assert dialogue.screen.text == "1 Pay"  # type: ignore[union-attr]


def test_ussd_timeout_takes_an_http_applications_answer_as_too_late() -> None:
    """CON from an HTTP application comes too late: the phone shows the network error."""
    rule = FaultRule("slow-web", "ussd_timeout", code="*384#", msisdn=PHONE)
    carrier = faulty(rule, ussd_routes=(UssdRoute("*384#", url="http://app.test/ussd"),))
    posted: list[str] = []
    carrier.ussd_apps.post_to_http_app = lambda dialogue, text: posted.append(text)
    dialogue = carrier.handset_ussd.dial(PHONE, "*384#")
    carrier.ussd.app_said(dialogue.session, "1 Balance", expects_reply=True, now=carrier.clock.now())
    assert posted == [""] and (dialogue.end_code, dialogue.screen.text) == (
        "app_timeout",
        NETWORK_ERROR_SCREEN,
    )  # type: ignore[union-attr]
    assert injected(carrier) == [
        ("slow-web", "ussd_timeout", f"answer in dialogue {dialogue.session} taken as too late: app_timeout")
    ]


# -- garble_text ---------------------------------------------------------------------------


def test_garble_text_alters_what_reaches_the_phone_the_same_way_each_run() -> None:
    """A quarter of the characters become '?' (the stored text and the receipt excerpt too)."""
    texts = []
    for _ in range(2):
        carrier = faulty(FaultRule("noise", "garble_text", msisdn=PHONE), seed=5)
        link = Link(carrier)
        link.send(submit())
        _, receipt = link.read()
        (text,) = inbox_texts(carrier)
        texts.append(text)
        assert f"text:{text}".encode() in receipt.short_message
    original = "Your code is 123456"
    assert texts[0] == texts[1] != original and len(texts[0]) == len(original)
    changed = [i for i, (a, b) in enumerate(zip(original, texts[0], strict=True)) if a != b]
    assert len(changed) == len(original) // 4 and all(texts[0][i] == "?" for i in changed)
    assert injected(carrier) == [("noise", "garble_text", "4 of 19 characters replaced with '?'")]


@pytest.mark.parametrize(
    ("body", "esm_class", "data_coding"),
    [
        (bytes((5, 0, 3, 7, 2, 1)) + b"hello world", 0x40, 0),  # a UDH stays whole
        ("确认码 123456 €".encode("utf-16-be"), 0, 8),
        ("😀😀😀😀".encode("utf-16-be"), 0, 8),  # surrogate pairs are never split
        (b"\x1b\x65\x1b\x65\x1b\x65ab", 0, 0),  # nor GSM escapes (the euro sign)
    ],
)
def test_garbling_keeps_the_text_decodable(body: bytes, esm_class: int, data_coding: int) -> None:
    book = FaultBook(rng=random.Random(1))
    garbled, replaced, _ = book.garble(body, esm_class, data_coding)
    start = body[0] + 1 if esm_class else 0
    assert garbled[:start] == body[:start] and len(garbled) == len(body)
    assert "\ufffd" not in decode_text(garbled[start:], data_coding)
    escapes = [i for i, octet in enumerate(body) if octet == 0x1B and data_coding == 0]
    assert all(garbled[i : i + 2] == body[i : i + 2] for i in escapes)
    assert replaced == 0 or garbled != body


# -- matching, limits and a book that changes ------------------------------------------------


def test_code_matches_the_short_code_an_mt_is_sent_from() -> None:
    carrier = faulty(FaultRule("shop-lane", "refuse_submit", code="12345", status=S.ESME_RSYSERR))
    link = Link(carrier)
    link.send(submit(registered_delivery=0))
    link.send(SubmitSm(2, source_addr="54321", destination_addr=PHONE, short_message=b"hi"))
    assert [p.command_status for p in link.read()] == [S.ESME_RSYSERR, 0]


def test_limit_stops_a_rule_after_that_many_strikes() -> None:
    book = FaultBook([FaultRule("twice", "refuse_submit", limit=2)])
    assert [book.strike(Effect.REFUSE_SUBMIT, "shop", PHONE) is not None for _ in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    assert book.counts("twice") == (4, 2)


def test_rules_added_and_removed_at_run_time_take_effect_at_once() -> None:
    book = FaultBook(MAGIC_NUMBERS)
    assert not book.may_strike(PHONE) and book.may_strike("8619999990004")
    book.add(FaultRule("late", "no_receipt", msisdn=PHONE, source="api"))
    assert book.may_strike(PHONE) and book.strike(Effect.NO_RECEIPT, "shop", PHONE) is not None
    with pytest.raises(ValueError, match="already exists"):
        book.add(FaultRule("late", "no_receipt"))
    book.remove("magic:throttled")
    assert book.strike(Effect.REFUSE_SUBMIT, "shop", "8619999990004") is None
    assert [r.name for r in book.remove_from("api")] == ["late"]
    assert not book.may_strike(PHONE) and book.counts("late") == (0, 0)


def test_a_namespaced_rule_strikes_only_the_handsets_of_its_namespace() -> None:
    """Tests sharing a carrier each confine their faults to their own handsets."""
    rule = FaultRule("a:refuse", "refuse_submit", namespace="ci-a", status=S.ESME_RSYSERR)
    carrier = faulty(rule)
    mine = carrier.handsets.create(None, namespace="ci-a").msisdn
    theirs = carrier.handsets.create(None, namespace="ci-b").msisdn
    assert mine != theirs and mine.startswith("861700")
    assert carrier.faults.may_strike(mine) and not carrier.faults.may_strike(theirs)
    assert not carrier.faults.may_strike(PHONE)
    link = Link(carrier)
    for n, to in enumerate((mine, theirs, PHONE), 1):
        link.send(submit(to, sequence=n, registered_delivery=0))
    assert [p.command_status for p in link.read()] == [S.ESME_RSYSERR, 0, 0]
    assert injected(carrier) == [("a:refuse", "refuse_submit", "ESME_RSYSERR")]
    carrier.faults.remove("a:refuse")
    assert not carrier.faults.may_strike(mine)


@pytest.mark.parametrize(
    "table",
    [
        {"name": "r", "effect": "refuse_submit", "status": "ESME_RSYSERR", "msisdn": "86139*", "every": 3},
        {
            "name": "f",
            "effect": "fail_delivery",
            "state": "EXPIRED",
            "error": 42,
            "probability": 0.5,
            "limit": 2,
        },
        {"name": "d", "effect": "delay_delivery", "delay": [5, 60], "account": "shop", "namespace": "ci-1"},
        {"name": "u", "effect": "ussd_timeout", "code": "*126#"},
    ],
)
def test_a_rule_written_out_reads_back_the_same(table: dict) -> None:
    rule = FaultRule.from_mapping(table, source="api")
    given = {key: value for key, value in rule.as_mapping().items() if value is not None}
    assert FaultRule.from_mapping(given, source="api") == rule
