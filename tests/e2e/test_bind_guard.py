"""One client's mistakes lock nobody else out: failed binds count per (address, system_id),
loopback is not capped per address, and a PIN typed on a handset stays masked."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.handset import Phone
from simulators.merchant.client import Shop
from smsgw.smpp.constants import CommandStatus as S
from tests.e2e.conftest import RawSession, Smsgw, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[tuple[CarrierProcess, dict[str, Any]]]:
    """``smsgw serve`` with its mock merchant bound."""
    process = CarrierProcess(tmp_path, config="[merchant]\nseed = 3\n")
    try:
        yield process, process.wait_ready()
    finally:
        process.stop()


def _api(ports: dict[str, Any], method: str, path: str) -> Any:
    request = urllib.request.Request(ports["http_url"] + path, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _bind(ports: dict[str, Any], system_id: str, password: str) -> int:
    session = RawSession((ports["smpp_host"], ports["smpp"]))
    try:
        return int(session.bind("transceiver", system_id=system_id, password=password).command_status)
    finally:
        session.close()


def test_a_client_failing_binds_locks_out_neither_smsgw_nor_the_merchant(carrier) -> None:
    """12 wrong passwords for X and for the merchant's own system_id, from 127.0.0.1 like
    everyone: X is refused unread, smsgw binds, and the merchant binds again after a drop."""
    process, ports = carrier
    for _ in range(12):
        assert _bind(ports, "X", "wrong") != 0
        assert _bind(ports, "merchant", "wrong") == S.ESME_RINVPASWD  # never refused unread
    assert _bind(ports, "nobody", "wrong") == S.ESME_RBINDFAIL  # unknown names share X's count
    assert _bind(ports, "smsgw", "smsgw") == 0
    (merchant,) = [s for s in _api(ports, "GET", "/api/sessions")["sessions"] if s["system_id"] == "merchant"]
    _api(ports, "DELETE", f"/api/sessions/{merchant['id']}")

    def merchant_bound_again() -> bool:
        sessions = _api(ports, "GET", "/api/sessions")["sessions"]
        return any(s["system_id"] == "merchant" and s["id"] != merchant["id"] for s in sessions)

    wait_until(merchant_bound_again, timeout=10, what="the merchant to bind again")
    log = process.log_path.read_text(encoding="utf-8", errors="replace")
    assert "10 failed binds for unknown system_ids from 127.0.0.1 within 60 s" in log


def test_failed_binds_for_one_system_id_refuse_it_unread(start_server) -> None:
    server = start_server()
    ports = server.ports
    statuses = [_bind(ports, "smsgw", "wrong") for _ in range(11)]
    assert statuses == [S.ESME_RINVPASWD] * 10 + [S.ESME_RBINDFAIL]
    assert _bind(ports, "smsgw", "smsgw") == S.ESME_RBINDFAIL  # the guesser's name waits a minute
    assert "10 failed binds for system_id 'smsgw' from 127.0.0.1 within 60 s" in server.stderr()


def test_201_connections_from_loopback_do_not_refuse_the_next_bind(start_server, connect) -> None:
    """A load test on one machine opens many: max_connections_per_ip (200) is for other addresses."""
    server: Smsgw = start_server()
    held = [socket.create_connection(server.smpp_address, timeout=5) for _ in range(201)]
    try:
        # Accepted in the order they came: all 201 are counted before the next one's bind.
        session = connect(server, raw=True)
        assert session.bind("transmitter").command_status == 0
    finally:
        for sock in held:
            sock.close()


def test_metrics_have_the_reactor_lag_histogram(server: Smsgw) -> None:
    def lag_count() -> float:
        with urllib.request.urlopen(server.ports["http_url"] + "/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "# TYPE smsgw_reactor_lag_seconds histogram" in text
        (count,) = [line for line in text.splitlines() if line.startswith("smsgw_reactor_lag_seconds_count")]
        return float(count.split()[-1])

    first = lag_count()
    wait_until(lambda: lag_count() > first, what="the lag monitor to tick")


def test_a_wallet_pin_is_masked_in_the_dialogue_and_the_order_is_paid(carrier) -> None:
    process, ports = carrier
    phone, shop = Phone.provision(None, ports["http_url"]), Shop(ports["merchant_url"])
    shop.open_wallet(phone, "50.00", pin="918273")
    order = shop.checkout(phone, "2.00", method="ussd_push")
    phone.wait_for_ussd("Pay 2.00")
    phone.answer("1")
    assert phone.answer("918273").closed
    assert shop.wait_for_status(order, "paid")["status"] == "paid"
    dialogue = _api(ports, "GET", f"/api/handsets/{phone.msisdn}/ussd")
    assert dialogue["inputs"] == ["1", "******"]
    assert "918273" not in json.dumps(dialogue)
    assert "918273" not in process.log_path.read_text(encoding="utf-8", errors="replace")
