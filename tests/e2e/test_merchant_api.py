"""The built-in merchant of ``smsgw serve`` as a shop's script meets it (docs/merchant.md): it keeps
the carrier's clock, takes any MSISDN notation the carrier takes, writes ISO 8601 times, and two
carriers on free ports do not collide on its port.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import READ_TIMEOUT, START_TIMEOUT, Smsgw, call_json, wait_until

pytestmark = pytest.mark.e2e

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class Carrier(Smsgw):
    """``smsgw serve`` on free ports with its mock merchant, as ``make run`` has it."""

    def command(self) -> list[str]:
        return [arg for arg in super().command() if arg != "--no-merchant"]

    def shop(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, payload = call_json(self.ports["merchant_url"] + path, method, body)
        return status, payload

    def shop_ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.shop(method, path, body)
        assert status in (200, 201), (method, path, status, payload)
        return payload

    @classmethod
    def started(cls, workdir: Path) -> Carrier:
        """A carrier started in ``workdir``, once its merchant has bound."""
        smsgw = cls(workdir).start()
        wait_until(lambda: smsgw.shop_ok("GET", "/health")["bound"], START_TIMEOUT, "the merchant's bind")
        return smsgw


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carrier]:
    smsgw = Carrier.started(tmp_path_factory.mktemp("carrier"))
    yield smsgw
    smsgw.stop()


def seconds(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def test_a_clock_jump_settles_orders_before_it_is_answered(carrier: Carrier) -> None:
    """Right after POST /api/clock, with no waiting: the code's order is expired and the
    unanswered push's order failed (no_answer), as the carrier's own timers are."""
    otp = carrier.shop_ok(
        "POST", "/orders", {"msisdn": "8613800000003", "amount": 100, "currency": "CNY", "method": "otp"}
    )
    push = carrier.shop_ok(
        "POST",
        "/orders",
        {"msisdn": "8613800000004", "amount": 100, "currency": "CNY", "method": "ussd_push"},
    )
    # The prompt is up on the phone, as a buyer who walked away would leave it.
    wait_until(
        lambda: carrier.get("/api/handsets/8613800000004/ussd?after=0&wait=1")["state"] == "waiting_user",
        READ_TIMEOUT,
        "the pushed prompt",
    )
    status, _ = carrier.api("POST", "/api/clock", {"advance_seconds": 301})
    assert status == 200
    expired = carrier.shop_ok("GET", f"/orders/{otp['id']}")
    failed = carrier.shop_ok("GET", f"/orders/{push['id']}")
    assert (expired["status"], expired["reason"]) == ("expired", "code_expired"), expired
    assert (failed["status"], failed["reason"]) == ("failed", "no_answer"), failed


def posted_webhook(carrier: Carrier, order: dict[str, Any]) -> dict[str, Any]:
    """The first webhook of an order made with a callback_url to a shop on loopback."""
    posts: list[dict[str, Any]] = []

    class Shop(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet: the test's output is its assertions, not an access log."""

    shop = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{shop.server_address[1]}/hook"
        made = carrier.shop_ok("POST", "/orders", {**order, "callback_url": url})
        wait_until(lambda: posts, READ_TIMEOUT, "the webhook")
        carrier.shop_ok("POST", f"/orders/{made['id']}/cancel")
        return posts[0]
    finally:
        shop.shutdown()
        shop.server_close()


