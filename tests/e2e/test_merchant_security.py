"""The mock merchant's HTTP port and SMPP account as an attacker's web page, a stranger on the
network, or another local process would meet them (``smsgw serve`` with its built-in merchant)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.exceptions

from simulators.carrier_process import stop_process
from simulators.merchant.client import Shop
from smsgw.smpp.constants import CommandStatus as S
from tests.e2e.conftest import DEFAULT_ACCOUNT_TOML, START_TIMEOUT, Smsgw, wait_until

pytestmark = pytest.mark.e2e

TOKEN = "a-test-token-0123456789"
BUYER = "8613800000004"
EVIL = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}


class WithMerchant(Smsgw):
    """``smsgw serve`` with its built-in merchant on a free port."""

    def command(self) -> list[str]:
        args = [arg for arg in super().command() if arg != "--no-merchant"]
        return [*args, "--merchant-port", "0"]


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, http.client.HTTPMessage, Any]:
    """One request to 127.0.0.1:port; the body decoded as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read() or b"null")
    finally:
        connection.close()


def code_of(answer: Any) -> str:
    return str(answer["error"]["code"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsgw]:
    smsgw = WithMerchant(tmp_path_factory.mktemp("smsgw")).start()
    yield smsgw
    smsgw.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[str], Smsgw]]:
    started: list[Smsgw] = []

    def start(config: str) -> Smsgw:
        smsgw = WithMerchant(tmp_path / f"smsgw{len(started)}", config)
        started.append(smsgw)
        return smsgw.start()

    yield start
    for smsgw in started:
        smsgw.stop()


def merchant(server: Smsgw, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None):
    return request(server.ports["merchant_http"], method, path, headers, body)


