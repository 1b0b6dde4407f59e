"""The mock merchant's unhappy paths, end to end: a real ``smsgw serve``, the merchant runner
bound over SMPP, the shop's HTTP API and the handsets' API.

Every test opens its own wallet (POST /wallets) for a fresh MSISDN (the carrier's auto
provisioning makes any number a handset that is on), so no test depends on another's PIN
tries, balance or dialogue. Each test checks the order's final status and reason, the
wallet's balance and what the phone displayed.

Not covered: an expired OTP. The code lives ``OtpPolicy.ttl`` = 300 s and neither
``simulators/merchant/runner.py`` nor ``MerchantConfig`` as built by the runner offers a way
to shorten it, so expiry cannot be reached end to end within the time budget.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import DEFAULT_ACCOUNT_TOML, SHORT_CODE, Smsgw, wait_until
from tests.e2e.test_merchant import (
    WAIT,
    MerchantProcess,
    code_of,
    inbox_cursor,
    next_screen,
    next_sms,
    reply,
    ussd_cursor,
)

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def merchant(server: Smsgw, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MerchantProcess]:
    process = MerchantProcess(tmp_path_factory.mktemp("merchant-unhappy"), server)
    yield process
    process.stop()


def new_wallet(merchant: MerchantProcess, balance: Any = "100.00", pin: str = "2468") -> str:
    """Open an English CNY wallet for a number no other test uses; return the MSISDN."""
    msisdn = f"86139{int(time.time()) % 100000:05d}{next(_numbers):03d}"
    status, wallet = merchant.api(
        "POST",
        "/wallets",
        {"msisdn": msisdn, "pin": pin, "balance": balance, "currency": "CNY", "language": "en"},
    )
    assert status == 201, wallet
    return msisdn


def create(merchant: MerchantProcess, msisdn: str, method: str, amount: Any) -> dict[str, Any]:
    status, created = merchant.api(
        "POST", "/orders", {"msisdn": msisdn, "amount": amount, "currency": "CNY", "method": method}
    )
    assert status == 201, created
    return created


def settled(merchant: MerchantProcess, order_id: str, timeout: float = WAIT) -> dict[str, Any]:
    """The order once it no longer waits for the buyer."""

    def final() -> dict[str, Any] | None:
        now = merchant.get(f"/orders/{order_id}")
        return None if now["status"] in ("pending", "awaiting_confirmation") else now

    return wait_until(final, timeout, f"order {order_id} to settle")


def dial_menu(server: Smsgw, msisdn: str) -> dict[str, Any]:
    """Dial *126# and return the main menu screen."""
    status, dialled = server.api("POST", f"/api/handsets/{msisdn}/ussd?wait={WAIT}", {"dial": "*126#"})
    assert status in (200, 201), dialled
    menu = dialled
    if menu["state"] != "waiting_user":
        menu = next_screen(server, msisdn, dialled["cursor"] - 1)
    assert menu["screen"].startswith("1 Pay merchant"), menu
    return menu


def menu_to_pin(server: Smsgw, msisdn: str, amount: str) -> dict[str, Any]:
    dial_menu(server, msisdn)
    assert reply(server, msisdn, "1")["screen"].startswith("Enter merchant number")
    assert reply(server, msisdn, "10086")["screen"].startswith("Enter amount (CNY)")
    pin = reply(server, msisdn, amount)
    assert pin["screen"].startswith("Enter PIN"), pin
    return pin


def menu_orders(merchant: MerchantProcess, msisdn: str) -> list[dict[str, Any]]:
    return [o for o in merchant.get("/orders")["orders"] if o["msisdn"] == msisdn]


# -- OTP by SMS ----------------------------------------------------------------------------


