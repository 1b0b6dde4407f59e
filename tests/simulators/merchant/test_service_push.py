"""Paying by USSD push: the prompt, the answer, the PIN, and every way it can fail."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.merchant.actions import EndUssd, PushUssd, ShowUssd
from simulators.merchant.orders import OrderStatus
from simulators.merchant.service import Merchant

from .helpers import EN, HOOK, OTHER, ZH, hooks, make_merchant, texts


def pushed(msisdn: str = EN, amount: int = 2500, **config: Any) -> Merchant:
    """A merchant that has just pushed one prompt to ``msisdn``."""
    merchant = make_merchant(callback_url=HOOK, **config)
    merchant.create_order(msisdn, amount, "CNY", "ussd_push", None, 0.0)
    return merchant


def test_push_prompt() -> None:
    """A push order sends the confirm prompt and waits for the buyer."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "ussd_push", HOOK, 0.0)
    assert actions[0] == PushUssd(EN, "Pay 25.00 CNY to ShopX?\n1 Confirm\n2 Cancel")
    assert hooks(actions) == [("awaiting_confirmation", "prompt_sent")]
    assert order.status is OrderStatus.AWAITING_CONFIRMATION and order.method == "ussd_push"


def test_push_confirm_and_pin_pays() -> None:
    """1 asks for the PIN in the same dialogue; the right PIN pays, ends the dialogue and texts a receipt."""
    merchant = pushed()
    order = merchant.orders.get("ord_0001")
    step = merchant.ussd_push_answer(EN, "1", 5.0)
    assert step.reason == "pin_requested" and step.actions == (
        ShowUssd(EN, "Enter PIN to pay 25.00 CNY to ShopX:", end=False),
    )
    assert order.status is OrderStatus.AWAITING_CONFIRMATION
    paid = merchant.ussd_push_answer(EN, "1234", 10.0)
    assert paid.reason == "confirmed" and merchant.orders.get("ord_0001").status is OrderStatus.PAID
    assert paid.actions[0] == EndUssd(EN, f"Paid 25.00 CNY to ShopX. Ref {order.reference}")
    assert texts(paid.actions) == [f"Paid 25.00 CNY to ShopX. Ref {order.reference}. Balance 75.00 CNY."]
    assert hooks(paid.actions) == [("paid", "confirmed")]
    assert merchant.wallets.get(EN).balance == 7500
    assert merchant.ussd_push_answer(EN, "1", 11.0).reason == "no_push"


def test_push_in_chinese() -> None:
    """A Chinese-speaking buyer sees the prompt, the PIN screen and the end screen in Chinese."""
    merchant = make_merchant()
    order, actions = merchant.create_order(ZH, 2500, "CNY", "ussd_push", None, 0.0)
    assert actions[0] == PushUssd(ZH, "向 ShopX 支付 25.00 CNY？\n1 确认\n2 取消")
    assert merchant.ussd_push_answer(ZH, "1", 1.0).actions == (
        ShowUssd(ZH, "请输入密码，向 ShopX 支付 25.00 CNY："),
    )
    wrong = merchant.ussd_push_answer(ZH, "0000", 2.0)
    assert wrong.actions == (ShowUssd(ZH, "密码错误，还可尝试 2 次。\n请输入密码："),)
    paid = merchant.ussd_push_answer(ZH, "2345", 3.0)
    assert paid.actions[0] == EndUssd(ZH, f"已向 ShopX 支付 25.00 CNY。参考号 {order.reference}")


def test_session_key_from_the_edge_is_used() -> None:
    """When the edge names the dialogue, every later screen for it carries that key."""
    merchant = pushed()
    step = merchant.ussd_push_answer(EN, "1", 1.0, session_key="8613800000001+0100")
    assert step.actions[0].session_key == "8613800000001+0100"  # type: ignore[union-attr]
    paid = merchant.ussd_push_answer(EN, "1234", 2.0)
    assert paid.actions[0].session_key == "8613800000001+0100"  # type: ignore[union-attr]


