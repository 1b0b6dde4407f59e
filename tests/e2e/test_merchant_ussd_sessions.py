"""The mock merchant names each USSD dialogue by its own session, end to end.

A real ``smsgw serve``, the merchant bound over SMPP, the shop's HTTP API and the handsets'
API. The carrier refuses (0x45) a screen that names the wrong dialogue, so when the merchant
ends a push it has not been answered yet by a stale its_session_info (that of the buyer's
last ``*126#`` dialogue), the order says cancelled or failed while the phone keeps showing
"Pay ...? 1 Confirm". These tests end a push after a menu dialogue and look at the phone.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.http import call_api
from tests.e2e.conftest import Smsgw, wait_until
from tests.e2e.test_merchant import WAIT, MerchantProcess, next_screen, reply, ussd_cursor
from tests.e2e.test_merchant_unhappy import create, dial_menu, new_wallet, settled

pytestmark = pytest.mark.e2e

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def merchant(server: Smsgw, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MerchantProcess]:
    process = MerchantProcess(tmp_path_factory.mktemp("merchant-sessions"), server)
    yield process
    process.stop()


def test_cancelling_an_unanswered_push_after_a_menu_closes_the_prompt(
    server: Smsgw, merchant: MerchantProcess
) -> None:
    """Menu (the merchant ends it), then a push, then the shop cancels: the prompt closes."""
    msisdn = new_wallet(merchant)
    dial_menu(server, msisdn)
    balance = reply(server, msisdn, "2")
    assert (balance["state"], balance["screen"]) == ("closed", "Balance: 100.00 CNY"), balance
    created = create(merchant, msisdn, "ussd_push", 100)
    prompt = next_screen(server, msisdn, ussd_cursor(server, msisdn) - 1)
    assert prompt["screen"].startswith("Pay 1.00 CNY to ShopX?") and prompt["state"] == "waiting_user"
    status, cancelled = merchant.api("POST", f"/orders/{created['id']}/cancel")
    assert status == 200 and (cancelled["status"], cancelled["reason"]) == (
        "cancelled",
        "cancelled_by_merchant",
    )
    try:
        screen = next_screen(server, msisdn, prompt["cursor"])
        assert (screen["state"], screen["screen"]) == ("closed", "Payment cancelled."), screen
        assert screen["session"] == prompt["session"], "the cancel must close the push's own dialogue"
    finally:
        server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert merchant.balance(msisdn) == 10000
    assert settled(merchant, created["id"])["status"] == "cancelled"


def test_a_second_push_after_a_menu_and_a_push_is_answered_in_its_own_dialogue(
    server: Smsgw, merchant: MerchantProcess
) -> None:
    """Menu, push cancelled by the shop, another push paid: each push keeps its own session."""
    msisdn = new_wallet(merchant)
    dial_menu(server, msisdn)
    reply(server, msisdn, "2")
    first = create(merchant, msisdn, "ussd_push", 100)
    prompt = next_screen(server, msisdn, ussd_cursor(server, msisdn) - 1)
    assert merchant.api("POST", f"/orders/{first['id']}/cancel")[0] == 200
    assert next_screen(server, msisdn, prompt["cursor"])["state"] == "closed"
    cursor = ussd_cursor(server, msisdn)
    second = create(merchant, msisdn, "ussd_push", 200)
    again = next_screen(server, msisdn, cursor)
    assert again["screen"].startswith("Pay 2.00 CNY to ShopX?") and again["session"] != prompt["session"]
    assert reply(server, msisdn, "1")["screen"].startswith("Enter PIN")
    paid = reply(server, msisdn, "2468")
    assert paid["state"] == "closed" and paid["screen"].startswith("Paid 2.00 CNY to ShopX"), paid
    assert settled(merchant, second["id"])["status"] == "paid"
    assert merchant.balance(msisdn) == 10000 - 200


# -- the merchant's own push timeout (its clock is the carrier's in smsgw serve) -------------


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``smsgw serve`` with its merchant; the carrier waits for the user far longer than the
    merchant's push_timeout (60 s), so the merchant's own timeout is what ends the push."""
    process = CarrierProcess(tmp_path, config="[network]\nussd_user_timeout = 600\n")
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def _call(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call_api(base, method, path, body=body, timeout=WAIT + 5)


def _screen_after(ports: dict[str, Any], msisdn: str, after: int) -> dict[str, Any]:
    def changed() -> dict[str, Any] | None:
        screen = _call(ports["http_url"], "GET", f"/api/handsets/{msisdn}/ussd?after={after}&wait={WAIT}")
        return screen if screen["cursor"] > after and screen["state"] != "waiting_app" else None

    result: dict[str, Any] = wait_until(changed, WAIT, f"a USSD screen on {msisdn}")
    return result


def test_the_merchants_push_timeout_after_a_menu_closes_the_prompt(carrier: dict[str, Any]) -> None:
    """Menu, then a push nobody answers; the clock passes the merchant's push_timeout: the order
    fails no_answer and the phone shows "Payment timed out." instead of the stale prompt."""
    http, shop = carrier["http_url"], carrier["merchant_url"]
    msisdn = f"86137{int(time.time()) % 100000:05d}{next(_numbers):03d}"
    _call(shop, "POST", "/wallets", {"msisdn": msisdn, "pin": "2468", "balance": "100.00", "language": "en"})
    menu = _call(http, "POST", f"/api/handsets/{msisdn}/ussd?wait={WAIT}", {"dial": "*126#"})
    if menu["state"] != "waiting_user":
        menu = _screen_after(carrier, msisdn, menu["cursor"] - 1)
    _call(http, "POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "2"})
    balance = _screen_after(carrier, msisdn, menu["cursor"])
    assert (balance["state"], balance["screen"]) == ("closed", "Balance: 100.00 CNY"), balance
    order = _call(
        shop, "POST", "/orders", {"msisdn": msisdn, "amount": 100, "currency": "CNY", "method": "ussd_push"}
    )
    prompt = _screen_after(carrier, msisdn, balance["cursor"])
    assert prompt["screen"].startswith("Pay 1.00 CNY to ShopX?") and prompt["state"] == "waiting_user"
    _call(http, "POST", "/api/clock", {"advance_seconds": 61})
    screen = _screen_after(carrier, msisdn, prompt["cursor"])
    assert (screen["state"], screen["screen"]) == ("closed", "Payment timed out."), screen
    assert screen["session"] == prompt["session"]

    def ended() -> dict[str, Any] | None:
        now: dict[str, Any] = _call(shop, "GET", f"/orders/{order['id']}")
        return now if now["status"] != "awaiting_confirmation" else None

    final = wait_until(ended, WAIT, f"order {order['id']} to end")
    assert (final["status"], final["reason"]) == ("failed", "no_answer")
