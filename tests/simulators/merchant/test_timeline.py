"""The merchant's steps on the carrier's timeline, from its core alone: each order status once,
in order, the debit of a paid order, its texts with the carrier's message_id, its webhooks; an
order kept from an earlier run is not told again."""

from __future__ import annotations

from typing import Any

from simulators.merchant.actions import SendSms
from simulators.merchant.timeline import MerchantTimeline, Posted

from .helpers import EN, HOOK, code_from, make_merchant


class Sink:
    """The carrier's timeline as the merchant sees it: what it was told, in order."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []

    def __call__(self, kind: str, msisdn: str, detail: dict[str, Any], **ids: str) -> None:
        self.steps.append((kind, msisdn, detail, ids))

    def kinds(self) -> list[tuple[str, Any]]:
        return [(kind, detail.get("status", detail.get("change"))) for kind, _, detail, _ in self.steps]


def test_an_otp_order_is_told_once_per_status_with_the_debit() -> None:
    """Created, code sent, paid, each once however often the core acts; the wallet's debit
    follows the payment, all naming the order and the buyer."""
    merchant, sink = make_merchant(), Sink()
    feed = MerchantTimeline(merchant, sink)
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 100.0)
    feed.changed()
    feed.changed()  # the core acted again (a tick): nothing new
    merchant.confirm_otp(order.id, code_from(actions), 110.0)
    feed.changed()
    assert sink.kinds() == [
        ("merchant.order", "pending"),
        ("merchant.order", "awaiting_confirmation"),
        ("merchant.order", "paid"),
        ("merchant.wallet", -2500),
    ]
    assert {(msisdn, ids["order_id"]) for _, msisdn, _, ids in sink.steps} == {(EN, order.id)}
    created, _, paid, debit = (detail for _, _, detail, _ in sink.steps)
    assert created == {
        "status": "pending",
        "final": False,
        "reason": "created",
        "amount": 2500,
        "currency": "CNY",
        "method": "otp",
    }
    assert (paid["final"], paid["reason"]) == (True, "confirmed")
    wallet = merchant.wallets.get(EN)
    assert (debit["balance"], debit["reference"]) == (wallet.balance, order.reference)


def test_orders_of_an_earlier_run_are_not_told_again() -> None:
    """A feed made over books that already hold orders starts after them; their later moves
    are told."""
    merchant, sink = make_merchant(), Sink()
    order, _ = merchant.create_order(EN, 100, "CNY", "otp", None, 0.0)
    feed = MerchantTimeline(merchant, sink)
    feed.changed()
    assert sink.steps == []
    merchant.cancel_order(order.id, 5.0)
    feed.changed()
    assert sink.kinds() == [("merchant.order", "cancelled")]


def test_a_text_and_a_webhook_are_told_with_what_the_carrier_answered() -> None:
    """A text names the order and the message_id the carrier gave; a webhook is told when
    posted and when its posting ended."""
    merchant, sink = make_merchant(), Sink()
    feed = MerchantTimeline(merchant, sink)
    feed.sms(SendSms(EN, "code 123456", order_id="ord_0001"), 1, 1, "merchant", "42", None)
    feed.sms(SendSms(EN, "help"), 1, 1, "merchant", "", "not bound")
    payload = {"order_id": "ord_0001", "msisdn": EN, "status": "paid", "reason": "confirmed"}
    feed.webhook_posted(HOOK, payload)
    assert feed.webhook_done(Posted(503, 4, False), HOOK, payload) == Posted(503, 4, False)
    (_, _, texted, ids), (_, _, failed, other), (_, _, posted, _), (_, _, ended, _) = sink.steps
    assert ids == {"order_id": "ord_0001", "message_id": "42", "system_id": "merchant"}
    assert texted == {"text": "code 123456", "part": 1, "parts": 1, "sent": True}
    assert (failed["sent"], failed["error"], other["order_id"]) == (False, "not bound", "")
    assert (posted["outcome"], posted["status"], posted["url"]) == ("posted", "paid", HOOK)
    assert (ended["outcome"], ended["code"], ended["attempts"]) == ("given_up", 503, 4)


def test_an_order_forgotten_before_it_was_told_ended_is_passed_over() -> None:
    """Retention may forget an order the feed still holds open: the feed goes on with the rest."""
    merchant, sink = make_merchant(), Sink()
    feed = MerchantTimeline(merchant, sink)
    order, _ = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 100.0)
    feed.changed()
    merchant.cancel_order(order.id, 101.0)
    merchant.forget([order.id])
    other, _ = merchant.create_order(EN, 300, "CNY", "otp", HOOK, 102.0)
    feed.changed()
    assert [(ids["order_id"], detail["status"]) for _, _, detail, ids in sink.steps][2:] == [
        (other.id, "pending"),
        (other.id, "awaiting_confirmation"),
    ]
