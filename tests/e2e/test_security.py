"""The HTTP side as an attacker's web page or a stranger on the network would meet it."""

from __future__ import annotations

import http.client
import json
import re as regex
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.handset import Phone
from simulators.http import call_api
from simulators.merchant.client import Shop
from tests.e2e.conftest import Smsgw, wait_until

pytestmark = pytest.mark.e2e

TOKEN = "a-test-token-0123456789"


def request(
    server: Smsgw, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def code_of(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def test_every_answer_carries_safe_headers(server: Smsgw) -> None:
    for path in ("/api/health", "/", "/console.js", "/metrics", "/api/nothing"):
        _, headers, _ = request(server, "GET", path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert "default-src 'self'" in headers["Content-Security-Policy"], path


def test_a_page_elsewhere_cannot_write(server: Smsgw) -> None:
    body = {"state": "off"}
    path = "/api/handsets/8613800000001"
    status, _, answer = request(server, "PATCH", path, {"Origin": "http://evil.example"}, body)
    assert (status, code_of(answer)) == (403, "cross_origin")
    status, _, answer = request(server, "PATCH", path, {"Sec-Fetch-Site": "cross-site"}, body)
    assert (status, code_of(answer)) == (403, "cross_origin")
    own = f"http://127.0.0.1:{server.ports['http']}"
    assert request(server, "PATCH", path, {"Origin": own}, {"state": "on"})[0] == 200
    assert request(server, "GET", "/api/health", {"Origin": "http://evil.example"})[0] == 200


def test_a_rebound_name_is_not_answered(server: Smsgw) -> None:
    """DNS rebinding: evil.example now resolves to 127.0.0.1, but the Host header still says so."""
    status, _, answer = request(server, "GET", "/api/health", {"Host": "evil.example"})
    assert (status, code_of(answer)) == (421, "wrong_host")
    assert request(server, "GET", "/api/health", {"Host": f"localhost:{server.ports['http']}"})[0] == 200


def test_a_token_is_wanted_when_set(start_server) -> None:
    server = start_server(f'[http]\ntoken = "{TOKEN}"\n')
    status, _, answer = request(server, "GET", "/api/health")
    assert (status, code_of(answer)) == (401, "unauthorized")
    assert request(server, "GET", "/api/health", {"Authorization": "Bearer wrong-token-000000"})[0] == 401
    assert request(server, "GET", "/api/health", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert request(server, "GET", "/metrics")[0] == 401
    # A browser opens /?token=… once and keeps a cookie.
    status, headers, _ = request(server, "GET", f"/?token={TOKEN}")
    assert status in (302, 303) and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert request(server, "GET", "/api/health", {"Cookie": cookie.split(";")[0]})[0] == 200
    assert server.ports["http_token"] == TOKEN


def test_beyond_loopback_a_token_is_made_up_and_printed(start_server, monkeypatch) -> None:
    monkeypatch.delenv("SMSGW_TOKEN", raising=False)
    server = start_server('[http]\nhost = "0.0.0.0"\n')
    token = server.ports["http_token"]
    assert len(token) >= 24
    assert request(server, "GET", "/api/health")[0] == 401
    assert request(server, "GET", "/api/health", {"Authorization": f"Bearer {token}"})[0] == 200
    assert f"?token={token}" in server.stdout() and "WARNING: listening on 0.0.0.0" in server.stdout()


def test_passwords_are_not_in_the_api(start_server, connect) -> None:
    server = start_server(
        '[network]\ndefault_account = "shop"\n[[accounts]]\nsystem_id = "shop"\npassword = "s3cr3tpw"\n'
    )
    connect(server).bind("transceiver", system_id="shop", password="s3cr3tpw")
    for path in ("/api/health", "/api/sessions", "/metrics", "/api/events"):
        if path == "/api/events":
            continue  # a stream: its events carry no credentials (bound has system_id and peer)
        assert b"s3cr3tpw" not in request(server, "GET", path)[2], path
    assert "s3cr3tpw" not in server.stderr() + server.stdout()


def test_too_many_open_requests_get_429_but_health_and_the_rest_carry_on(start_server) -> None:
    server = start_server("[http]\nmax_open_requests = 2\n")
    streams = []
    for _ in range(2):  # two event streams hold their requests open
        connection = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
        connection.request("GET", "/api/events")
        assert connection.getresponse().status == 200
        streams.append(connection)
    status, _, answer = request(server, "GET", "/api/sessions")
    assert (status, code_of(answer)) == (429, "too_many_requests")
    assert request(server, "GET", "/api/health")[0] == 200  # a supervisor's check is never refused
    for connection in streams:
        connection.close()
    wait_until(lambda: request(server, "GET", "/api/sessions")[0] == 200, what="the streams to end")


def test_codes_and_pins_never_reach_the_log(tmp_path) -> None:
    """A one-time code and a wallet PIN travel through the carrier; neither is in its log, nor
    the text of a code whose SMS the carrier refused (the merchant logs that failure)."""
    process = CarrierProcess(tmp_path, config="[merchant]\nseed = 3\n")
    try:
        ports = process.wait_ready()
        phone, shop = Phone.provision(None, ports["http_url"]), Shop(ports["merchant_url"])
        shop.open_wallet(phone, "50.00", pin="918273")  # six digits: no port or time looks like it
        order = shop.checkout(phone, "5.00")
        code = regex.search(r"code is (\d+)", phone.wait_for_sms(r"code is \d+").text)[1]  # type: ignore[index]
        assert shop.confirm(order, code)["status"] == "paid"
        shop.checkout(phone, "2.00", method="ussd_push")
        phone.wait_for_ussd("Pay 2.00")
        phone.answer("1")
        assert phone.answer("918273").closed
        refused = {"name": "refuse-code", "effect": "refuse_submit", "msisdn": phone.msisdn, "limit": 1}
        call_api(ports["http_url"], "POST", "/api/faults", body=refused, timeout=5)
        shop.checkout(phone, "3.00")  # its code's SMS is refused: the merchant logs it was not sent
        wait_until(lambda: "not sent" in process.log_path.read_text(), what="the failure's log")
    finally:
        process.stop()
    log = process.log_path.read_text(encoding="utf-8", errors="replace")
    assert "session" in log and "not sent" in log  # the log is there, and says things
    assert code not in log and "918273" not in log and "code is" not in log
