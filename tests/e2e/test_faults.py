"""Injected faults over real SMPP: what an ESME sees when a [[faults]] rule strikes."""

from __future__ import annotations

import pytest

from .conftest import DEFAULT_ACCOUNT_TOML, Esme, receipt_of

pytestmark = pytest.mark.e2e

THROTTLE_EVERY_THIRD = (
    DEFAULT_ACCOUNT_TOML
    + """
[[faults]]
name = "busy-smsc"
effect = "refuse_submit"
msisdn = "86139*"
every = 3
status = "ESME_RTHROTTLED"

[[faults]]
name = "dead-sim"
effect = "fail_delivery"
msisdn = "8613900000062"
state = "UNDELIV"
error = 34
"""
)


def test_every_third_submit_is_throttled_and_the_session_carries_on(start_server, connect) -> None:
    """smpplib gets ESME_RTHROTTLED (0x58) on every 3rd submit to 86139…; other numbers pass."""
    smsgw = start_server(THROTTLE_EVERY_THIRD)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    statuses = [esme.submit("8613900000061", f"try {n}", registered_delivery=0).status for n in range(6)]
    assert statuses == [0, 0, 0x58, 0, 0, 0x58]
    assert esme.submit("8613800000061", "elsewhere", registered_delivery=0).status == 0
    logged = smsgw.get("/api/messages?msisdn=8613900000061")["messages"]
    assert len(logged) == 4  # the refused submits were never accepted, so never stored


def test_a_failed_delivery_comes_back_as_the_configured_receipt(start_server, connect) -> None:
    """The submit is accepted; the receipt says UNDELIV err 034; the phone never shows the text."""
    smsgw = start_server(THROTTLE_EVERY_THIRD)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    message_id = esme.submit_ok("8613900000062", "your code is 123456")
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"], receipt["err"]) == (
        message_id,
        "UNDELIV",
        "034",
    )
    assert smsgw.get("/api/handsets/8613900000062/inbox")["messages"] == []
    assert smsgw.get(f"/api/messages/{message_id}")["state"] == "UNDELIV"


@pytest.mark.parametrize(
    ("number", "status"), [("8619999990004", 0x58), ("8619999990005", 0x08), ("+1 199 9999 0006", 0x14)]
)
def test_magic_numbers_refuse_without_any_set_up(server, connect, number: str, status: int) -> None:
    """docs/faults.md: …0004 is throttled, …0005 a system error, …0006 a full queue, in any country."""
    esme: Esme = connect(server)
    esme.bind("transceiver")
    assert esme.submit(number, "hello", registered_delivery=0).status == status


@pytest.mark.parametrize(
    ("number", "stat", "err"),
    [
        ("8619999990001", "UNDELIV", "001"),
        ("8619999990002", "EXPIRED", "027"),
        ("8619999990003", "REJECTD", "011"),
    ],
)
def test_magic_numbers_fail_delivery_without_any_set_up(
    server, connect, number: str, stat: str, err: str
) -> None:
    esme: Esme = connect(server)
    esme.bind("transceiver")
    message_id = esme.submit_ok(number, "hello")
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"], receipt["err"]) == (message_id, stat, err)


def test_magic_numbers_can_be_turned_off(start_server, connect) -> None:
    smsgw = start_server("[network]\nmagic_numbers = false\n")
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    assert esme.submit("8619999990004", "hello", registered_delivery=0).status == 0
