"""The carrier's clock over real HTTP: advancing it runs expiries at once, and binds live on."""

from __future__ import annotations

import time

import pytest

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
