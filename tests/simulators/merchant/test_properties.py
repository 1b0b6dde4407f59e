"""Properties over many inputs: every screen fits one USSD screen, and every status change reaches the shop."""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.merchant.actions import MAX_SCREEN, Action, EndUssd, PushUssd, SendSms, ShowUssd, Webhook
from simulators.merchant.config import MerchantConfig
from simulators.merchant.service import Merchant
from simulators.merchant.texts import MAX_AMOUNT, fits_screen, format_money
from simulators.merchant.wallets import Wallets, demo_wallets

from .helpers import HOOK, code_from

BUYER = "8613900000001"
PIN = "1234"

# GSM letters, extension characters (which count double) and CJK (which force UCS2).
_NAME_CHARS = st.sampled_from("ShopXabcZ09 &.-'€[]{}^|~\\小米商城茶馆ÅÉß")
shop_names = st.text(_NAME_CHARS, min_size=1, max_size=20).filter(lambda s: s == s.strip())


def _ussd(actions: list[Action] | tuple[Action, ...]) -> list[str]:
    return [a.text for a in actions if isinstance(a, PushUssd | ShowUssd | EndUssd)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shop=shop_names,
    till=st.from_regex(r"\d{3,7}", fullmatch=True),
    amount=st.integers(1, MAX_AMOUNT),
    balance=st.integers(0, MAX_AMOUNT),
    currency=st.sampled_from(["CNY", "JPY", "BHD"]),
    language=st.sampled_from(["en", "zh"]),
)
def test_every_ussd_screen_fits(
    shop: str, till: str, amount: int, balance: int, currency: str, language: str
) -> None:
    """Whatever the shop name, merchant number, amount, balance, currency and language, each screen fits (182 GSM / 80 UCS2)."""
    wallets = Wallets()
    wallets.create(BUYER, PIN, balance, currency, language)  # type: ignore[arg-type]
    merchant = Merchant(wallets, random.Random(0), MerchantConfig(shop_name=shop, till=till))
    shown: list[str] = []

    def push(*answers: str) -> None:
        _, actions = merchant.create_order(BUYER, amount, currency, "ussd_push", None, 0.0)
        shown.extend(_ussd(actions))
        for answer in answers:
            shown.extend(_ussd(merchant.ussd_push_answer(BUYER, answer, 1.0).actions))

    push("9", "1", "0000", PIN)  # invalid choice, PIN screen, retry, paid or insufficient
    push("2")
    push("1")
    shown.extend(_ussd(merchant.tick(1000.0)))  # timed out
    push("1", "0000", "0000", "0000")  # locked
    push()
    wallets.unlock(BUYER)
    shown.extend(_ussd(merchant.create_order(BUYER, amount, currency, "ussd_push", None, 2000.0)[1]))
    wallets.get(BUYER).pin_tries_left = 0
    shown.extend(_ussd(merchant.ussd_push_answer(BUYER, "1", 2001.0).actions))
    shown.extend(_ussd(merchant.ussd_push_answer(BUYER, PIN, 2002.0).actions))
    wallets.unlock(BUYER)
    if wallets.get(BUYER).balance < MAX_AMOUNT:  # so that menu payments of any amount succeed
        wallets.top_up(BUYER, MAX_AMOUNT - wallets.get(BUYER).balance)
    typed = format_money(amount, currency).split()[0]
    for n, answers in enumerate(
        [
            ["7", "1", "999", till, "x", typed, "0000", PIN, "5", "1"],
            ["1", till, typed, PIN, "1"],
            ["1", till, typed, PIN, "0", "0", "0", "0", "0"],
            ["1", till, typed, PIN, "2"],
            ["2"],
            ["3"],
        ]
    ):
        for i in range(len(answers) + 1):
            shown.extend(_ussd(merchant.ussd_menu(f"s{n}", BUYER, answers[:i], 3000.0 + i)))
    assert shown
    for text in shown:
        assert len(text) <= MAX_SCREEN and fits_screen(text), (len(text), text)


_KINDS = st.sampled_from(["otp", "ussd_push"])
_BUYERS = st.sampled_from(["8613800000001", "8613800000002", "8613800000003", "8613999999999"])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_every_status_change_sends_one_webhook(data: st.DataObject) -> None:
    """Across any mix of orders, answers, failures and ticks, the webhooks of an order are exactly its history after creation."""
    merchant = Merchant(
        demo_wallets(), random.Random(data.draw(st.integers(0, 1000))), MerchantConfig(callback_url=HOOK)
    )
    codes: dict[str, str] = {}
    actions: list[Action] = []
    now = 0.0
    for _ in range(data.draw(st.integers(1, 25))):
        now += data.draw(st.sampled_from([0.0, 1.0, 30.0, 200.0]))
        buyer = data.draw(_BUYERS)
        op = data.draw(
            st.sampled_from(["create", "confirm", "sms", "answer", "fail", "tick", "menu", "cancel"])
        )
        if op == "create":
            amount = data.draw(st.integers(1, 12_000))
            order, made = merchant.create_order(buyer, amount, "CNY", data.draw(_KINDS), None, now)
            actions += made
            if any(isinstance(a, SendSms) for a in made):
                codes[order.id] = code_from(made)
        elif op in ("confirm", "sms", "cancel") and len(merchant.orders):
            order = data.draw(st.sampled_from(list(merchant.orders)))
            code = codes.get(order.id, "000000") if data.draw(st.booleans()) else "999999"
            if op == "sms":
                text = data.draw(st.sampled_from([code, "YES " + code, "HELP", "STOP", "hi"]))
                actions += merchant.sms_received(order.msisdn, text, now).actions
            elif op == "confirm" and order.method == "otp":
                actions += merchant.confirm_otp(order.id, code, now).actions
            elif op == "cancel" and not order.status.final:
                actions += merchant.cancel_order(order.id, now).actions
        elif op == "answer":
            text = data.draw(st.sampled_from(["1", "2", "9", "1234", "2345", "3456", "0000"]))
            actions += merchant.ussd_push_answer(buyer, text, now).actions
        elif op == "fail":
            reason = data.draw(
                st.sampled_from(["handset_busy", "handset_unreachable", "no_answer", "cancelled_by_user"])
            )
            actions += merchant.ussd_push_failed(buyer, reason, now).actions
        elif op == "tick":
            actions += merchant.tick(now)
        else:
            answers = data.draw(
                st.sampled_from(
                    [["1", "10086", "25", "1234", "1"], ["2"], ["1", "10086", "200", "1234", "1"]]
                )
            )
            actions += merchant.ussd_menu(f"m{now}", buyer, answers, now)
    sent: dict[str, list[tuple[object, object, object]]] = defaultdict(list)
    for action in actions:
        if isinstance(action, Webhook):
            sent[str(action.payload["order_id"])].append(
                (action.payload["status"], action.payload["reason"], action.payload["at"])
            )
    for order in merchant.orders:
        assert sent[order.id] == [(c.status.value, c.reason, c.at) for c in order.history[1:]]
        assert order.history[-1].status is order.status
    total = sum(w.balance for w in merchant.wallets)
    paid = sum(o.amount for o in merchant.orders if o.status.value == "paid")
    assert total + paid == 5 * 10_000, "money is neither made nor lost"
