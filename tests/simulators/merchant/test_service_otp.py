"""Paying by SMS code: the code SMS, confirmation on the shop's page or by reply, and every failure."""

from __future__ import annotations

import pytest

from simulators.merchant.actions import SendSms, Webhook
from simulators.merchant.config import InvalidOrder
from simulators.merchant.orders import OrderNotFound, OrderStateError, OrderStatus
from simulators.merchant.otp import OtpPolicy

from .helpers import EN, HOOK, OTHER, ZH, code_from, hooks, make_merchant, of, texts


def test_create_otp_order_texts_the_code() -> None:
    """An OTP order texts the buyer the code, waits for it, and tells the shop."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 100.0)
    code = code_from(actions)
    assert len(code) == 6
    assert actions[0] == SendSms(EN, f"ShopX: your code is {code} to pay 25.00 CNY. It expires in 5 minutes.")
    assert hooks(actions) == [("awaiting_confirmation", "code_sent")]
    assert (order.id, order.status, order.method, order.expires_at) == (
        "ord_0001",
        OrderStatus.AWAITING_CONFIRMATION,
        "otp",
        400.0,
    )


def test_code_sms_in_chinese() -> None:
    """A Chinese-speaking buyer gets the code SMS in Chinese."""
    merchant = make_merchant()
    _, actions = merchant.create_order(ZH, 2500, "CNY", "otp", None, 0.0)
    code = code_from(actions)
    assert texts(actions) == [f"ShopX：您的验证码是 {code}，用于支付 25.00 CNY，5 分钟内有效。"]


def test_codes_are_reproducible_with_a_seed() -> None:
    """Two merchants with the same seed text the same codes; the code is not on the order."""
    first, second = make_merchant(seed=99), make_merchant(seed=99)
    sent = [texts(first.create_order(EN, 100 + i, "CNY", "otp", None, 0.0)[1]) for i in range(3)]
    assert sent == [texts(second.create_order(EN, 100 + i, "CNY", "otp", None, 0.0)[1]) for i in range(3)]
    order = first.orders.get("ord_0001")
    assert code_from([SendSms(EN, sent[0][0])]) not in repr(order)


def test_confirm_on_the_shop_page_pays() -> None:
    """The right code debits the wallet, marks the order paid, texts a receipt and tells the shop."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.confirm_otp(order.id, code_from(actions), 30.0)
    assert outcome.reason == "confirmed" and outcome.order is order
    assert order.status is OrderStatus.PAID and order.reference is not None
    assert merchant.wallets.get(EN).balance == 7500
    assert texts(outcome.actions) == [f"Paid 25.00 CNY to ShopX. Ref {order.reference}. Balance 75.00 CNY."]
    assert hooks(outcome.actions) == [("paid", "confirmed")]
    assert of(Webhook, outcome.actions)[0].payload["reference"] == order.reference
    assert [(c.status.value, c.at, c.reason) for c in order.history] == [
        ("pending", 0.0, "created"),
        ("awaiting_confirmation", 0.0, "code_sent"),
        ("paid", 30.0, "confirmed"),
    ]
    assert merchant.wallets.get(EN).payments[-1].order_id == order.id


def test_receipt_in_chinese() -> None:
    """A Chinese-speaking buyer's receipt is in Chinese."""
    merchant = make_merchant()
    order, actions = merchant.create_order(ZH, 1050, "CNY", "otp", None, 0.0)
    outcome = merchant.confirm_otp(order.id, code_from(actions), 1.0)
    assert texts(outcome.actions) == [
        f"已向 ShopX 支付 10.50 CNY。参考号 {order.reference}。余额 89.50 CNY。"
    ]