def test_push_cancel() -> None:
    """2 cancels the order (cancelled_by_user) and ends the dialogue."""
    merchant = pushed()
    outcome = merchant.ussd_push_answer(EN, "2", 1.0)
    assert outcome.actions[0] == EndUssd(EN, "Payment cancelled.")
    assert hooks(outcome.actions) == [("cancelled", "cancelled_by_user")]
    assert merchant.orders.get("ord_0001").reason == "cancelled_by_user"
    assert merchant.wallets.get(EN).balance == 10_000


def test_push_invalid_choice_repeats_the_prompt() -> None:
    """Anything but 1 or 2 repeats the prompt with a hint, leaving the order waiting."""
    merchant = pushed()
    outcome = merchant.ussd_push_answer(EN, "9", 1.0)
    assert outcome.reason == "invalid_choice"
    assert outcome.actions == (ShowUssd(EN, "Answer 1 or 2.\nPay 25.00 CNY to ShopX?\n1 Confirm\n2 Cancel"),)
    assert merchant.orders.get("ord_0001").status is OrderStatus.AWAITING_CONFIRMATION


def test_wrong_pin_retries_then_locks() -> None:
    """Wrong PINs get a retry screen with the tries left; the last locks the wallet and fails the order (wrong_pin)."""
    merchant = pushed()
    merchant.ussd_push_answer(EN, "1", 1.0)
    first = merchant.ussd_push_answer(EN, "0000", 2.0)
    assert (first.reason, first.attempts_left) == ("wrong_pin", 2)
    assert first.actions == (ShowUssd(EN, "Wrong PIN. Tries left: 2.\nEnter PIN:"),)
    merchant.ussd_push_answer(EN, "0000", 3.0)
    last = merchant.ussd_push_answer(EN, "0000", 4.0)
    assert last.actions[0] == EndUssd(EN, "Wrong PIN. Your wallet is locked.")
    assert hooks(last.actions) == [("failed", "wrong_pin")]
    assert merchant.wallets.get(EN).locked and merchant.wallets.get(EN).balance == 10_000


def test_locked_wallet() -> None:
    """A push to a locked wallet fails at once (wallet_locked); one locked mid-dialogue fails on the PIN."""
    merchant = make_merchant()
    merchant.wallets.get(EN).pin_tries_left = 0
    order, actions = merchant.create_order(EN, 100, "CNY", "ussd_push", HOOK, 0.0)
    assert (order.reason, hooks(actions)) == ("wallet_locked", [("failed", "wallet_locked")])
    merchant = pushed()
    merchant.ussd_push_answer(EN, "1", 1.0)
    merchant.wallets.get(EN).pin_tries_left = 0
    outcome = merchant.ussd_push_answer(EN, "1234", 2.0)
    assert outcome.actions[0] == EndUssd(EN, "Your wallet is locked.")
    assert hooks(outcome.actions) == [("failed", "wallet_locked")]


def test_push_insufficient_balance() -> None:
    """The right PIN for more than the balance ends the dialogue with the balance and fails the order."""
    merchant = pushed(amount=20_000)
    merchant.ussd_push_answer(EN, "1", 1.0)
    outcome = merchant.ussd_push_answer(EN, "1234", 2.0)
    assert outcome.actions[0] == EndUssd(EN, "Insufficient balance (100.00 CNY). Payment failed.")
    assert hooks(outcome.actions) == [("failed", "insufficient_balance")]
    assert texts(outcome.actions) == [
        "Payment of 200.00 CNY to ShopX failed: insufficient balance (100.00 CNY)."
    ]


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("handset_busy", OrderStatus.FAILED),
        ("handset_unreachable", OrderStatus.FAILED),
        ("no_answer", OrderStatus.FAILED),
        ("cancelled_by_user", OrderStatus.CANCELLED),
    ],
)
def test_push_failed(reason: str, status: OrderStatus) -> None:
    """A push the network could not hold ends the order with that reason; no USSD screen is sent."""
    merchant = pushed()
    outcome = merchant.ussd_push_failed(EN, reason, 1.0)
    order = merchant.orders.get("ord_0001")
    assert (order.status, order.reason, outcome.reason) == (status, reason, reason)
    assert hooks(outcome.actions) == [(status.value, reason)] and len(outcome.actions) == 1
    assert merchant.ussd_push_failed(EN, reason, 2.0).reason == "no_push"