def test_every_answer_carries_safe_headers(server: Smsgw) -> None:
    for path in ("/health", "/wallets", "/nothing"):
        _, headers, _ = merchant(server, "GET", path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path


def test_a_rebound_name_is_not_answered(server: Smsgw) -> None:
    """DNS rebinding: a page's own name now resolves to 127.0.0.1; its Host header gives it away."""
    status, _, answer = merchant(server, "GET", "/wallets", {"Host": "rebind.evil.example"})
    assert (status, code_of(answer)) == (421, "wrong_host")
    own = {"Host": f"localhost:{server.ports['merchant_http']}"}
    assert merchant(server, "GET", "/wallets", own)[0] == 200


@pytest.mark.parametrize("headers", [EVIL, CROSS_SITE], ids=["foreign-origin", "sec-fetch-site"])
def test_a_page_elsewhere_cannot_write(server: Smsgw, headers: dict[str, str]) -> None:
    """Each write a browser could send without a preflight is refused, and changes nothing."""
    status, _, order = merchant(
        server, "POST", "/orders", body={"msisdn": BUYER, "amount": 100, "currency": "CNY", "method": "otp"}
    )
    assert status == 201, order
    before = {path: merchant(server, "GET", path)[2] for path in ("/wallets", "/orders")}
    writes = [
        ("/wallets", {"msisdn": "8613800009999", "pin": "1234", "balance": 100000}),
        (f"/wallets/{BUYER}/topup", {"amount": 100000}),
        ("/orders", {"msisdn": BUYER, "amount": 100, "currency": "CNY", "method": "otp"}),
        (f"/orders/{order['id']}/cancel", None),
    ]
    for path, body in writes:
        status, _, answer = merchant(server, "POST", path, headers, body)
        assert (status, code_of(answer)) == (403, "cross_origin"), path
    assert {path: merchant(server, "GET", path)[2] for path in before} == before
    own = {"Origin": f"http://127.0.0.1:{server.ports['merchant_http']}"}
    assert merchant(server, "POST", f"/orders/{order['id']}/cancel", own)[0] == 200
    assert merchant(server, "GET", "/wallets", {"Origin": "http://evil.example"})[0] == 200


def test_callback_url_goes_only_to_loopback_by_default(server: Smsgw) -> None:
    order = {"msisdn": BUYER, "amount": 100, "currency": "CNY", "method": "otp"}
    count = len(merchant(server, "GET", "/orders")[2]["orders"])
    for url in (
        "http://evil.example/hook",
        "http://10.0.0.1/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
    ):
        status, _, answer = merchant(server, "POST", "/orders", body={**order, "callback_url": url})
        assert (status, code_of(answer)) == (400, "invalid_order"), url
    assert "[merchant] callback_hosts" in answer_for(server, order, "http://evil.example/hook")
    assert len(merchant(server, "GET", "/orders")[2]["orders"]) == count
    status, _, created = merchant(
        server, "POST", "/orders", body={**order, "callback_url": "http://127.0.0.1:9/h"}
    )
    assert status == 201 and created["callback_url"] == "http://127.0.0.1:9/h"


def answer_for(server: Smsgw, order: dict[str, Any], url: str) -> str:
    return str(
        merchant(server, "POST", "/orders", body={**order, "callback_url": url})[2]["error"]["message"]
    )


def test_callback_hosts_in_the_config_widen_it(start_server) -> None:
    server = start_server('[merchant]\ncallback_hosts = ["127.0.0.1", "shop.example"]\n')
    order = {"msisdn": BUYER, "amount": 100, "currency": "CNY", "method": "otp"}
    status, _, created = merchant(
        server, "POST", "/orders", body={**order, "callback_url": "http://shop.example/h"}
    )
    assert status == 201 and created["callback_url"] == "http://shop.example/h"
    status, _, answer = merchant(
        server, "POST", "/orders", body={**order, "callback_url": "http://localhost/h"}
    )
    assert (status, code_of(answer)) == (400, "invalid_order")


def test_the_documented_password_does_not_bind_as_the_merchant(server: Smsgw, connect) -> None:
    """Another local process cannot take the merchant's USSD; the password of this run can."""
    with pytest.raises(smpplib.exceptions.PDUError) as refusal:
        connect(server).bind("transceiver", system_id="merchant", password="merchant")
    assert refusal.value.args[1] == S.ESME_RINVPASWD
    password = server.ports["merchant_password"]
    assert password != "merchant" and len(password) == 8
    assert f"password={password}" in server.stdout()
    sessions = server.get("/api/sessions")["sessions"]
    assert [s["system_id"] for s in sessions] == ["merchant"]  # the built-in one, bound at start
    assert merchant(server, "GET", "/health")[2]["bound"] is True
    assert connect(server).bind("transceiver", system_id="merchant", password=password).status == 0


def test_a_configured_merchant_password_is_used_and_not_printed(start_server, connect) -> None:
    server = start_server('[merchant]\npassword = "s3cr3tpw"\n')
    assert connect(server).bind("transceiver", system_id="merchant", password="s3cr3tpw").status == 0
    assert "s3cr3tpw" not in server.stdout() + server.stderr()
    assert "system_id=merchant  password=(as in your config)" in server.stdout()
    assert merchant(server, "GET", "/health")[2]["bound"] is True


def test_an_account_for_the_merchant_gives_it_its_password(start_server) -> None:
    """An [[accounts]] entry with the merchant's system_id is what it binds to, password and all."""
    server = start_server(
        DEFAULT_ACCOUNT_TOML
        + '[[accounts]]\nsystem_id = "merchant"\npassword = "acctpw"\nshort_codes = ["10086"]\n'
    )
    wait_until(lambda: merchant(server, "GET", "/health")[2]["bound"], what="the merchant's bind")
    assert "acctpw" not in server.stdout()


def test_beyond_loopback_the_merchant_wants_a_token(start_server, monkeypatch) -> None:
    """The merchant on 0.0.0.0 with the carrier on loopback: a token is made up, printed, wanted."""
    monkeypatch.delenv("SMSGW_TOKEN", raising=False)
    server = start_server('[merchant]\nhttp_host = "0.0.0.0"\n')
    token = server.ports["http_token"]
    assert len(token) >= 24
    status, _, answer = merchant(server, "GET", "/wallets")
    assert (status, code_of(answer)) == (401, "unauthorized")
    assert merchant(server, "GET", "/wallets", {"Authorization": "Bearer wrong-token-000000"})[0] == 401
    assert merchant(server, "GET", "/wallets", {"Authorization": f"Bearer {token}"})[0] == 200
    banner = server.stdout()
    assert banner.count(token) == 1 and "merchant's API listens on 0.0.0.0, reachable beyond" in banner
    assert server.get("/api/health")["status"] == "ok"  # the carrier's own API stays on loopback


def test_one_token_for_both_and_the_shipped_clients_send_it(start_server, monkeypatch) -> None:
    monkeypatch.setenv("SMSGW_TOKEN", TOKEN)
    server = start_server("[merchant]\nseed = 1\n")
    assert request(server.ports["http"], "GET", "/api/health")[0] == 401
    assert merchant(server, "GET", "/wallets")[0] == 401
    assert merchant(server, "GET", "/wallets", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    shop = Shop(server.ports["merchant_url"])
    assert shop.open_wallet("8613800009998", "5.00")["balance"] == 500
    assert shop.checkout("8613800009998", "1.00")["status"] == "awaiting_confirmation"
    assert server.stdout().count(TOKEN) == 1


def test_smsgw_merchant_alone_beyond_loopback_wants_a_token(
    server: Smsgw, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("SMSGW_TOKEN", raising=False)
    ports_file, out_path = tmp_path / "merchant.json", tmp_path / "merchant-stdout.txt"
    with open(out_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "smsgw", "merchant", "--carrier", f"127.0.0.1:{server.ports['smpp']}",
             "--http-host", "0.0.0.0", "--http-port", "0", "--ports-file", str(ports_file)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(ports_file.exists, START_TIMEOUT, "the merchant's ports file")
            ports = json.loads(ports_file.read_text())  # written atomically
            token = ports["http_token"]
            assert request(ports["http"], "GET", "/wallets")[0] == 401
            assert request(ports["http"], "GET", "/wallets", {"Authorization": f"Bearer {token}"})[0] == 200
        finally:
            stop_process(process)  # type: ignore[arg-type]
    printed = out_path.read_text()
    assert f"Bearer {token}" in printed and "WARNING: listening on 0.0.0.0" in printed
