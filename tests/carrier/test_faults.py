"""Injected faults, on the sans-I/O carrier: which events a rule strikes, and what it reports."""

from __future__ import annotations

import random

import pytest

from smsgw.carrier.events import FaultInjected, Refused
from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.subscribers import HandsetState
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import MessageState
from smsgw.smpp.sm import SmeAddress, SubmitMulti

from .helpers import OFF_PHONE, Link, make_carrier, submit


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
        runs.append([book.strike("refuse_submit", "shop", "8613800000001") is not None for _ in range(200)])
    assert runs[0] == runs[1]
    assert 70 < sum(runs[0]) < 130


def test_overlapping_rules_each_count_every_event() -> None:
    first = FaultRule("first", "refuse_submit", every=2)
    second = FaultRule("second", "refuse_submit", every=3, status=S.ESME_RSYSERR)
    book = FaultBook([first, second])
    fired = [book.strike("refuse_submit", "shop", "1") for _ in range(6)]
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
        FaultRule(**fields)


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
    carrier.set_handset_state(OFF_PHONE, HandsetState.ON)
    (receipt,) = link.read()
    assert (
        receipt.receipted_message_id == resp.message_id and b"stat:EXPIRED err:027" in receipt.short_message
    )
    assert carrier.store.handset_parts(OFF_PHONE, "MT", 0) == []
