"""Three pytest processes at once against one carrier: each test's app gets its own buyer's MO.

Each process binds its own smpplib application as the same account (``smsgw``), in its test's
namespace (``address_range`` ``ns:<namespace>``), and its buyer texts ``YES <token>`` to the
account's short code 12345. Before binds had namespaces, each application received whichever
buyer's MO came next, and an MO stored while nothing was bound went to the first bind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Smsgw

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

APP_TEST = """
import time

import smpplib.client


def test_my_app_gets_my_buyers_mo(carrier, phone):
    received = []
    client = smpplib.client.Client(*carrier.smpp, timeout=10, allow_unknown_opt_params=True)
    client.set_message_received_handler(lambda pdu: received.append(pdu) or 0)
    client.connect()
    client.bind_transceiver(system_id="smsgw", password="smsgw", address_range=f"ns:{carrier.namespace}")
    try:
        buyers = [phone() for _ in range(3)]
        for buyer in buyers:
            buyer.send_sms(f"YES {buyer.msisdn}", to="12345")
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            client.read_once()
        client._socket.settimeout(0.5)  # an MO meant for another test would arrive by now
        try:
            client.read_once()
        except OSError:
            pass  # nothing more came, as it should
        senders = sorted(bytes(pdu.source_addr).decode() for pdu in received)
        texts = sorted(bytes(pdu.short_message).decode() for pdu in received)
        assert senders == sorted(b.msisdn for b in buyers)
        assert texts == sorted(f"YES {b.msisdn}" for b in buyers)
    finally:
        client.unbind()
        client.disconnect()
"""


def test_three_processes_sharing_one_carrier_each_get_their_own_mo(tmp_path: Path) -> None:
    """Three pytest runs at once, one carrier, one account: every run passes, and an MO sent
    before (a handset in no namespace, nothing bound) reaches none of them."""
    carrier = Smsgw(tmp_path / "carrier").start()
    try:
        status, _ = carrier.api(
            "POST", "/api/handsets/8613800000001/sms", {"to": "12345", "text": "YES 123456"}
        )
        assert status in (200, 201)
        test_file = tmp_path / "test_app.py"
        test_file.write_text(APP_TEST, encoding="utf-8")
        env = {**os.environ, "SMSGW_URL": carrier.ports["http_url"]}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(test_file)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        for run, output in zip(runs, outputs, strict=True):
            assert run.returncode == 0, output
        # The early MO of a handset in no namespace waits for a bind that declared none.
        (early,) = [m for m in carrier.get("/api/messages?direction=MO&msisdn=8613800000001")["messages"]]
        assert early["state"] == "ENROUTE"
    finally:
        carrier.stop()
