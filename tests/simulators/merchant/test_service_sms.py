"""Buyers texting the short code: codes by SMS, HELP, STOP and anything else."""

from __future__ import annotations

import pytest

from simulators.merchant.orders import OrderStatus

from .helpers import EN, HOOK, OTHER, ZH, code_from, hooks, make_merchant, texts


@pytest.mark.parametrize("template", ["{}", " {} ", "YES {}", "yes {}", "OK{}", "是 {}"])
def test_code_by_sms_pays(template: str) -> None:
    """A reply with the code (bare or after YES/OK/是) pays the buyer's waiting order."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.sms_received(EN, template.format(code_from(actions)), 5.0)
    assert outcome.order is order and order.status is OrderStatus.PAID
    assert texts(outcome.actions) == [f"Paid 25.00 CNY to ShopX. Ref {order.reference}. Balance 75.00 CNY."]
    assert hooks(outcome.actions) == [("paid", "confirmed")]


def test_code_by_sms_goes_to_the_newest_order() -> None:
    """With two waiting orders, a texted code is checked against the newest one."""
    merchant = make_merchant()
    older, _ = merchant.create_order(EN, 100, "CNY", "otp", None, 0.0)
    newer, actions = merchant.create_order(EN, 200, "CNY", "otp", None, 1.0)
    merchant.sms_received(EN, code_from(actions), 2.0)
    assert newer.status is OrderStatus.PAID and older.status is OrderStatus.AWAITING_CONFIRMATION


def test_wrong_codes_by_sms_are_answered() -> None:
    """Wrong codes by SMS are answered with the attempts left, and the last with the failure."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    wrong = str((int(code_from(actions)) + 1) % 1_000_000).zfill(6)
    first = merchant.sms_received(EN, wrong, 1.0)
    assert (first.reason, first.attempts_left, texts(first.actions)) == (
        "wrong_code",
        2,
        ["Wrong code. Attempts left: 2."],
    )
    merchant.sms_received(EN, wrong, 2.0)
    last = merchant.sms_received(EN, wrong, 3.0)
    assert texts(last.actions) == ["Too many wrong codes. The payment of 25.00 CNY to ShopX failed."]
    assert hooks(last.actions) == [("failed", "too_many_attempts")]
    assert order.status is OrderStatus.FAILED
    after = merchant.sms_received(EN, wrong, 4.0)
    assert (after.reason, texts(after.actions)) == ("no_order", ["You have no payment waiting for a code."])


def test_expired_code_by_sms() -> None:
    """A code texted too late expires the order and tells the buyer to start again."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.sms_received(EN, code_from(actions), 300.0)
    assert outcome.reason == "code_expired" and order.status is OrderStatus.EXPIRED
    assert texts(outcome.actions) == ["Your code has expired. Please start the payment again."]
    assert hooks(outcome.actions) == [("expired", "code_expired")]


def test_chinese_answers_by_sms() -> None:
    """A Chinese-speaking buyer's wrong code, HELP and unknown text are answered in Chinese."""
    merchant = make_merchant()
    _, actions = merchant.create_order(ZH, 2500, "CNY", "otp", None, 0.0)
    wrong = str((int(code_from(actions)) + 1) % 1_000_000).zfill(6)
    assert texts(merchant.sms_received(ZH, wrong, 1.0).actions) == ["验证码错误，还可尝试 2 次。"]
    assert texts(merchant.sms_received(ZH, "帮助", 1.0).actions) == [
        "ShopX 支付：回复短信中的验证码即可付款。回复 TD 取消待付款项。"
    ]
    assert texts(merchant.sms_received(ZH, "你好", 1.0).actions) == [
        "抱歉，无法识别。请回复验证码，或回复“帮助”或 TD。"
    ]


@pytest.mark.parametrize("word", ["HELP", "help", " Help "])
def test_help(word: str) -> None:
    """HELP is answered with how to pay, and changes nothing."""
    outcome = make_merchant().sms_received(EN, word, 0.0)
    assert (outcome.reason, outcome.order) == ("help", None)
    assert texts(outcome.actions) == [
        "ShopX payments: reply with the code from our SMS to pay. STOP cancels your pending payments."
    ]


@pytest.mark.parametrize("word", ["STOP", "stop", "TD", "退订"])
def test_stop_cancels_waiting_code_orders(word: str) -> None:
    """STOP (or TD, 退订) cancels the buyer's waiting OTP orders as cancelled_by_user, and only theirs."""
    merchant = make_merchant()
    mine, actions = merchant.create_order(EN, 100, "CNY", "otp", HOOK, 0.0)
    theirs, _ = merchant.create_order(OTHER, 100, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.sms_received(EN, word, 1.0)
    assert outcome.reason == "stop"
    assert texts(outcome.actions) == [
        "Your pending payments to ShopX are cancelled. You have not been charged."
    ]
    assert hooks(outcome.actions) == [("cancelled", "cancelled_by_user")]
    assert (mine.status, mine.reason) == (OrderStatus.CANCELLED, "cancelled_by_user")
    assert theirs.status is OrderStatus.AWAITING_CONFIRMATION
    assert merchant.confirm_otp(mine.id, code_from(actions), 2.0).reason == "order_closed"


def test_unknown_text_and_no_order() -> None:
    """Text that is no code nor keyword gets a hint; a code with no waiting order says so."""
    merchant = make_merchant()
    unknown = merchant.sms_received(EN, "hello?", 0.0)
    assert (unknown.reason, texts(unknown.actions)) == (
        "unknown_command",
        ["Sorry, we did not understand. Reply with your code, HELP or STOP."],
    )
    none = merchant.sms_received(EN, "123456", 0.0)
    assert none.reason == "no_order" and none.order is None


def test_sms_from_a_number_without_wallet_is_answered_in_english() -> None:
    """Someone without a wallet texting HELP gets the English help."""
    outcome = make_merchant().sms_received("8613999999999", "HELP", 0.0)
    assert outcome.actions[0].msisdn == "8613999999999"  # type: ignore[union-attr]
    assert texts(outcome.actions)[0].startswith("ShopX payments:")