def test_otp_code_reused_after_payment(server: Smsgw, merchant: MerchantProcess) -> None:
    """Confirming the same code again: 422 code_reused, the order stays paid, one debit."""
    msisdn = new_wallet(merchant)
    cursor = inbox_cursor(server, msisdn)
    created = create(merchant, msisdn, "otp", "25.00")
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    code = code_of(sms)
    status, paid = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code})
    assert status == 200 and (paid["status"], paid["reason"]) == ("paid", "confirmed"), paid
    status, again = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code})
    assert status == 422, again
    assert again["error"]["code"] == "code_reused"
    assert again["error"]["order"]["status"] == "paid"
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("paid", "confirmed")
    wallet = merchant.get(f"/wallets/{msisdn}")
    assert wallet["balance"] == 10000 - 2500 and len(wallet["payments"]) == 1
    receipt = next_sms(server, msisdn, sms["cursor"], "Paid 25.00 CNY")
    assert final["reference"] in receipt["text"]
    # Exactly one receipt reached the phone.
    later = server.get(f"/api/handsets/{msisdn}/inbox?after={receipt['cursor']}&wait=1&from={SHORT_CODE}")
    assert later["messages"] == []


def test_otp_code_reused_by_sms(server: Smsgw, merchant: MerchantProcess) -> None:
    """Texting the code again after paying: no second debit, and the phone is told why."""
    msisdn = new_wallet(merchant)
    cursor = inbox_cursor(server, msisdn)
    created = create(merchant, msisdn, "otp", 700)
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    code = code_of(sms)
    status, paid = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code})
    assert status == 200, paid
    receipt = next_sms(server, msisdn, sms["cursor"], "Paid 7.00 CNY")
    status, _ = server.api("POST", f"/api/handsets/{msisdn}/sms", {"to": SHORT_CODE, "text": code})
    assert status == 201
    answer = next_sms(server, msisdn, receipt["cursor"], ".")
    assert answer["text"] == "You have no payment waiting for a code."
    assert merchant.balance(msisdn) == 10000 - 700
    assert merchant.get(f"/orders/{created['id']}")["status"] == "paid"


def test_otp_code_expired(server: Smsgw, tmp_path_factory: pytest.TempPathFactory) -> None:
    """With codes valid for 1 s, a code typed too late gets code_expired; the order ends expired and nothing is taken."""
    quick = MerchantProcess(tmp_path_factory.mktemp("merchant-expiry"), server, "--otp-ttl", "1")
    try:
        msisdn = new_wallet(quick)
        cursor = inbox_cursor(server, msisdn)
        created = create(quick, msisdn, "otp", "5.00")
        code = code_of(next_sms(server, msisdn, cursor, r"code is \d+"))
        deadline = time.monotonic() + 10
        while quick.get(f"/orders/{created['id']}")["status"] != "expired":
            assert time.monotonic() < deadline, "the order did not expire"
            time.sleep(0.1)
        status, answer = quick.api("POST", f"/orders/{created['id']}/confirm", {"code": code})
        assert status in (409, 422) and answer["error"]["code"] in ("code_expired", "order_closed"), answer
        order = quick.get(f"/orders/{created['id']}")
        assert (order["status"], order["reason"]) == ("expired", "code_expired")
        assert quick.get(f"/wallets/{msisdn}")["balance"] == 10000
    finally:
        quick.stop()


def test_otp_insufficient_balance(server: Smsgw, merchant: MerchantProcess) -> None:
    """A 1.00 CNY wallet paying 25.00: failed insufficient_balance, SMS says so, nothing taken."""
    msisdn = new_wallet(merchant, balance="1.00")
    cursor = inbox_cursor(server, msisdn)
    created = create(merchant, msisdn, "otp", "25.00")
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    status, answer = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code_of(sms)})
    assert status == 422, answer
    assert answer["error"]["code"] == "insufficient_balance"
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("failed", "insufficient_balance")
    assert final["reference"] is None
    assert merchant.balance(msisdn) == 100
    told = next_sms(server, msisdn, sms["cursor"], "insufficient")
    assert told["text"] == "Payment of 25.00 CNY to ShopX failed: insufficient balance (1.00 CNY)."


