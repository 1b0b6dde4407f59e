"""Injected faults over real SMPP: what an ESME sees when a [[faults]] rule strikes."""

from __future__ import annotations

import pytest

from .conftest import DEFAULT_ACCOUNT_TOML, Esme

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
