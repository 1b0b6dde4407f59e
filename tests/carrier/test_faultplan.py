"""The fault book on its own: one plan per MT, and one reader of rules."""

from __future__ import annotations

import random

import pytest

from smsgw.carrier.events import EventBus, FaultInjected
from smsgw.carrier.faults import (
    FAULT_KEYS,
    MAGIC_NUMBERS,
    NO_FAULTS,
    Effect,
    FaultBook,
    FaultPlan,
    FaultRule,
    InvalidFaultRule,
)
from smsgw.smpp.constants import CommandStatus, MessageState
from smsgw.store.records import MessageRecord

PHONE = "8613800000001"
FINAL_RECEIPT = 1


def mt(
    msisdn: str = PHONE, registered_delivery: int = FINAL_RECEIPT, body: bytes = b"hello there"
) -> MessageRecord:
    return MessageRecord(
        1, "1", "shop", "MT", msisdn, "", 1, 1, "12345", 1, 1, msisdn,
        0, 0, 0, registered_delivery, 0, body, None, None, None,
        0.0, None, 3600.0, MessageState.ENROUTE, None, 0,
    )  # fmt: skip


def announced(book: FaultBook) -> list[FaultInjected]:
    events = EventBus()
    seen: list[FaultInjected] = []
    events.subscribe(seen.append, FaultInjected)
    book.attach(events, lambda msisdn: "")
    return seen


def test_a_number_no_rule_names_gets_the_shared_empty_plan() -> None:
    book = FaultBook([FaultRule("far", Effect.NO_RECEIPT, msisdn="*0002")])
    assert not book.may_strike(PHONE)
    assert book.plan_delivery(mt(), 0.0) is NO_FAULTS
    assert book.plan_end(mt(), MessageState.EXPIRED) is NO_FAULTS


def test_a_rule_that_is_asked_but_does_not_fire_still_gives_the_shared_plan() -> None:
    book = FaultBook([FaultRule("second", Effect.GARBLE_TEXT, msisdn=PHONE, every=2)])
    assert book.plan_delivery(mt(), 0.0) is NO_FAULTS
    assert book.plan_delivery(mt(), 0.0).garbled is not None
    assert book.counts("second") == (2, 1)


def test_a_failed_delivery_plans_its_receipt_too() -> None:
    book = FaultBook(
        [
            FaultRule("dead", Effect.FAIL_DELIVERY, state=MessageState.EXPIRED, error=27),
            FaultRule("lost", Effect.NO_RECEIPT),
            FaultRule("garble", Effect.GARBLE_TEXT),
        ]
    )
    seen = announced(book)
    plan = book.plan_delivery(mt(), 0.0)
    assert plan == FaultPlan(fail_state=MessageState.EXPIRED, fail_error=27, receipt_withheld=True)
    assert [(e.rule, e.detail) for e in seen] == [
        ("dead", "EXPIRED err 027"),
        ("lost", "receipt EXPIRED withheld"),
    ]
    assert book.counts("garble") == (0, 0)  # a message that never reaches its phone is not garbled


def test_holding_decides_nothing_else() -> None:
    book = FaultBook(
        [FaultRule("slow", Effect.DELAY_DELIVERY, delay=30), FaultRule("lost", Effect.NO_RECEIPT)]
    )
    seen = announced(book)
    plan = book.plan_delivery(mt(), 100.0)
    assert plan.holds and plan.delayed_until == 130.0 and not plan.receipt_withheld
    assert [(e.rule, e.detail) for e in seen] == [("slow", "delayed 30 s")]
    assert book.counts("lost") == (0, 0)


def test_a_duplicate_receipt_is_announced_when_the_second_is_queued() -> None:
    book = FaultBook([FaultRule("echo", Effect.DUPLICATE_RECEIPT)])
    seen = announced(book)
    record = mt()
    plan = book.plan_end(record, MessageState.DELETED)
    assert plan.duplicate_receipt is not None and seen == []
    record.state = MessageState.DELETED
    book.announce_duplicate_receipt(plan, record)
    assert [(e.rule, e.detail) for e in seen] == [("echo", "receipt DELETED sent twice")]


def test_no_receipt_asked_for_means_no_receipt_fault_asked() -> None:
    book = FaultBook([FaultRule("lost", Effect.NO_RECEIPT), FaultRule("echo", Effect.DUPLICATE_RECEIPT)])
    assert book.plan_delivery(mt(registered_delivery=0), 0.0) is NO_FAULTS
    assert book.counts("lost") == book.counts("echo") == (0, 0)


def test_a_rule_is_read_with_every_problem_named() -> None:
    with pytest.raises(InvalidFaultRule) as caught:
        FaultRule.from_mapping(
            {"name": "x/y", "effect": "refuse_submit", "every": 0, "colour": "red"}, where="faults[2]"
        )
    assert caught.value.problems == (
        "faults[2].name: 'x/y': a rule needs a name without '/' (it goes in /api/faults/{name})",
        "faults[2].every: 0 is below the minimum 1",
        f"faults[2]: unknown key 'colour'; allowed keys are {', '.join(sorted(FAULT_KEYS))}",
    )


def test_a_rule_reads_back_from_what_the_api_shows() -> None:
    rule = FaultRule.from_mapping(
        {"name": "busy", "effect": "refuse_submit", "msisdn": "139*", "status": "ESME_RSYSERR"}, source="api"
    )
    assert (rule.effect, rule.msisdn, rule.status) == (
        Effect.REFUSE_SUBMIT,
        "86139*",
        CommandStatus.ESME_RSYSERR,
    )
    again = {"name": rule.name, "effect": rule.effect.value, "msisdn": rule.msisdn, **rule.effect_keys()}
    assert FaultRule.from_mapping(again) == rule


def test_the_magic_numbers_are_read_as_any_rule_is() -> None:
    undeliverable = MAGIC_NUMBERS[0]
    assert (undeliverable.name, undeliverable.effect, undeliverable.msisdn, undeliverable.source) == (
        "magic:undeliverable",
        Effect.FAIL_DELIVERY,
        "*19999990001",
        "magic",
    )
    assert {rule.effect for rule in MAGIC_NUMBERS} == set(Effect) - {
        Effect.DROP_CONNECTION,
        Effect.USSD_TIMEOUT,
    }
    with pytest.raises(InvalidFaultRule, match="belong to the built-in magic numbers"):
        FaultRule.from_mapping({"name": "magic:mine", "effect": "no_receipt"})


def test_garbling_in_a_plan_draws_from_the_seeded_generator() -> None:
    plans = [
        FaultBook([FaultRule("noise", Effect.GARBLE_TEXT)], random.Random(4)).plan_delivery(mt(), 0.0)
        for _ in range(2)
    ]
    assert plans[0].garbled == plans[1].garbled != b"hello there"


def test_a_value_of_the_wrong_shape_is_a_problem_not_a_crash() -> None:
    with pytest.raises(InvalidFaultRule, match=r"faults\[0\]\.state: \['UNDELIV'\] is not one of UNDELIV"):
        FaultRule.from_mapping(
            {"name": "x", "effect": "fail_delivery", "state": ["UNDELIV"]}, where="faults[0]"
        )