def test_otp_insufficient_then_top_up_and_pay_again(server: Smsgw, merchant: MerchantProcess) -> None:
    """After a top-up a new order goes through; the failed one stays failed."""
    msisdn = new_wallet(merchant, balance="1.00")
    cursor = inbox_cursor(server, msisdn)
    first = create(merchant, msisdn, "otp", "25.00")
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    status, _ = merchant.api("POST", f"/orders/{first['id']}/confirm", {"code": code_of(sms)})
    assert status == 422
    status, topped = merchant.api("POST", f"/wallets/{msisdn}/topup", {"amount": "30.00"})
    assert status == 200 and topped["balance"] == 3100, topped
    second = create(merchant, msisdn, "otp", "25.00")
    sms2 = next_sms(server, msisdn, sms["cursor"], r"code is \d+")
    status, paid = merchant.api("POST", f"/orders/{second['id']}/confirm", {"code": code_of(sms2)})
    assert status == 200 and paid["status"] == "paid", paid
    assert merchant.get(f"/orders/{first['id']}")["status"] == "failed"
    assert merchant.balance(msisdn) == 600
    next_sms(server, msisdn, sms2["cursor"], "Paid 25.00 CNY.*Balance 6.00 CNY")


def test_otp_buyer_texts_stop(server: Smsgw, merchant: MerchantProcess) -> None:
    """STOP cancels the waiting order (cancelled_by_user); the code no longer pays."""
    msisdn = new_wallet(merchant)
    cursor = inbox_cursor(server, msisdn)
    created = create(merchant, msisdn, "otp", 900)
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    status, _ = server.api("POST", f"/api/handsets/{msisdn}/sms", {"to": SHORT_CODE, "text": "STOP"})
    assert status == 201
    told = next_sms(server, msisdn, sms["cursor"], "cancelled")
    assert told["text"] == "Your pending payments to ShopX are cancelled. You have not been charged."
    final = settled(merchant, created["id"])
    assert (final["status"], final["reason"]) == ("cancelled", "cancelled_by_user")
    status, late = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code_of(sms)})
    assert status == 422 and late["error"]["order"]["status"] == "cancelled", late
    assert merchant.balance(msisdn) == 10000


# -- USSD push -----------------------------------------------------------------------------


def test_push_wrong_pin_then_right_pin(server: Smsgw, merchant: MerchantProcess) -> None:
    """One wrong PIN shows the tries left; the right one pays and resets the tries."""
    msisdn = new_wallet(merchant)
    ussd = ussd_cursor(server, msisdn)
    created = create(merchant, msisdn, "ussd_push", 800)
    next_screen(server, msisdn, ussd)
    assert reply(server, msisdn, "1")["screen"].startswith("Enter PIN")
    wrong = reply(server, msisdn, "0000")
    assert wrong["state"] == "waiting_user" and wrong["expects_reply"]
    assert wrong["screen"] == "Wrong PIN. Tries left: 2.\nEnter PIN:"
    assert merchant.get(f"/wallets/{msisdn}")["pin_tries_left"] == 2
    done = reply(server, msisdn, "2468")
    assert done["state"] == "closed" and done["screen"].startswith("Paid 8.00 CNY to ShopX"), done
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("paid", "confirmed")
    wallet = merchant.get(f"/wallets/{msisdn}")
    assert wallet["balance"] == 10000 - 800 and wallet["pin_tries_left"] == 3 and not wallet["locked"]


def test_push_three_wrong_pins_lock_the_wallet(server: Smsgw, merchant: MerchantProcess) -> None:
    """Three wrong PINs: failed wrong_pin, wallet locked, the screen says so; a new push fails at once."""
    msisdn = new_wallet(merchant)
    ussd = ussd_cursor(server, msisdn)
    created = create(merchant, msisdn, "ussd_push", 800)
    next_screen(server, msisdn, ussd)
    reply(server, msisdn, "1")
    assert reply(server, msisdn, "0000")["screen"].startswith("Wrong PIN. Tries left: 2.")
    assert reply(server, msisdn, "1111")["screen"].startswith("Wrong PIN. Tries left: 1.")
    done = reply(server, msisdn, "9999")
    assert done["state"] == "closed" and done["screen"] == "Wrong PIN. Your wallet is locked.", done
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("failed", "wrong_pin")
    wallet = merchant.get(f"/wallets/{msisdn}")
    assert wallet["locked"] and wallet["balance"] == 10000 and wallet["payments"] == []
    again = create(merchant, msisdn, "ussd_push", 100)
    assert (again["status"], again["reason"]) == ("failed", "wallet_locked")