def test_wrong_codes_then_too_many_attempts() -> None:
    """Wrong codes leave the order waiting with attempts left; the third fails it as too_many_attempts."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    code = code_from(actions)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    first = merchant.confirm_otp(order.id, wrong, 1.0)
    assert (first.reason, first.attempts_left, first.actions) == ("wrong_code", 2, ())
    assert order.status is OrderStatus.AWAITING_CONFIRMATION
    assert merchant.confirm_otp(order.id, wrong, 2.0).attempts_left == 1
    last = merchant.confirm_otp(order.id, wrong, 3.0)
    assert (last.reason, last.attempts_left) == ("too_many_attempts", 0)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "too_many_attempts")
    assert hooks(last.actions) == [("failed", "too_many_attempts")]
    again = merchant.confirm_otp(order.id, code, 4.0)
    assert again.reason == "too_many_attempts" and again.actions == ()
    assert merchant.wallets.get(EN).balance == 10_000


def test_code_expires_on_confirm() -> None:
    """A code typed after its lifetime expires the order (code_expired) even before tick runs."""
    merchant = make_merchant(otp=OtpPolicy(ttl=60.0))
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.confirm_otp(order.id, code_from(actions), 60.0)
    assert outcome.reason == "code_expired"
    assert (order.status, order.reason) == (OrderStatus.EXPIRED, "code_expired")
    assert hooks(outcome.actions) == [("expired", "code_expired")]


def test_tick_expires_codes() -> None:
    """tick() expires waiting OTP orders whose code is past its lifetime, and only those."""
    merchant = make_merchant(callback_url=HOOK)
    old, _ = merchant.create_order(EN, 100, "CNY", "otp", None, 0.0)
    new, _ = merchant.create_order(OTHER, 100, "CNY", "otp", None, 200.0)
    assert merchant.tick(299.9) == []
    actions = merchant.tick(300.0)
    assert hooks(actions) == [("expired", "code_expired")]
    assert old.status is OrderStatus.EXPIRED and new.status is OrderStatus.AWAITING_CONFIRMATION
    assert merchant.tick(301.0) == []


def test_code_reused() -> None:
    """A code used once is reported reused; the paid order stays paid and nothing is debited twice."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", HOOK, 0.0)
    code = code_from(actions)
    merchant.confirm_otp(order.id, code, 1.0)
    again = merchant.confirm_otp(order.id, code, 2.0)
    assert (again.reason, again.actions) == ("code_reused", ())
    assert order.status is OrderStatus.PAID and merchant.wallets.get(EN).balance == 7500


def test_insufficient_balance() -> None:
    """The right code for more than the balance fails the order (insufficient_balance) and texts the buyer."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 10_001, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.confirm_otp(order.id, code_from(actions), 1.0)
    assert outcome.reason == "insufficient_balance"
    assert (order.status, order.reason, order.reference) == (OrderStatus.FAILED, "insufficient_balance", None)
    assert texts(outcome.actions) == [
        "Payment of 100.01 CNY to ShopX failed: insufficient balance (100.00 CNY)."
    ]
    assert hooks(outcome.actions) == [("failed", "insufficient_balance")]
    assert merchant.wallets.get(EN).balance == 10_000


def test_no_wallet_fails_the_order_at_once() -> None:
    """A buyer without a wallet gets no SMS; the order fails with no_wallet and the shop is told."""
    merchant = make_merchant()
    order, actions = merchant.create_order("8613999999999", 2500, "CNY", "otp", HOOK, 0.0)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "no_wallet")
    assert actions == [of(Webhook, actions)[0]] and hooks(actions) == [("failed", "no_wallet")]
    assert merchant.confirm_otp(order.id, "123456", 1.0).reason == "order_closed"


def test_currency_mismatch_fails_the_order() -> None:
    """An order in another currency than the wallet's fails with currency_mismatch."""
    order, actions = make_merchant().create_order(EN, 2500, "KES", "otp", HOOK, 0.0)
    assert (order.status, order.reason) == (OrderStatus.FAILED, "currency_mismatch")
    assert texts(actions) == []


