"""``python -m benchmarks.soak`` runs as documented and counts nothing lost (a few seconds
here; the 10-minute figures are in the closing note of issue 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--minutes", "0.05", "--every", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOST: 0 (0 accepted but not stored, 0 without a receipt)" in result.stdout
    assert "store integrity: ok" in result.stdout
