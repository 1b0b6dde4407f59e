"""The mock merchant killed (SIGKILL) in the middle of a shop's day forgets nothing it answered.

A buyer opens a wallet, pays one order by USSD push and one by code, leaves a third waiting
for its code and a fourth with a push prompt on the screen; then the process is killed and
started again on the same store. The orders come back with their statuses and histories, the
wallet is charged exactly once for each payment, the waiting order takes the code the phone
got, the push whose dialogue died fails with ``merchant_restarted``, and the next order gets
a new number. Once with ``smsgw serve`` (the merchant in the carrier's store, both killed),
once with ``smsgw merchant`` alone (its own store file; the carrier keeps running).
"""

from __future__ import annotations

import signal
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Smsgw, wait_until
from tests.e2e.test_merchant import (
    WAIT,
    MerchantProcess,
    _call,
    code_of,
    inbox_cursor,
    next_screen,
    reply,
    ussd_cursor,
)

pytestmark = pytest.mark.e2e

BUYER = "8613900000777"
PIN = "918273"
SHORT = "10086"  # smsgw serve's merchant sends from its own short code


class ServeWithMerchant(Smsgw):
    """``smsgw serve`` with its mock merchant, on a file store."""

    def command(self) -> list[str]:
        args = super().command()
        args.remove("--no-merchant")
        return [*args, "--merchant-port", "0"]

    @property
    def merchant_url(self) -> str:
        return str(self.ports["merchant_url"])


#: Calls the merchant's API: (method, path, body) -> (status, payload).
Shop = Callable[..., tuple[int, Any]]


def get(shop: Shop, path: str) -> Any:
    status, payload = shop("GET", path)
    assert status == 200, (path, status, payload)
    return payload


def new_order(shop: Shop, method: str, amount: int) -> dict[str, Any]:
    status, created = shop(
        "POST", "/orders", {"msisdn": BUYER, "amount": amount, "currency": "CNY", "method": method}
    )
    assert status == 201 and created["status"] == "awaiting_confirmation", created
    return created


def code_sms(carrier: Smsgw, after: int, sender: str) -> dict[str, Any]:
    """The next text with a code from ``sender`` (each merchant has its short code) after ``after``."""
    query = urllib.parse.urlencode({"after": after, "wait": WAIT, "from": sender, "match": r"code is \d+"})
    messages = carrier.get(f"/api/handsets/{BUYER}/inbox?{query}")["messages"]
    assert messages, f"no code from {sender} reached {BUYER}"
    return messages[0]


def before_the_kill(carrier: Smsgw, shop: Shop, sender: str) -> dict[str, Any]:
    """Open a wallet and leave orders in every state a crash can find them in."""
    status, wallet = shop("POST", "/wallets", {"msisdn": BUYER, "pin": PIN, "balance": 10_000})
    assert status == 201, wallet
    # Paid by USSD push: prompt, 1, PIN.
    cursor = ussd_cursor(carrier, BUYER)
    pushed = new_order(shop, "ussd_push", 1200)
    assert next_screen(carrier, BUYER, cursor)["screen"].startswith("Pay 12.00 CNY")
    assert reply(carrier, BUYER, "1")["screen"].startswith("Enter PIN")
    assert reply(carrier, BUYER, PIN)["state"] == "closed"
    wait_until(lambda: get(shop, f"/orders/{pushed['id']}")["status"] == "paid", WAIT, "the push payment")
    # Paid by code.
    cursor = inbox_cursor(carrier, BUYER)
    by_code = new_order(shop, "otp", 300)
    code = code_of(code_sms(carrier, cursor, sender))
    status, paid = shop("POST", f"/orders/{by_code['id']}/confirm", {"code": code})
    assert status == 200 and paid["status"] == "paid", paid
    # Waiting for its code: the phone has it, the shop has not typed it yet.
    cursor = inbox_cursor(carrier, BUYER)
    waiting = new_order(shop, "otp", 450)
    waiting_code = code_of(code_sms(carrier, cursor, sender))
    # A push prompt on the screen when the process dies.
    cursor = ussd_cursor(carrier, BUYER)
    in_flight = new_order(shop, "ussd_push", 800)
    assert next_screen(carrier, BUYER, cursor)["screen"].startswith("Pay 8.00 CNY")
    orders = {o["id"]: o for o in get(shop, "/orders")["orders"]}
    assert [orders[o["id"]]["status"] for o in (pushed, by_code, waiting, in_flight)] == [
        "paid",
        "paid",
        "awaiting_confirmation",
        "awaiting_confirmation",
    ]
    return {
        "orders": orders,
        "pushed": pushed["id"],
        "by_code": by_code["id"],
        "waiting": waiting["id"],
        "waiting_code": waiting_code,
        "in_flight": in_flight["id"],
        "wallet": get(shop, f"/wallets/{BUYER}"),
    }


def after_the_restart(carrier: Smsgw, shop: Shop, kept: dict[str, Any]) -> None:
    """Everything answered before the kill is there, once; the waiting order still pays."""
    listed = get(shop, "/orders")
    orders = {o["id"]: o for o in listed["orders"]}
    for name in ("pushed", "by_code", "waiting"):
        assert orders[kept[name]] == kept["orders"][kept[name]], name
    failed = orders[kept["in_flight"]]
    assert (failed["status"], failed["reason"]) == ("failed", "merchant_restarted"), failed
    assert failed["history"][:-1] == kept["orders"][kept["in_flight"]]["history"]
    wallet = get(shop, f"/wallets/{BUYER}")
    assert wallet == kept["wallet"]
    assert wallet["balance"] == 10_000 - 1200 - 300 and wallet["payments_total"] == 2
    status, paid = shop("POST", f"/orders/{kept['waiting']}/confirm", {"code": kept["waiting_code"]})
    assert status == 200 and paid["status"] == "paid", paid
    assert get(shop, f"/wallets/{BUYER}")["balance"] == 10_000 - 1200 - 300 - 450
    newest = max(int(order_id[4:]) for order_id in orders)
    assert new_order(shop, "otp", 100)["id"] == f"ord_{newest + 1:04d}"


def test_smsgw_serve_killed_mid_day_keeps_the_merchants_payments(tmp_path: Path) -> None:
    carrier = ServeWithMerchant(tmp_path / "serve", config="[merchant]\nseed = 5\n").start()
    try:

        def shop(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            return _call(carrier.merchant_url + path, method, body)

        wait_until(lambda: get(shop, "/health")["bound"], WAIT, "the merchant's bind")
        kept = before_the_kill(carrier, shop, SHORT)
        carrier.restart(signal.SIGKILL)
        wait_until(lambda: get(shop, "/health")["bound"], WAIT, "the merchant's bind after the restart")
        after_the_restart(carrier, shop, kept)
    finally:
        carrier.stop()


def test_smsgw_merchant_killed_alone_keeps_its_payments(tmp_path: Path) -> None:
    carrier = Smsgw(tmp_path / "carrier").start()
    workdir = tmp_path / "merchant"
    workdir.mkdir()
    merchant = MerchantProcess(workdir, carrier)
    try:
        kept = before_the_kill(carrier, merchant.api, "12345")
        merchant.process.send_signal(signal.SIGKILL)
        merchant.stop()
        merchant.ports_file.unlink()
        merchant = MerchantProcess(workdir, carrier)  # the same --store file
        after_the_restart(carrier, merchant.api, kept)
    finally:
        merchant.stop()
        carrier.stop()
