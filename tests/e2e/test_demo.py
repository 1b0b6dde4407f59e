"""``smsgw demo`` (``python -m simulators.demo``): the three payment flows, end to end, in one go."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "simulators.demo", *args],
        capture_output=True, text=True, encoding="utf-8", timeout=30, cwd=ROOT, env=env,
    )  # fmt: skip
    return result, time.monotonic() - started


def test_demo_pays_three_ways() -> None:
    """All three flows end paid; the transcript shows the phones' texts and screens and the shop's view."""
    result, elapsed = run_demo()
    out = result.stdout
    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    assert elapsed < 30
    # The three sections, in order.
    headers = [
        "== 1. One-time code by SMS (Li Wei, +8613800000001) ==",
        "== 2. USSD menu *126# (Zhang Min, +8613800000003) ==",
        "== 3. USSD push (Chen Jing, +8613800000004) ==",
    ]
    positions = [out.index(header) for header in headers]
    assert positions == sorted(positions)
    # The one-time code reached the phone by SMS, and the shop confirmed that very code.
    otp = re.search(r'SMS from 10086: "ShopX: your code is (\d+) to pay 25\.00 CNY\.', out)
    assert otp is not None, out
    assert f"/confirm {otp.group(1)} -> paid (ref " in out
    # The *126# menu, shown as a screen with one "| " per line.
    assert "phone   dials *126#" in out
    assert "screen  | 1 Pay merchant\n        | 2 My balance\n        | 3 Last payments\n" in out
    assert "| Pay 12.50 CNY to ShopX (10086)?" in out
    # The pushed prompt.
    assert "screen  | Pay 8.00 CNY to ShopX?\n        | 1 Confirm\n        | 2 Cancel\n" in out
    # Three orders paid, three receipts, three wallets debited; no PIN in the clear.
    assert len(re.findall(r"-> (?:ord_\d+ ussd_menu \S+ CNY )?paid \(ref \w+\)", out)) == 3, out
    assert len(re.findall(r'SMS from 10086: "Paid ', out)) == 3
    for change in ("100.00 CNY -> 75.00 CNY", "100.00 CNY -> 87.50 CNY", "100.00 CNY -> 92.00 CNY"):
        assert f"wallet  {change}" in out
    assert "3456" not in out and "4567" not in out
    assert "FAILED" not in out
    assert re.search(r"^demo finished: 3 flows paid in \d+\.\d s$", out.splitlines()[-1]), out


def test_demo_quiet_prints_only_the_outcome() -> None:
    """--quiet leaves out the transcript."""
    result, _ = run_demo("--quiet", "--seed", "7")
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo finished: 3 flows paid in "), result.stdout


def test_demo_pays_three_ways_with_the_shops_sms_over_cmpp() -> None:
    """``smsgw demo --cmpp``: the shop's OTP and receipts go over CMPP 3.0, its USSD over SMPP."""
    result, _ = run_demo("--cmpp")
    out = result.stdout
    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    assert re.search(r'SMS from 10086: "ShopX: your code is (\d+) to pay 25\.00 CNY\.', out), out
    assert len(re.findall(r'SMS from 10086: "Paid ', out)) == 3
    assert out.splitlines()[-1].endswith("(the shop's SMS over CMPP)")