def test_times_are_iso_8601_like_the_carriers(carrier: Carrier) -> None:
    """created_at, expires_at, the history's, a payment's and a webhook's at are ISO 8601 in UTC, on the carrier's clock."""
    before = seconds(carrier.get("/api/clock")["now"])
    created = carrier.shop_ok(
        "POST", "/orders", {"msisdn": "8613800000005", "amount": 100, "currency": "CNY", "method": "otp"}
    )
    for moment in [created["created_at"], created["expires_at"], *(h["at"] for h in created["history"])]:
        assert isinstance(moment, str) and ISO.fullmatch(moment), created
    assert seconds(created["expires_at"]) - seconds(created["created_at"]) == pytest.approx(300, abs=0.002)
    assert seconds(created["created_at"]) >= before - 0.001
    carrier.shop_ok("POST", f"/orders/{created['id']}/cancel")
    webhook = posted_webhook(
        carrier, {"msisdn": "8613800000005", "amount": 100, "currency": "CNY", "method": "otp"}
    )
    assert isinstance(webhook["at"], str) and ISO.fullmatch(webhook["at"]), webhook
    dial = carrier.api("POST", "/api/handsets/8613800000005/ussd?wait=5", {"dial": "*126*1*10086*1*5678*1#"})
    assert dial[0] == 200, dial
    wallet = carrier.shop_ok("GET", "/wallets/8613800000005")
    assert wallet["payments"] and all(ISO.fullmatch(p["at"]) for p in wallet["payments"]), wallet


def test_any_msisdn_notation_the_carrier_takes(carrier: Carrier) -> None:
    """+86…, 86…, the national number and spaced forms all name the same buyer; the API shows E.164 digits."""
    for given in ("+8613800000001", "138 0000 0001", "+86 138-0000-0001"):
        status, made = carrier.shop(
            "POST", "/orders", {"msisdn": given, "amount": 1, "currency": "CNY", "method": "otp"}
        )
        assert (status, made["msisdn"], made["status"]) == (201, "8613800000001", "awaiting_confirmation"), (
            given,
            made,
        )
        carrier.shop_ok("POST", f"/orders/{made['id']}/cancel")
    assert carrier.shop_ok("GET", "/wallets/%2B8613800000002")["msisdn"] == "8613800000002"
    assert carrier.shop_ok("GET", "/wallets/13800000002")["language"] == "zh"
    before = carrier.shop_ok("GET", "/wallets/8613800000002")["balance"]
    assert carrier.shop_ok("POST", "/wallets/+8613800000002/topup", {"amount": 5})["balance"] == before + 5
    opened = carrier.shop_ok("POST", "/wallets", {"msisdn": "+86 139 0000 0123", "pin": "1111"})
    assert opened["msisdn"] == "8613900000123"
    status, again = carrier.shop("POST", "/wallets", {"msisdn": "13900000123", "pin": "1111"})
    assert (status, again["error"]["code"]) == (409, "wallet_exists"), again
    page = carrier.shop_ok("GET", "/wallets?after=%2B8613800000005")
    assert page["wallets"][0]["msisdn"] == "8613900000123", page

    status, bad = carrier.shop(
        "POST", "/orders", {"msisdn": "abc", "amount": 1, "currency": "CNY", "method": "otp"}
    )
    assert (status, bad["error"]["code"]) == (400, "invalid_order")
    assert "+8613800000001" in bad["error"]["message"] and "'abc'" in bad["error"]["message"]
    status, none = carrier.shop("GET", "/wallets/abc")
    assert (status, none["error"]["code"]) == (404, "wallet_not_found")
    assert "not a phone number" in none["error"]["message"]


def test_two_carriers_on_free_ports_run_side_by_side(tmp_path: Path) -> None:
    """--http-port 0 frees the merchant's port too: two such carriers start at once, each with its
    own merchant; a merchant port in use is named in the error."""
    first, second = Carrier(tmp_path / "first"), Carrier(tmp_path / "second")
    try:
        first.start()
        second.start()
        urls = {first.ports["merchant_url"], second.ports["merchant_url"]}
        assert len(urls) == 2 and not any(url.endswith(":8776") for url in urls), urls
        for carrier in (first, second):
            wait_until(lambda c=carrier: c.shop_ok("GET", "/health")["bound"], START_TIMEOUT, "a merchant")
    finally:
        first.stop()
        second.stop()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0",
             "--merchant-port", str(port), "--db", ":memory:"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=START_TIMEOUT,
        )  # fmt: skip
    assert run.returncode == 1 and f"127.0.0.1:{port}" in run.stderr, run.stderr
    assert "--merchant-port" in run.stderr, run.stderr