def test_push_to_a_phone_in_another_dialogue_is_busy(server: Smsgw, merchant: MerchantProcess) -> None:
    """The buyer is in the *126# menu: the push is refused, failed handset_busy, menu untouched."""
    msisdn = new_wallet(merchant)
    menu = dial_menu(server, msisdn)
    try:
        created = create(merchant, msisdn, "ussd_push", 500)
        final = settled(merchant, created["id"])
        assert (final["status"], final["reason"]) == ("failed", "handset_busy")
        screen = server.get(f"/api/handsets/{msisdn}/ussd")
        assert screen["session"] == menu["session"] and screen["origin"] == "mobile"
        assert screen["state"] == "waiting_user" and screen["screen"].startswith("1 Pay merchant")
        assert merchant.balance(msisdn) == 10000
    finally:
        server.api("DELETE", f"/api/handsets/{msisdn}/ussd")


def test_push_to_a_phone_that_is_off(server: Smsgw, merchant: MerchantProcess) -> None:
    """Phone off: failed handset_unreachable, nothing on the phone, nothing taken."""
    msisdn = new_wallet(merchant)
    server.set_phone(msisdn, "off")
    try:
        created = create(merchant, msisdn, "ussd_push", 500)
        final = settled(merchant, created["id"])
        assert (final["status"], final["reason"]) == ("failed", "handset_unreachable")
        assert server.get(f"/api/handsets/{msisdn}/ussd")["state"] == "idle"
        assert merchant.balance(msisdn) == 10000
    finally:
        server.set_phone(msisdn, "on")


