"""The carrier's clock over real HTTP: advancing it runs expiries at once, and binds live on."""

from __future__ import annotations

import re
import time

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.handset import Phone
from simulators.http import SmsgwError, call_api

from .conftest import Esme, receipt_of
from .test_ussd import USSR_REQUEST, next_ussd, ussd_submit

pytestmark = pytest.mark.e2e


def test_advancing_the_clock_expires_a_held_message_at_once(start_server, connect) -> None:
    """A 10-minute message for a phone that is off ends EXPIRED as soon as the clock jumps 601 s."""
    smsgw = start_server()
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    msisdn = "8613800000051"
    smsgw.set_phone(msisdn, "off")
    held = esme.submit_ok(msisdn, "your code is 123456", validity_period="000000001000000R")
    assert esme.read(timeout=0.3) is None
    before = smsgw.get("/api/clock")
    status, after = smsgw.api("POST", "/api/clock", {"advance_seconds": 601})
    assert status == 200 and after["offset_seconds"] == pytest.approx(before["offset_seconds"] + 601)
    started = time.monotonic()
    expired = receipt_of(esme.wait_deliveries(1, timeout=5)[0])
    assert (expired["receipted_message_id"], expired["stat"], expired["err"]) == (held, "EXPIRED", "027")
    assert time.monotonic() - started < 5
    # The SMPP session kept real time: the same bind still submits.
    smsgw.set_phone(msisdn, "on")
    esme.submit_ok(msisdn, "still bound")


def test_advancing_the_clock_times_out_a_ussd_prompt(start_server, connect) -> None:
    """A pushed prompt nobody answers closes with user_timeout once the clock passes the user timer."""
    smsgw = start_server()
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    msisdn = "8613800000052"
    assert ussd_submit(esme, msisdn, "Pay 5.00 CNY?\n1 Yes\n2 No", USSR_REQUEST).status == 0
    assert smsgw.get(f"/api/handsets/{msisdn}/ussd?wait=5")["expects_reply"] is True
    smsgw.api("POST", "/api/clock", {"advance_seconds": 31})
    screen = smsgw.get(f"/api/handsets/{msisdn}/ussd")
    assert (screen["state"], screen["end_code"]) == ("closed", "user_timeout"), screen
    assert next_ussd(esme, 1).ussd_service_op == 0x81


def test_the_clock_only_moves_forward_by_a_sane_amount(start_server) -> None:
    """Zero, negative, non-numbers and jumps beyond a year are refused, and the clock stays put."""
    smsgw = start_server()
    for value in (0, -5, "60", True, 10**9, None):
        status, error = smsgw.api("POST", "/api/clock", {"advance_seconds": value})
        assert status == 400 and "advance_seconds" in error["error"]["message"], (value, error)
    assert smsgw.get("/api/clock")["offset_seconds"] == 0


def _handset(smsgw, msisdn: str, namespace: str, state: str = "on") -> None:
    status, body = smsgw.api(
        "POST", "/api/handsets", {"msisdn": msisdn, "namespace": namespace, "state": state}
    )
    assert status == 201, body


def test_a_namespace_clock_expires_its_own_messages_and_nobody_elses(start_server, connect) -> None:
    """Two tests share a carrier, each with a phone that is off: jumping ci-a a day ahead ends
    ci-a's message EXPIRED with its receipt at once, while ci-b's still waits and the
    carrier's clock has not moved; ci-b's expires when the carrier's clock jumps."""
    smsgw = start_server()
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    _handset(smsgw, "8617100000001", "ci-a", "off")
    _handset(smsgw, "8617100000002", "ci-b", "off")
    a_id = esme.submit_ok("8617100000001", "code 1", validity_period="000000001000000R")
    b_id = esme.submit_ok("8617100000002", "code 2", validity_period="000000001000000R")
    status, moved = smsgw.api("POST", "/api/clock", {"advance_seconds": 86400, "namespace": "ci-a"})
    assert status == 200 and (moved["namespace"], moved["ahead_of_carrier_seconds"]) == ("ci-a", 86400)
    expired = receipt_of(esme.wait_deliveries(1, timeout=5)[0])
    assert (expired["receipted_message_id"], expired["stat"]) == (a_id, "EXPIRED")
    assert smsgw.get(f"/api/messages/{b_id}")["state"] == "ENROUTE"
    assert smsgw.get("/api/clock")["offset_seconds"] == 0
    reading = smsgw.get("/api/clock?namespace=ci-a")
    assert reading["epoch"] == pytest.approx(smsgw.get("/api/clock")["epoch"] + 86400, abs=5)
    smsgw.api("POST", "/api/clock", {"advance_seconds": 601})
    expired = receipt_of(esme.wait_deliveries(2, timeout=5)[1])
    assert (expired["receipted_message_id"], expired["stat"]) == (b_id, "EXPIRED")


