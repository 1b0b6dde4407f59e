"""The mock merchant against a real smsgw: payments by SMS code, USSD push and the *126# menu.

One ``smsgw serve`` and one ``python -m simulators.merchant.runner`` (bound as the built-in
account ``smsgw``, short code 12345) serve the module. Every test uses its own demo buyer
where it can and checks balances by difference, so the tests do not depend on their order.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import stop_process
from simulators.handset import Phone
from simulators.http import SmsgwError, call_api
from tests.e2e.conftest import READ_TIMEOUT, SHORT_CODE, START_TIMEOUT, Smsgw, wait_until

WAIT = 5


class MerchantProcess:
    """The merchant runner as a subprocess on a free port."""

    def __init__(self, workdir: Path, carrier: Smsgw, *options: str) -> None:
        self.workdir = workdir
        self.ports_file = workdir / "merchant-ports.json"
        host, port = carrier.smpp_address
        self.stderr_path = workdir / "merchant-stderr.txt"
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(workdir / "merchant-stdout.txt", "wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "simulators.merchant.runner",
                "--carrier", f"{host}:{port}", "--system-id", "smsgw", "--password", "smsgw",
                "--http-port", "0", "--seed", "7", "--ports-file", str(self.ports_file),
                "--store", str(workdir / "merchant.db"), *options,
            ],
            stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ports_file.exists():
            if self.process.poll() is not None or time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"the merchant did not start:\n{self.stderr_path.read_text()}")
            time.sleep(0.02)
        self.url = json.loads(self.ports_file.read_text())["http_url"]
        wait_until(lambda: self.get("/health")["bound"], START_TIMEOUT, "the merchant's bind")

    def stop(self) -> None:
        stop_process(self.process)
        self._stderr.close()
        self._stdout.close()

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return _call(self.url + path, method, body)

    def get(self, path: str) -> Any:
        status, payload = self.api("GET", path)
        assert status == 200, (path, status, payload)
        return payload

    def balance(self, msisdn: str) -> int:
        return int(self.get(f"/wallets/{msisdn}")["balance"])


def _call(url: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=READ_TIMEOUT + WAIT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def merchant(server: Smsgw, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MerchantProcess]:
    process = MerchantProcess(tmp_path_factory.mktemp("merchant"), server)
    yield process
    process.stop()


# -- the handset's side --------------------------------------------------------------------


def inbox_cursor(server: Smsgw, msisdn: str) -> int:
    return int(server.get(f"/api/handsets/{msisdn}/inbox")["cursor"])


def next_sms(server: Smsgw, msisdn: str, after: int, match: str) -> dict[str, Any]:
    """The next text from the short code after ``after`` whose text matches ``match``."""
    query = urllib.parse.urlencode({"after": after, "wait": WAIT, "from": SHORT_CODE, "match": match})
    messages = server.get(f"/api/handsets/{msisdn}/inbox?{query}")["messages"]
    assert messages, f"no SMS matching {match!r} reached {msisdn}"
    return messages[0]


def ussd_cursor(server: Smsgw, msisdn: str) -> int:
    return int(server.get(f"/api/handsets/{msisdn}/ussd")["cursor"])


def next_screen(server: Smsgw, msisdn: str, after: int) -> dict[str, Any]:
    """The dialogue once it changed past ``after`` and shows a screen (or ended)."""

    def changed() -> dict[str, Any] | None:
        screen = server.get(f"/api/handsets/{msisdn}/ussd?after={after}&wait={WAIT}")
        if screen["cursor"] > after and (screen["state"] in ("waiting_user", "closed")):
            return screen
        return None

    return wait_until(changed, WAIT, f"a USSD screen on {msisdn}")


def reply(server: Smsgw, msisdn: str, text: str) -> dict[str, Any]:
    """Answer the prompt and return the next screen."""
    cursor = ussd_cursor(server, msisdn)
    status, payload = server.api("POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": text})
    assert status in (200, 201, 202), (status, payload)
    return next_screen(server, msisdn, cursor)


def order(merchant: MerchantProcess, msisdn: str, method: str, amount: Any = 2500) -> dict[str, Any]:
    status, created = merchant.api(
        "POST", "/orders", {"msisdn": msisdn, "amount": amount, "currency": "CNY", "method": method}
    )
    assert status == 201, created
    assert created["status"] == "awaiting_confirmation"
    return created


def code_of(message: dict[str, Any]) -> str:
    match = re.search(r"code is (\d{4,10})", message["text"])
    assert match is not None, message
    return match.group(1)


# -- OTP by SMS ----------------------------------------------------------------------------


def test_otp_confirmed_on_the_shop_page(server: Smsgw, merchant: MerchantProcess) -> None:
    """The code reaches the phone, the shop confirms it: paid, debited, receipt SMS."""
    msisdn = "8613800000001"
    before, cursor = merchant.balance(msisdn), inbox_cursor(server, msisdn)
    created = order(merchant, msisdn, "otp", "25.00")
    assert created["amount"] == 2500 and not {"code", "otp"} & created.keys()
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    assert "ShopX" in sms["text"] and "25.00 CNY" in sms["text"]
    status, paid = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code_of(sms)})
    assert status == 200, paid
    assert (paid["status"], paid["reason"]) == ("paid", "confirmed") and paid["reference"]
    assert [h["status"] for h in paid["history"]] == ["pending", "awaiting_confirmation", "paid"]
    assert merchant.balance(msisdn) == before - 2500
    receipt = next_sms(server, msisdn, sms["cursor"], "Paid 25.00 CNY")
    assert paid["reference"] in receipt["text"]
    assert merchant.get(f"/orders/{created['id']}")["status"] == "paid"


def test_wrong_codes_then_too_many_attempts(server: Smsgw, merchant: MerchantProcess) -> None:
    """Wrong codes answer 422 wrong_code with the attempts left, until the order fails."""
    msisdn = "8613800000003"
    before, cursor = merchant.balance(msisdn), inbox_cursor(server, msisdn)
    created = order(merchant, msisdn, "otp", 1000)
    real = code_of(next_sms(server, msisdn, cursor, r"code is \d+"))
    wrong = "000000" if real != "000000" else "111111"
    answers = []
    for _ in range(10):
        status, answer = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": wrong})
        assert status == 422, answer
        answers.append(answer["error"])
        if answer["error"]["code"] != "wrong_code":
            break
    assert answers[0]["code"] == "wrong_code" and answers[0]["attempts_left"] >= 1
    assert [a["attempts_left"] for a in answers[:-1]] == sorted(
        (a["attempts_left"] for a in answers[:-1]), reverse=True
    )
    assert answers[-1]["code"] == "too_many_attempts"
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("failed", "too_many_attempts")
    # The right code is no good any more, and nothing was taken.
    status, late = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": real})
    assert status == 422 and late["error"]["order"]["status"] == "failed"
    assert merchant.balance(msisdn) == before


def test_buyer_replies_the_code_by_sms(server: Smsgw, merchant: MerchantProcess) -> None:
    """The buyer texts the code to 12345: paid, and the receipt comes back by SMS."""
    msisdn = "8613800000004"
    before, cursor = merchant.balance(msisdn), inbox_cursor(server, msisdn)
    created = order(merchant, msisdn, "otp", 1234)
    sms = next_sms(server, msisdn, cursor, r"code is \d+")
    status, sent = server.api("POST", f"/api/handsets/{msisdn}/sms", {"to": SHORT_CODE, "text": code_of(sms)})
    assert status == 201, sent
    receipt = next_sms(server, msisdn, sms["cursor"], "Paid 12.34 CNY")
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("paid", "confirmed")
    assert final["reference"] in receipt["text"]
    assert merchant.balance(msisdn) == before - 1234


# -- USSD push -----------------------------------------------------------------------------


def test_ussd_push_confirm_and_pin(server: Smsgw, merchant: MerchantProcess) -> None:
    """A pushed prompt: 1 asks for the PIN, the PIN pays."""
    msisdn = "8613800000005"
    before, ussd, inbox = merchant.balance(msisdn), ussd_cursor(server, msisdn), inbox_cursor(server, msisdn)
    created = order(merchant, msisdn, "ussd_push", 800)
    prompt = next_screen(server, msisdn, ussd)
    assert prompt["origin"] == "network" and prompt["expects_reply"]
    assert prompt["screen"] == "Pay 8.00 CNY to ShopX?\n1 Confirm\n2 Cancel"
    pin = reply(server, msisdn, "1")
    assert pin["screen"].startswith("Enter PIN") and pin["expects_reply"]
    done = reply(server, msisdn, "5678")
    assert done["state"] == "closed" and done["screen"].startswith("Paid 8.00 CNY to ShopX")
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("paid", "confirmed")
    assert final["reference"] in done["screen"]
    assert merchant.balance(msisdn) == before - 800
    next_sms(server, msisdn, inbox, "Paid 8.00 CNY")


def test_ussd_push_cancelled_by_the_buyer(server: Smsgw, merchant: MerchantProcess) -> None:
    """Answering 2 cancels: the order is cancelled and nothing is taken."""
    msisdn = "8613800000001"
    before, ussd = merchant.balance(msisdn), ussd_cursor(server, msisdn)
    created = order(merchant, msisdn, "ussd_push", 500)
    next_screen(server, msisdn, ussd)
    done = reply(server, msisdn, "2")
    assert done["state"] == "closed" and done["screen"] == "Payment cancelled."
    final = merchant.get(f"/orders/{created['id']}")
    assert (final["status"], final["reason"]) == ("cancelled", "cancelled_by_user")
    assert merchant.balance(msisdn) == before


def test_ussd_push_to_a_phone_that_is_off_fails(server: Smsgw, merchant: MerchantProcess) -> None:
    """The network refuses the push: the order fails as handset_unreachable."""
    msisdn = "8613800000003"
    server.set_phone(msisdn, "off")
    try:
        created = order(merchant, msisdn, "ussd_push", 500)

        def settled() -> dict[str, Any] | None:
            now = merchant.get(f"/orders/{created['id']}")
            return None if now["status"] == "awaiting_confirmation" else now

        final = wait_until(settled, WAIT, "the refused push")
        assert (final["status"], final["reason"]) == ("failed", "handset_unreachable")
    finally:
        server.set_phone(msisdn, "on")


# -- the *126# menu ------------------------------------------------------------------------


def test_ussd_menu_payment(server: Smsgw, merchant: MerchantProcess) -> None:
    """Dial *126#, pay the till: paid order, receipt SMS, debited wallet."""
    msisdn = "8613800000003"
    before, inbox = merchant.balance(msisdn), inbox_cursor(server, msisdn)
    status, dialled = server.api("POST", f"/api/handsets/{msisdn}/ussd?wait={WAIT}", {"dial": "*126#"})
    assert status in (200, 201), dialled
    menu = dialled
    if menu["state"] != "waiting_user":
        menu = next_screen(server, msisdn, dialled["cursor"] - 1)
    assert menu["screen"].startswith("1 Pay merchant")
    assert reply(server, msisdn, "1")["screen"].startswith("Enter merchant number")
    assert reply(server, msisdn, "10086")["screen"].startswith("Enter amount (CNY)")
    assert reply(server, msisdn, "3.50")["screen"].startswith("Enter PIN")
    confirm = reply(server, msisdn, "3456")
    assert confirm["screen"].startswith("Pay 3.50 CNY to ShopX (10086)?")
    done = reply(server, msisdn, "1")
    assert done["state"] == "closed" and done["screen"].startswith("Paid 3.50 CNY to ShopX")
    assert merchant.balance(msisdn) == before - 350
    receipt = next_sms(server, msisdn, inbox, "Paid 3.50 CNY")
    (menu_order,) = [o for o in merchant.get("/orders")["orders"] if o["method"] == "ussd_menu"]
    assert (menu_order["status"], menu_order["reason"]) == ("paid", "confirmed")
    assert menu_order["reference"] in receipt["text"]


