"""How loud ``smsgw serve`` is about HTTP requests: not at all at info, one line each at debug.

Scripts and the console long-poll the carrier's API and the merchant's many times a second; at
info those lines buried the bind, fault and error lines that matter.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from .conftest import Smsgw, wait_until

pytestmark = pytest.mark.e2e


class WithMerchant(Smsgw):
    """``smsgw serve`` with its mock merchant on a free port, at a chosen log level."""

    def __init__(self, workdir: Path, level: str) -> None:
        super().__init__(workdir)
        self.level = level

    def command(self) -> list[str]:
        args = super().command()
        args.remove("--no-merchant")
        return [*args, "--merchant-port", "0", "--log-level", self.level]


def requests_logged(tmp_path: Path, level: str) -> str:
    """What the carrier logs for a request to its API, one to the merchant's and one with a token."""
    server = WithMerchant(tmp_path / level, level).start()
    try:
        for url in (
            server.ports["http_url"] + "/api/health",
            server.ports["merchant_url"] + "/health",
            server.ports["http_url"] + "/api/health?token=secret-in-the-query",
        ):
            with urllib.request.urlopen(url, timeout=5) as answer:
                json.load(answer)
        # The merchant's binding is logged at info: once it shows, the log is being written.
        wait_until(lambda: "merchant bound" in server.stderr(), what="the merchant's bind in the log")
    finally:
        server.stop()
    return server.stderr()


def test_requests_are_not_logged_at_info(tmp_path: Path) -> None:
    log = requests_logged(tmp_path, "info")
    assert "GET /health" not in log and "GET /api/health" not in log, log


def test_each_request_is_one_debug_line_without_its_token(tmp_path: Path) -> None:
    log = requests_logged(tmp_path, "debug")
    assert "GET /api/health -> 200" in log and "GET /health -> 200" in log, log
    assert "secret-in-the-query" not in log
