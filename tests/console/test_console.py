"""The console as a developer uses it, in headless Chromium: pay by USSD on a phone, watch an
SMS arrive live, read a message's PDU, drop a session, add a fault and move the clock."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from simulators.http import call_api
from smsgw.client import SmppClient
from tests.console.conftest import Console

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.e2e

BUYER = "8613800000003"  # a demo handset with a demo wallet: 100.00 CNY, PIN 3456
READER = "8613800000001"


def screen_of(console: Console, msisdn: str) -> Any:
    return console.phone(msisdn).locator("[data-testid=screen]")


def test_pay_through_the_menu_and_see_the_receipt_and_the_order_live(console: Console) -> None:
    page = console.open("phones")
    phone = console.phone(BUYER)
    phone.click()
    page.keyboard.type("*126#")
    page.keyboard.press("Enter")
    ussd = phone.locator("[data-testid=ussd-text]")
    expect(ussd).to_contain_text("1 Pay merchant")
    menu = {
        "1": "Enter merchant number",
        "10086": "Enter amount",
        "12.50": "Enter PIN",
        "3456": "Pay 12.50 CNY to ShopX",
    }
    for typed, shown in menu.items():
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        expect(ussd).to_contain_text(shown)
    console.screenshot("phones-ussd")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(ussd).to_contain_text("Paid 12.50 CNY to ShopX")
    assert "ended" in screen_of(console, BUYER).text_content()
    phone.locator("[data-testid=soft-left]").click()  # OK: back to the inbox
    # The shop's confirmation SMS lands in the inbox without a reload.
    receipt = phone.locator("[data-testid=inbox-item]", has_text="Paid 12.50 CNY to ShopX")
    receipt.wait_for()
    console.screenshot("phones")
    page.click("[data-tab=merchant]")
    row = page.locator("#orders-table tbody tr", has_text="ussd_menu")
    row.locator("[data-testid=order-status]", has_text="paid").wait_for()
    assert "87.50 CNY" in page.locator("#wallets-table").text_content()
    console.screenshot("merchant")
    page.click("[data-tab=traffic]")
    page.select_option("#traffic-filters [name=direction]", "USSD")
    page.click("#traffic-filters button[type=submit]")
    expect(
        page.locator("#traffic-table tbody tr[data-kind=USSD]", has_text="Paid 12.50 CNY").first
    ).to_be_visible()
    expect(
        page.locator("#traffic-table tbody tr[data-kind=USSD]", has_text="Enter PIN").first
    ).to_be_visible()


def test_an_sms_sent_over_smpp_appears_in_the_phone_without_a_reload(
    console: Console, carrier: dict[str, Any]
) -> None:
    page = console.open("phones")
    page.evaluate("window.notReloaded = true")
    client = SmppClient(carrier["smpp_host"], carrier["smpp"])
    try:
        client.bind("smsgw", "smsgw")
        client.submit("12345", READER, "你好，世界: your parcel ships today")
    finally:
        client.close()
    item = console.phone(READER).locator("[data-testid=inbox-item]", has_text="你好，世界")
    item.wait_for()
    assert page.evaluate("window.notReloaded") is True
    item.click()
    shown = console.phone(READER).locator("[data-testid=message-text]").text_content()
    assert shown == "你好，世界: your parcel ships today"


def test_traffic_shows_messages_and_receipts_live_and_a_detail_with_its_pdus(
    console: Console, carrier: dict[str, Any]
) -> None:
    page = console.open("traffic")
    client = SmppClient(carrier["smpp_host"], carrier["smpp"])
    try:
        client.bind("smsgw", "smsgw", receive=True)
        (message_id,) = client.submit("12345", READER, "hex me", receipt=True)
        client.wait_receipts([message_id], timeout=10)
    finally:
        client.close()
    row = page.locator(f"#traffic-table tbody tr[data-kind=MT][data-id='{message_id}']")
    expect(row).to_contain_text("DELIVRD")  # arrived live, no reload
    page.select_option("#traffic-filters [name=direction]", "receipt")
    page.click("#traffic-filters button[type=submit]")
    receipt_row = page.locator(f"#traffic-table tbody tr[data-kind=receipt][data-id='{message_id}']")
    expect(receipt_row).to_contain_text(f"receipt DELIVRD of {message_id}")
    expect(page.locator("#traffic-table tbody tr[data-kind=MT]")).to_have_count(0)
    receipt_row.click()
    detail = page.locator("#message-detail")
    detail.locator("h3", has_text=f"Message {message_id} (MT)").wait_for()
    expect(detail.locator("[data-testid=pdu-hex]")).to_have_count(2)
    submit_hex, receipt_hex = (h.text_content() for h in detail.locator("[data-testid=pdu-hex]").all())

    def raw(dump: str) -> bytes:
        return bytes.fromhex("".join(line[6:] for line in dump.splitlines()).replace(" ", ""))

    assert raw(submit_hex)[4:8] == bytes.fromhex("00000004") and b"hex me" in raw(submit_hex)  # submit_sm
    assert raw(receipt_hex)[4:8] == bytes.fromhex("00000005")  # deliver_sm
    assert f"id:{message_id} ".encode() in raw(receipt_hex) and b"stat:DELIVRD" in raw(receipt_hex)
    console.screenshot("traffic")


def test_sessions_faults_and_the_clock(console: Console, carrier: dict[str, Any]) -> None:
    client = SmppClient(carrier["smpp_host"], carrier["smpp"])
    client.bind("smsgw", "smsgw", receive=True)
    page = console.open("sessions")
    row = page.locator("#sessions-table tbody tr", has_text="smsgw")
    row.wait_for()
    assert page.locator("#sessions-table tbody tr", has_text="merchant").count() == 1
    row.locator("button", has_text="Drop").click()
    row.wait_for(state="detached")
    client.close()

    page.click("[data-tab=faults]")
    form = page.locator("#add-fault")
    form.locator("[name=name]").fill("console-busy")
    form.locator("[name=effect]").select_option("refuse_submit")
    form.locator("[name=msisdn]").fill("86139*")
    form.locator("[name=more]").fill('{"status": "ESME_RSYSERR"}')
    form.locator("button[type=submit]").click()
    added = page.locator("#faults-table tbody tr[data-name=console-busy]")
    added.wait_for()
    assert "ESME_RSYSERR" in added.text_content()
    before = page.locator("#clock-detail").text_content()
    page.click("[data-advance='3600']")
    expect(page.locator("#clock-detail")).not_to_have_text(before)
    expect(page.locator("#clock-detail")).to_contain_text("s ahead of the wall clock")
    console.screenshot("faults")
    added.locator("button", has_text="Remove").click()
    added.wait_for(state="detached")


def test_text_the_shop_and_pay_a_code_on_the_merchant_tab(console: Console) -> None:
    page = console.open("phones")
    texter = "8613800000002"  # demo wallet 100.00 CNY; this buyer reads Chinese
    phone = console.phone(texter)
    phone.locator("[data-testid=soft-left]").click()  # Write
    page.keyboard.type("10086")  # the To field has the focus at once
    phone.locator("[data-testid=compose-text]").click()
    page.keyboard.type("HELP")
    page.keyboard.press("Enter")  # sends
    phone.locator(
        "[data-testid=inbox-item]", has_text="10086: ShopX 支付：回复短信中的验证码即可付款"
    ).wait_for()

    page.click("[data-tab=merchant]")
    page.select_option("#checkout [name=msisdn]", texter)
    page.fill("#checkout [name=amount]", "9.90")
    page.click("#checkout button[type=submit]")
    expect(page.locator("#checkout-result")).to_contain_text("awaiting_confirmation")
    page.click("[data-tab=phones]")
    sms = phone.locator("[data-testid=inbox-item]", has_text="验证码是")
    sms.wait_for()
    code = re.search(r"验证码是 (\d+)", sms.text_content())[1]  # type: ignore[index]
    page.click("[data-tab=merchant]")
    order = page.locator("#orders-table tbody tr", has_text="9.90 CNY")
    order.locator("[data-testid=order-code]").fill(code)
    order.locator("button", has_text="Confirm").click()
    expect(order.locator("[data-testid=order-status]")).to_have_text("paid")


def test_ending_a_dial_before_its_first_screen_cancels_the_dialogue(
    console: Console, carrier: dict[str, Any]
) -> None:
    page = console.open("phones")
    msisdn = "8613800000004"
    console.phone(msisdn).click()
    page.keyboard.type("*126#")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(console.phone(msisdn).locator("[data-testid=screen]")).to_contain_text("Messages")
    url = f"{carrier['http_url']}/api/handsets/{msisdn}/ussd"
    deadline = time.monotonic() + 10
    while (state := call_api(url, "GET", "", timeout=5)["state"]) != "closed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state == "closed"


def test_a_narrow_window_still_fits(console: Console) -> None:
    console.page.set_viewport_size({"width": 390, "height": 800})
    page = console.open("phones")
    console.phone(READER).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.screenshot("narrow")
    for tab in ("traffic", "sessions", "merchant", "faults"):
        page.click(f"[data-tab={tab}]")
        page.wait_for_timeout(200)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, tab


def test_an_orders_timeline_from_its_row_with_each_pdu_and_new_steps_live(console: Console) -> None:
    """Check out by code on the Merchant tab, open the order's timeline from its row: the
    order, the code's submit_sm (decoded, with its bytes) and the SMS reaching the phone are
    there in order; paying the code adds the payment's steps without a reload."""
    # A buyer in a namespace, as a test makes one: its steps are recorded.
    buyer = call_api(console.url, "POST", "/api/handsets", body={"namespace": "console-tl"}, timeout=5)[
        "msisdn"
    ]
    wallet = {"msisdn": buyer, "pin": "1234", "balance": "50.00"}
    call_api(console.url, "POST", "/merchant/wallets", body=wallet, timeout=5)
    page = console.open("merchant")
    page.select_option("#checkout [name=msisdn]", buyer)
    page.fill("#checkout [name=amount]", "4.20")
    page.click("#checkout button[type=submit]")
    expect(page.locator("#checkout-result")).to_contain_text("awaiting_confirmation")
    order = page.locator("#orders-table tbody tr", has_text="4.20 CNY")
    order_id = order.get_attribute("data-id")
    order.locator("[data-testid=order-timeline]").click()
    expect(page.locator("#view-timeline")).to_be_visible()
    assert page.url.endswith(f"#timeline?order={order_id}")
    steps = page.locator("[data-testid=timeline-step]")
    submit = steps.filter(has=page.locator("td", has_text=re.compile(r"^smpp\.submit_sm$")))
    expect(submit.first).to_be_visible()
    expect(steps.filter(has_text="DELIVRD").first).to_be_visible()
    kinds = steps.evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds.index("smpp.submit_sm") < kinds.index("message.state"), kinds
    submit.first.click()
    expect(page.locator("[data-testid=step-pdu]")).to_contain_text("submit_sm")
    expect(page.locator("[data-testid=step-hex]")).to_contain_text("0000")
    # Pay with the code the phone got: the order's new steps come in while the tab is open.
    inbox = call_api(console.url, "GET", f"/api/handsets/{buyer}/inbox?limit=1000", timeout=5)["messages"]
    code = re.search(r"(\d{6})", inbox[-1]["text"])[1]  # type: ignore[index]
    call_api(console.url, "POST", f"/merchant/orders/{order_id}/confirm", body={"code": code}, timeout=5)
    expect(steps.filter(has_text="paid").first).to_be_visible()
    console.screenshot("timeline")