def test_webhooks_reach_the_shop(server: Smsgw, merchant: MerchantProcess) -> None:
    """An order with a callback_url posts every status change as JSON."""
    received: list[dict[str, Any]] = []

    class Shop(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"] or 0)
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet: no access log in the test output."""

    shop = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=shop.serve_forever, daemon=True)
    thread.start()
    try:
        msisdn = "8613800000004"
        status, created = merchant.api(
            "POST",
            "/orders",
            {
                "msisdn": msisdn,
                "amount": 100,
                "currency": "CNY",
                "method": "otp",
                "callback_url": f"http://127.0.0.1:{shop.server_address[1]}/hook",
            },
        )
        assert status == 201, created
        status, cancelled = merchant.api("POST", f"/orders/{created['id']}/cancel")
        assert status == 200 and cancelled["reason"] == "cancelled_by_merchant"
        wait_until(lambda: len(received) >= 2, WAIT, "two webhooks")
        by_status = {hook["status"]: hook for hook in received}
        assert by_status["cancelled"]["order_id"] == created["id"]
        assert by_status["cancelled"]["reason"] == "cancelled_by_merchant"
        assert "awaiting_confirmation" in by_status
    finally:
        shop.shutdown()
        shop.server_close()


def test_a_refused_webhook_is_posted_again(server: Smsgw, merchant: MerchantProcess) -> None:
    """The shop answers 503 once; the same status change is posted again after a back-off."""
    attempts: list[tuple[int, dict[str, Any]]] = []

    class FlakyShop(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"] or 0)
            code = 503 if not attempts else 204
            attempts.append((code, json.loads(self.rfile.read(length))))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet: no access log in the test output."""

    shop = ThreadingHTTPServer(("127.0.0.1", 0), FlakyShop)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    try:
        status, created = merchant.api(
            "POST",
            "/orders",
            {
                "msisdn": "8613800000005",
                "amount": 100,
                "currency": "CNY",
                "method": "otp",
                "callback_url": f"http://127.0.0.1:{shop.server_address[1]}/hook",
            },
        )
        assert status == 201, created
        wait_until(lambda: len(attempts) >= 2, WAIT, "the webhook to be posted again")
        (refused, first), (accepted, again) = attempts[:2]
        assert (refused, accepted) == (503, 204)
        assert first == again and first["status"] == "awaiting_confirmation"
        merchant.api("POST", f"/orders/{created['id']}/cancel")
    finally:
        shop.shutdown()
        shop.server_close()


def test_api_errors(merchant: MerchantProcess) -> None:
    """Bad requests get smsgw's error envelope."""
    request = {"msisdn": "x", "amount": 1, "currency": "CNY", "method": "otp"}
    status, bad = merchant.api("POST", "/orders", request)
    assert status == 400 and bad["error"]["code"] == "invalid_order"
    status, missing = merchant.api("GET", "/orders/ord_9999")
    assert status == 404 and missing["error"]["code"] == "order_not_found"
    wallet = merchant.get("/wallets/8613800000002")
    assert "pin" not in wallet and wallet["language"] == "zh"


def test_serve_runs_the_merchant_by_default(tmp_path) -> None:
    """smsgw serve starts the mock merchant bound as its own ESME: *126# reaches its menu, its API
    answers, its [merchant] settings (an 8-digit code here) take effect, and it keeps the
    carrier's time: advancing the carrier's clock 301 s expires the code at once."""
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    ports_file = tmp_path / "ports.json"
    config = tmp_path / "smsgw.toml"
    config.write_text("[merchant]\notp_length = 8\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0", "--merchant-port", "0",
         "--db", str(tmp_path / "smsgw.db"), "--ports-file", str(ports_file), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not ports_file.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        ports = json.loads(ports_file.read_text())
        health = json.load(urllib.request.urlopen(ports["merchant_url"] + "/health", timeout=5))
        assert health["status"] == "ok"
        dial = urllib.request.Request(
            ports["http_url"] + "/api/handsets/8613800000001/ussd?wait=10",
            data=json.dumps({"dial": "*126#"}).encode(),
            method="POST",
        )
        screen = json.load(urllib.request.urlopen(dial, timeout=15))
        assert screen["expects_reply"] and "1" in screen["screen"], screen
        buyer = Phone("8613800000002", ports["http_url"])
        order = urllib.request.Request(
            ports["merchant_url"] + "/orders",
            data=json.dumps(
                {"msisdn": "8613800000002", "amount": "3.00", "currency": "CNY", "method": "otp"}
            ).encode(),
            method="POST",
        )
        created = json.load(urllib.request.urlopen(order, timeout=5))
        assert created["status"] == "awaiting_confirmation"
        text = buyer.wait_for_sms(r"\d{4,}", timeout=10).text
        code = re.search(r"验证码是 (\d{8})，", text)  # this demo wallet reads Chinese
        assert code, text
        call_api(ports["http_url"], "POST", "/api/clock", body={"advance_seconds": 301}, timeout=5)
        with pytest.raises(SmsgwError) as refused:
            call_api(
                ports["merchant_url"],
                "POST",
                f"/orders/{created['id']}/confirm",
                body={"code": code[1]},
                timeout=5,
            )
        assert (refused.value.status, refused.value.code) == (422, "code_expired"), refused.value
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0 and "Merchant  http://127.0.0.1:" in out


def test_orders_and_wallets_come_in_pages(server: Smsgw, merchant: MerchantProcess) -> None:
    """GET /orders is newest first, ``limit`` at a time, ``next_before`` pages on to the first order."""
    made = [order(merchant, "8613800000005", "otp", 100 + n)["id"] for n in range(3)]
    first = merchant.get("/orders?limit=2")
    assert [o["id"] for o in first["orders"]] == made[:0:-1] and first["next_before"] == made[1]
    second = merchant.get(f"/orders?limit=2&before={first['next_before']}")
    assert second["orders"][0]["id"] == made[0]
    seen, before = [], ""
    while True:
        page = merchant.get(f"/orders?limit=1000{before}")
        seen += [o["id"] for o in page["orders"]]
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    assert seen[-1] == "ord_0001" and len(seen) == len(set(seen)) == int(made[-1][4:])
    status, bad = merchant.api("GET", "/orders?before=42")
    assert status == 400 and bad["error"]["code"] == "bad_query", bad
    assert merchant.api("GET", "/orders?limit=0")[0] == 400
    wallets = merchant.get("/wallets?limit=2")
    assert len(wallets["wallets"]) == 2 and wallets["next_after"] == wallets["wallets"][1]["msisdn"]
    rest = merchant.get(f"/wallets?limit=1000&after={wallets['next_after']}")
    assert rest["next_after"] is None and wallets["wallets"][1] not in rest["wallets"]