def test_push_failed_for_an_earlier_order_leaves_the_next_push_alone() -> None:
    """A refusal that names the order it came from (a screen the network refused after the
    shop had cancelled that order and pushed another) does not fail the new push."""
    merchant = pushed()
    merchant.cancel_order("ord_0001", 1.0)
    order, actions = merchant.create_order(EN, 700, "CNY", "ussd_push", None, 2.0)
    assert actions[0].order_id == order.id
    assert merchant.ussd_push_failed(EN, "no_answer", 3.0, order_id="ord_0001").reason == "no_push"
    assert merchant.orders.get(order.id).status is OrderStatus.AWAITING_CONFIRMATION
    assert merchant.ussd_push_failed(EN, "no_answer", 4.0, order_id=order.id).reason == "no_answer"


def test_push_screens_name_their_order() -> None:
    """Every screen of a push carries its order (the edge logs it and fails that order alone)."""
    merchant = pushed()
    pin = merchant.ussd_push_answer(EN, "1", 1.0, session_key=f"{EN}+2")
    paid = merchant.ussd_push_answer(EN, "1234", 2.0, session_key=f"{EN}+2")
    assert [a.order_id for a in (*pin.actions, paid.actions[0])] == ["ord_0001", "ord_0001"]
    again = pushed()
    timed_out = again.tick(again.config.push_timeout + 1)
    assert timed_out[0] == EndUssd(EN, "Payment timed out.") and timed_out[0].order_id == "ord_0001"


def test_push_failed_refuses_unknown_reasons() -> None:
    """Only the documented failure reasons are taken."""
    with pytest.raises(ValueError, match="handset_busy"):
        pushed().ussd_push_failed(EN, "phone_exploded", 1.0)


def test_second_push_to_a_busy_handset_fails() -> None:
    """While one push waits on a handset, a second push order fails at once with handset_busy."""
    merchant = pushed()
    order, actions = merchant.create_order(EN, 100, "CNY", "ussd_push", HOOK, 1.0)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "handset_busy")
    assert hooks(actions) == [("failed", "handset_busy")]
    assert merchant.orders.get("ord_0001").status is OrderStatus.AWAITING_CONFIRMATION


def test_push_times_out() -> None:
    """tick() fails an unanswered push as no_answer after push_timeout, counted from the last answer."""
    merchant = pushed(push_timeout=60.0)
    assert merchant.tick(59.9) == []
    merchant.ussd_push_answer(EN, "1", 59.9)
    assert merchant.tick(119.0) == []
    actions = merchant.tick(119.9)
    assert actions[0] == EndUssd(EN, "Payment timed out.")
    assert hooks(actions) == [("failed", "no_answer")]
    assert merchant.orders.get("ord_0001").reason == "no_answer"
    assert merchant.ussd_push_answer(EN, "1234", 120.0).actions == (EndUssd(EN, "No payment is waiting."),)


def test_shop_cancels_a_push() -> None:
    """Cancelling a push order closes the buyer's dialogue too."""
    merchant = pushed()
    outcome = merchant.cancel_order("ord_0001", 1.0)
    assert outcome.actions[0] == EndUssd(EN, "Payment cancelled.")
    assert hooks(outcome.actions) == [("cancelled", "cancelled_by_merchant")]
    assert merchant.ussd_push_answer(EN, "1", 2.0).reason == "no_push"


def test_pushes_to_different_handsets_are_independent() -> None:
    """Two buyers can each have a push waiting; answering one leaves the other alone."""
    merchant = pushed()
    merchant.create_order(OTHER, 300, "CNY", "ussd_push", None, 0.0)
    merchant.ussd_push_answer(OTHER, "2", 1.0)
    assert merchant.orders.get("ord_0001").status is OrderStatus.AWAITING_CONFIRMATION
    assert merchant.orders.get("ord_0002").status is OrderStatus.CANCELLED
