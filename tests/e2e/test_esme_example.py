"""examples/smpplib_esme.py, the worked smpplib ESME of docs/esme.md, run as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Smsgw, wait_until

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smpplib_esme.py"


def test_the_smpplib_example_sends_the_code_gets_the_receipt_and_the_buyers_yes(server: Smsgw) -> None:
    """The example texts a code, prints its DELIVRD receipt, and confirms on the buyer's reply;
    in a namespace of its own, so another test's MO cannot reach it."""
    buyer = "8617100000001"
    status, _ = server.api("POST", "/api/handsets", {"msisdn": buyer, "namespace": "esme-example"})
    assert status == 201
    host, port = server.smpp_address
    shop = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            "--smpp",
            f"{host}:{port}",
            "--to",
            buyer,
            "--namespace",
            "esme-example",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        texts = wait_until(
            lambda: [m["text"] for m in server.get(f"/api/handsets/{buyer}/inbox")["messages"]],
            what="the code at the buyer's phone",
        )
        code = re.search(r"code is (\d{6})", texts[0])
        assert code is not None, texts
        server.api("POST", f"/api/handsets/{buyer}/sms", {"to": "12345", "text": "YES 000000"})
        server.api("POST", f"/api/handsets/{buyer}/sms", {"to": "12345", "text": f"YES {code[1]}"})
        output, _ = shop.communicate(timeout=30)
    finally:
        shop.kill()
    assert shop.returncode == 0, output
    assert "receipt: DELIVRD" in output
    assert "buyer said 'YES 000000': not the code" in output
    assert f"buyer confirmed with 'YES {code[1]}': paid" in output