@pytest.mark.parametrize(
    ("msisdn", "amount", "currency", "method", "url", "field"),
    [
        ("+8613800000001", 100, "CNY", "otp", None, "msisdn"),
        (EN, 0, "CNY", "otp", None, "amount"),
        (EN, -1, "CNY", "otp", None, "amount"),
        (EN, 1_000_000_000, "CNY", "otp", None, "amount"),
        (EN, 25.0, "CNY", "otp", None, "amount"),
        (EN, 100, "cny", "otp", None, "currency"),
        (EN, 100, "CNY", "card", None, "method"),
        (EN, 100, "CNY", "ussd_menu", None, "method"),
        (EN, 100, "CNY", "otp", "ftp://x", "callback_url"),
        (EN, 100, "CNY", "otp", "file:///etc/passwd", "callback_url"),
        (EN, 100, "CNY", "otp", "http://evil.example/hook", "callback_hosts"),
        (EN, 100, "CNY", "otp", "http://127.0.0.1@evil.example/hook", "callback_url"),
        (EN, 100, "CNY", "otp", "http://evil.example\\@127.0.0.1/hook", "callback_url"),
        (EN, 100, "CNY", "otp", "http://127.0.0.1:99999/hook", "callback_url"),
    ],
)
def test_malformed_requests_are_refused(
    msisdn: str, amount: int, currency: str, method: str, url: str | None, field: str
) -> None:
    """A malformed request raises InvalidOrder naming the field, and makes no order."""
    merchant = make_merchant()
    with pytest.raises(InvalidOrder, match=field):
        merchant.create_order(msisdn, amount, currency, method, url, 0.0)
    assert len(merchant.orders) == 0


def test_confirm_errors() -> None:
    """Confirming an unknown order or a push order is an error for the shop's API."""
    merchant = make_merchant()
    order, _ = merchant.create_order(EN, 100, "CNY", "ussd_push", None, 0.0)
    with pytest.raises(OrderNotFound):
        merchant.confirm_otp("ord_9999", "123456", 1.0)
    with pytest.raises(OrderStateError):
        merchant.confirm_otp(order.id, "123456", 1.0)


def test_default_callback_url() -> None:
    """Orders created without a callback URL use the configured one; without either there are no webhooks."""
    with_default = make_merchant(callback_url="http://localhost:8998/hook")
    _, actions = with_default.create_order(EN, 100, "CNY", "otp", None, 0.0)
    assert of(Webhook, actions)[0].url == "http://localhost:8998/hook"
    _, actions = with_default.create_order(OTHER, 100, "CNY", "otp", HOOK, 0.0)
    assert of(Webhook, actions)[0].url == HOOK
    _, actions = make_merchant().create_order(EN, 100, "CNY", "otp", None, 0.0)
    assert of(Webhook, actions) == []


def test_callback_hosts_widen_where_webhooks_may_go() -> None:
    """Loopback only by default; a host the config lists is allowed, by name or address."""
    merchant = make_merchant(callback_hosts=("127.0.0.1", "Shop.Example", "::1"))
    _, actions = merchant.create_order(EN, 100, "CNY", "otp", "https://shop.example:8443/hook", 0.0)
    assert of(Webhook, actions)[0].url == "https://shop.example:8443/hook"
    _, actions = merchant.create_order(OTHER, 100, "CNY", "otp", "http://[::1]:9/hook", 0.0)
    assert of(Webhook, actions)[0].url == "http://[::1]:9/hook"
    with pytest.raises(InvalidOrder, match="'localhost' is not allowed"):
        merchant.create_order(ZH, 100, "CNY", "otp", "http://localhost/hook", 0.0)
    with pytest.raises(ValueError, match="callback_hosts"):
        make_merchant(callback_url="http://shop.example/hook")


def test_shop_cancels_an_order() -> None:
    """The shop may cancel a waiting order (cancelled_by_merchant); the code then no longer works."""
    merchant = make_merchant()
    order, actions = merchant.create_order(EN, 100, "CNY", "otp", HOOK, 0.0)
    outcome = merchant.cancel_order(order.id, 1.0)
    assert hooks(outcome.actions) == [("cancelled", "cancelled_by_merchant")]
    assert merchant.confirm_otp(order.id, code_from(actions), 2.0).reason == "order_closed"
    with pytest.raises(OrderStateError):
        merchant.cancel_order(order.id, 3.0)