def test_push_not_answered(
    start_server: Callable[..., Smsgw], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The buyer ignores the prompt; the carrier times the dialogue out: failed no_answer."""
    carrier = start_server("[network]\nussd_user_timeout = 1\nussd_app_timeout = 2\n")
    shop = MerchantProcess(tmp_path_factory.mktemp("merchant-timeout"), carrier)
    try:
        msisdn = new_wallet(shop)
        ussd = ussd_cursor(carrier, msisdn)
        created = create(shop, msisdn, "ussd_push", 500)
        prompt = next_screen(carrier, msisdn, ussd)
        assert prompt["screen"].startswith("Pay 5.00 CNY to ShopX?")
        final = settled(shop, created["id"], timeout=WAIT)
        assert (final["status"], final["reason"]) == ("failed", "no_answer")
        screen = carrier.get(f"/api/handsets/{msisdn}/ussd")
        assert screen["state"] == "closed" and screen["end_code"] == "user_timeout", screen
        assert shop.balance(msisdn) == 10000
    finally:
        shop.stop()


def test_merchant_behind_a_tata_style_gateway(
    start_server: Callable[..., Smsgw], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With the EOS-bit dialect and data_coding 0x0F, the menu still reads, and a hang-up (op 18
    with EOS, no text) ends the push order instead of being taken for an empty answer."""
    dialect = 'ussd_network_end = "eos"\nussd_data_coding = "cbs"\n'
    carrier = start_server(DEFAULT_ACCOUNT_TOML + dialect)
    shop = MerchantProcess(tmp_path_factory.mktemp("merchant-tata"), carrier)
    try:
        msisdn = new_wallet(shop)
        dial_menu(carrier, msisdn)
        assert reply(carrier, msisdn, "2")["screen"] == "Balance: 100.00 CNY"
        ussd = ussd_cursor(carrier, msisdn)
        created = create(shop, msisdn, "ussd_push", 300)
        next_screen(carrier, msisdn, ussd)
        carrier.api("DELETE", f"/api/handsets/{msisdn}/ussd")
        final = settled(shop, created["id"])
        assert (final["status"], final["reason"]) == ("failed", "no_answer")  # Tata cannot say "cancel"
        assert shop.balance(msisdn) == 10000
    finally:
        shop.stop()


# -- the *126# menu ------------------------------------------------------------------------


def test_menu_insufficient_balance(server: Smsgw, merchant: MerchantProcess) -> None:
    """Paying 25.00 from 1.00: the end screen says so, the menu order failed, nothing paid."""
    msisdn = new_wallet(merchant, balance="1.00")
    inbox = inbox_cursor(server, msisdn)
    menu_to_pin(server, msisdn, "25.00")
    assert reply(server, msisdn, "2468")["screen"].startswith("Pay 25.00 CNY to ShopX (10086)?")
    done = reply(server, msisdn, "1")
    assert done["state"] == "closed"
    assert done["screen"] == "Insufficient balance (1.00 CNY). Payment failed."
    (order,) = menu_orders(merchant, msisdn)
    assert (order["method"], order["status"], order["reason"]) == (
        "ussd_menu",
        "failed",
        "insufficient_balance",
    )
    assert merchant.balance(msisdn) == 100
    next_sms(server, msisdn, inbox, "insufficient balance")


def test_menu_wrong_pin(server: Smsgw, merchant: MerchantProcess) -> None:
    """A wrong PIN in the menu asks again; three lock the wallet and end the dialogue."""
    msisdn = new_wallet(merchant)
    menu_to_pin(server, msisdn, "3.00")
    wrong = reply(server, msisdn, "0001")
    assert wrong["state"] == "waiting_user" and wrong["screen"] == "Wrong PIN. Tries left: 2.\nEnter PIN:"
    assert reply(server, msisdn, "0002")["screen"].startswith("Wrong PIN. Tries left: 1.")
    done = reply(server, msisdn, "0003")
    assert done["state"] == "closed" and done["screen"] == "Wrong PIN. Your wallet is locked."
    wallet = merchant.get(f"/wallets/{msisdn}")
    assert wallet["locked"] and wallet["balance"] == 10000
    assert menu_orders(merchant, msisdn) == []


def test_menu_wrong_pin_then_right_pin_pays(server: Smsgw, merchant: MerchantProcess) -> None:
    msisdn = new_wallet(merchant)
    menu_to_pin(server, msisdn, "3.00")
    assert reply(server, msisdn, "0001")["screen"].startswith("Wrong PIN. Tries left: 2.")
    assert reply(server, msisdn, "2468")["screen"].startswith("Pay 3.00 CNY to ShopX (10086)?")
    done = reply(server, msisdn, "1")
    assert done["state"] == "closed" and done["screen"].startswith("Paid 3.00 CNY to ShopX")
    (order,) = menu_orders(merchant, msisdn)
    assert (order["status"], order["reason"]) == ("paid", "confirmed")
    wallet = merchant.get(f"/wallets/{msisdn}")
    assert wallet["balance"] == 10000 - 300 and wallet["pin_tries_left"] == 3


def test_menu_cancelled_by_the_user_mid_flow(server: Smsgw, merchant: MerchantProcess) -> None:
    """The buyer hangs up on the confirmation screen: nothing paid, the phone is free again."""
    msisdn = new_wallet(merchant)
    menu_to_pin(server, msisdn, "4.00")
    confirm = reply(server, msisdn, "2468")
    assert confirm["screen"].startswith("Pay 4.00 CNY to ShopX (10086)?")
    status, cancelled = server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert status == 200, cancelled
    assert cancelled["state"] == "closed" and cancelled["end_code"] == "user_cancelled", cancelled
    time.sleep(0.3)  # let a (wrong) late screen or payment show up if there were one
    assert merchant.balance(msisdn) == 10000
    assert menu_orders(merchant, msisdn) == []
    # A new dialogue starts from the main menu, not from the abandoned confirmation.
    dial_menu(server, msisdn)
    assert reply(server, msisdn, "1")["screen"].startswith("Enter merchant number")
    server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert merchant.balance(msisdn) == 10000


def test_menu_timed_out_on_the_confirmation(
    start_server: Callable[..., Smsgw], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The buyer walks away from "Pay …?": the carrier ends the dialogue; nothing is paid, and
    the next *126# starts over from the main menu."""
    carrier = start_server("[network]\nussd_user_timeout = 1\n")
    shop = MerchantProcess(tmp_path_factory.mktemp("merchant-menu-timeout"), carrier)
    try:
        msisdn = new_wallet(shop)
        menu_to_pin(carrier, msisdn, "6.00")
        confirm = reply(carrier, msisdn, "2468")
        assert confirm["screen"].startswith("Pay 6.00 CNY to ShopX (10086)?")
        gone = next_screen(carrier, msisdn, confirm["cursor"])
        assert (gone["state"], gone["end_code"]) == ("closed", "user_timeout"), gone
        assert shop.balance(msisdn) == 10000 and menu_orders(shop, msisdn) == []
        dial_menu(carrier, msisdn)
    finally:
        shop.stop()


def test_menu_confirmation_answer_2_cancels(server: Smsgw, merchant: MerchantProcess) -> None:
    msisdn = new_wallet(merchant)
    menu_to_pin(server, msisdn, "4.00")
    reply(server, msisdn, "2468")
    done = reply(server, msisdn, "2")
    assert done["state"] == "closed" and done["screen"] == "Payment cancelled."
    assert merchant.balance(msisdn) == 10000 and menu_orders(merchant, msisdn) == []


def test_menu_back_navigation(server: Smsgw, merchant: MerchantProcess) -> None:
    """0 goes back a step; back past the PIN asks for the PIN again; the final amount is paid."""
    msisdn = new_wallet(merchant)
    dial_menu(server, msisdn)
    assert reply(server, msisdn, "1")["screen"] == "Enter merchant number:\n0 Back"
    assert reply(server, msisdn, "0")["screen"].startswith("1 Pay merchant")
    assert reply(server, msisdn, "1")["screen"].startswith("Enter merchant number")
    assert reply(server, msisdn, "10086")["screen"] == "Enter amount (CNY):\n0 Back"
    assert reply(server, msisdn, "0")["screen"].startswith("Enter merchant number")
    assert reply(server, msisdn, "10086")["screen"].startswith("Enter amount (CNY)")
    assert reply(server, msisdn, "9.00")["screen"] == "Enter PIN:\n0 Back"
    assert reply(server, msisdn, "0")["screen"].startswith("Enter amount (CNY)")
    assert reply(server, msisdn, "2.00")["screen"].startswith("Enter PIN")
    assert reply(server, msisdn, "2468")["screen"].startswith("Pay 2.00 CNY to ShopX (10086)?")
    back = reply(server, msisdn, "0")
    assert back["screen"].startswith("Enter amount (CNY)"), back
    assert reply(server, msisdn, "1.50")["screen"].startswith("Enter PIN")
    assert reply(server, msisdn, "2468")["screen"].startswith("Pay 1.50 CNY to ShopX (10086)?")
    done = reply(server, msisdn, "1")
    assert done["state"] == "closed" and done["screen"].startswith("Paid 1.50 CNY to ShopX")
    assert merchant.balance(msisdn) == 10000 - 150
    (order,) = menu_orders(merchant, msisdn)
    assert (order["amount"], order["status"]) == (150, "paid")


def test_menu_back_from_main_says_goodbye(server: Smsgw, merchant: MerchantProcess) -> None:
    msisdn = new_wallet(merchant)
    dial_menu(server, msisdn)
    done = reply(server, msisdn, "0")
    assert done["state"] == "closed" and done["screen"] == "Goodbye."
    assert merchant.balance(msisdn) == 10000 and menu_orders(merchant, msisdn) == []


# -- more push paths -----------------------------------------------------------------------


def test_push_cancelled_by_the_user_hanging_up(server: Smsgw, merchant: MerchantProcess) -> None:
    """The buyer presses cancel on the pushed PIN prompt (DELETE …/ussd): nothing is paid and
    the order ends as cancelled by the user (the core's ``ussd_push_failed`` documents
    ``cancelled_by_user`` for exactly this), not as a timeout."""
    msisdn = new_wallet(merchant)
    ussd = ussd_cursor(server, msisdn)
    created = create(merchant, msisdn, "ussd_push", 600)
    next_screen(server, msisdn, ussd)
    assert reply(server, msisdn, "1")["screen"].startswith("Enter PIN")
    status, cancelled = server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert status == 200 and cancelled["end_code"] == "user_cancelled", cancelled
    final = settled(merchant, created["id"])
    assert merchant.balance(msisdn) == 10000
    assert (final["status"], final["reason"]) == ("cancelled", "cancelled_by_user")


def test_push_cancelled_by_the_shop_mid_dialogue(server: Smsgw, merchant: MerchantProcess) -> None:
    """The shop cancels while the PIN prompt is up: the phone shows "Payment cancelled."."""
    msisdn = new_wallet(merchant)
    ussd = ussd_cursor(server, msisdn)
    created = create(merchant, msisdn, "ussd_push", 600)
    next_screen(server, msisdn, ussd)
    pin = reply(server, msisdn, "1")
    status, cancelled = merchant.api("POST", f"/orders/{created['id']}/cancel")
    assert status == 200 and (cancelled["status"], cancelled["reason"]) == (
        "cancelled",
        "cancelled_by_merchant",
    )
    assert merchant.balance(msisdn) == 10000
    screen = server.get(f"/api/handsets/{msisdn}/ussd?after={pin['cursor']}&wait=2")
    try:
        # The phone must not be left on a PIN prompt for an order that no longer exists.
        assert (screen["state"], screen["screen"]) == ("closed", "Payment cancelled."), screen
    finally:
        server.api("DELETE", f"/api/handsets/{msisdn}/ussd")


def test_push_invalid_choice_repeats_the_prompt(server: Smsgw, merchant: MerchantProcess) -> None:
    msisdn = new_wallet(merchant)
    ussd = ussd_cursor(server, msisdn)
    created = create(merchant, msisdn, "ussd_push", 600)
    next_screen(server, msisdn, ussd)
    again = reply(server, msisdn, "7")
    assert (
        again["expects_reply"]
        and again["screen"] == "Answer 1 or 2.\nPay 6.00 CNY to ShopX?\n1 Confirm\n2 Cancel"
    )
    done = reply(server, msisdn, "2")
    assert done["state"] == "closed" and done["screen"] == "Payment cancelled."
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("cancelled", "cancelled_by_user")
    assert merchant.balance(msisdn) == 10000


def test_push_to_a_busy_phone(server: Smsgw, merchant: MerchantProcess) -> None:
    """A phone set to ``busy`` (docs/api.md: "busy matters for USSD"): the push fails handset_busy."""
    msisdn = new_wallet(merchant)
    server.set_phone(msisdn, "busy")
    try:
        created = create(merchant, msisdn, "ussd_push", 500)
        time.sleep(0.5)
        final = merchant.get(f"/orders/{created['id']}")
        screen = server.get(f"/api/handsets/{msisdn}/ussd")
        assert merchant.balance(msisdn) == 10000
        assert screen["state"] == "idle", f"a busy phone got the push: {screen}"
        assert (final["status"], final["reason"]) == ("failed", "handset_busy"), final
    finally:
        server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
        server.set_phone(msisdn, "on")


def test_menu_unknown_till_and_bad_amount(server: Smsgw, merchant: MerchantProcess) -> None:
    msisdn = new_wallet(merchant)
    dial_menu(server, msisdn)
    reply(server, msisdn, "1")
    assert (
        reply(server, msisdn, "99999")["screen"] == "Unknown merchant number.\nEnter merchant number:\n0 Back"
    )
    reply(server, msisdn, "10086")
    assert reply(server, msisdn, "abc")["screen"] == "Invalid amount.\nEnter amount (CNY):\n0 Back"
    assert reply(server, msisdn, "0.001")["screen"].startswith("Invalid amount.")
    server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert merchant.balance(msisdn) == 10000 and menu_orders(merchant, msisdn) == []