def test_namespace_clocks_are_kept_across_a_restart_and_dropped_with_their_namespace(start_server) -> None:
    """The carrier's advance and a namespace's survive a restart (the deadlines stored were set
    on them); resetting the namespace drops its clock and lists it as removed."""
    smsgw = start_server()
    _handset(smsgw, "8617100000011", "ci-k")
    smsgw.api("POST", "/api/clock", {"advance_seconds": 600})
    smsgw.api("POST", "/api/clock", {"advance_seconds": 3600, "namespace": "ci-k"})
    smsgw.restart()
    assert smsgw.get("/api/clock")["offset_seconds"] == pytest.approx(600, abs=0.01)
    reading = smsgw.get("/api/clock?namespace=ci-k.inner")
    assert (reading["offset_seconds"], reading["ahead_of_carrier_seconds"]) == (4200, 3600)
    assert {"name": "ci-k", "handsets": 1, "faults": 0, "ahead_of_carrier_seconds": 3600} in smsgw.get(
        "/api/namespaces"
    )["namespaces"]
    removed = smsgw.api("DELETE", "/api/namespaces/ci-k")[1]
    assert removed["removed_clocks"] == ["ci-k"]
    assert smsgw.get("/api/clock?namespace=ci-k")["ahead_of_carrier_seconds"] == 0
    smsgw.restart()
    assert smsgw.get("/api/clock?namespace=ci-k")["ahead_of_carrier_seconds"] == 0


def test_a_namespace_clock_is_named_as_namespaces_are(start_server) -> None:
    smsgw = start_server()
    for bad in ("has space", 7, "-dash-first", None):
        status, error = smsgw.api("POST", "/api/clock", {"advance_seconds": 1, "namespace": bad})
        assert status == 400 and error["error"]["code"] == "bad_field", (bad, error)
        assert "letters, digits" in error["error"]["message"]
    status, error = smsgw.api("GET", "/api/clock?namespace=a%20b")
    assert status == 400 and error["error"]["code"] == "bad_query"


def test_the_merchant_expires_a_code_on_its_buyers_namespace_clock(tmp_path) -> None:
    """Two buyers in two namespaces each get a one-time code from the built-in merchant:
    advancing ci-a past the code's lifetime expires ci-a's order (its confirm is refused
    code_expired), while ci-b's code, on a clock that did not move, still pays."""
    process = CarrierProcess(tmp_path)
    try:
        ports = process.wait_ready()
        carrier, shop = ports["http_url"], ports["merchant_url"]
        orders, phones = {}, {}
        for msisdn, namespace in (("8617100000021", "ci-a"), ("8617100000022", "ci-b")):
            _call(carrier, "POST", "/api/handsets", body={"msisdn": msisdn, "namespace": namespace})
            phones[namespace] = Phone(msisdn, carrier)
            _call(
                shop,
                "POST",
                "/wallets",
                body={"msisdn": msisdn, "pin": "1234", "balance": "50.00", "currency": "CNY"},
            )
            body = {"msisdn": msisdn, "amount": "3.00", "currency": "CNY", "method": "otp"}
            orders[namespace] = _call(shop, "POST", "/orders", body=body)
        codes = {namespace: _code(phone) for namespace, phone in phones.items()}
        _call(carrier, "POST", "/api/clock", body={"advance_seconds": 301, "namespace": "ci-a"})
        assert _call(shop, "GET", f"/orders/{orders['ci-a']['id']}")["status"] == "expired"
        with pytest.raises(SmsgwError) as refused:
            _call(shop, "POST", f"/orders/{orders['ci-a']['id']}/confirm", body={"code": codes["ci-a"]})
        assert (refused.value.status, refused.value.code) == (422, "code_expired")
        paid = _call(shop, "POST", f"/orders/{orders['ci-b']['id']}/confirm", body={"code": codes["ci-b"]})
        assert paid["status"] == "paid"
    finally:
        process.stop()


def _code(phone: Phone) -> str:
    text = phone.wait_for_sms(r"\d{6}", timeout=10).text
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found[1]


def _call(base: str, method: str, path: str, body: object = None) -> object:
    return call_api(base, method, path, body=body, timeout=10)
