"""Under a 1,024 open-files limit the connection limits are fitted into it: one connection too
many is let in by closing the oldest that never bound (not reset by a failing accept), and
health still answers."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e

#: Runs the command under a soft and hard open-files limit of 1,024 (a common default).
_UNDER_1024 = (
    "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class SmallSmsgw(Smsgw):
    def command(self) -> list[str]:
        return [sys.executable, "-c", _UNDER_1024, *super().command()]


def test_limits_are_fitted_into_1024_open_files_and_said(tmp_path: Path, connect) -> None:
    server = SmallSmsgw(tmp_path).start()
    held: list[socket.socket] = []
    try:
        banner = server.stdout()
        assert "limits    open files: 1024; 462 SMPP connections, 462 HTTP requests at once" in banner
        assert "lowered to 462 and 462; raise the limit (ulimit -n 2100) or set both lower" in banner
        held = [socket.create_connection(server.smpp_address, timeout=5) for _ in range(462)]
        # The 463rd connection is let in by closing the oldest one that never bound.
        late = connect(server, raw=True)
        assert late.bind("transmitter").command_status == 0
        held[0].settimeout(5)
        try:
            closed = held[0].recv(1) == b""
        except ConnectionResetError:  # closed by an abort: a reset, not an orderly end
            closed = True
        assert closed, "the oldest connection that never bound was kept open"
        assert "never bound: closed to make room (462 connections are open (max_connections 462))" in (
            server.stderr()
        )
        assert server.get("/api/health")["status"] == "ok"
    finally:
        for sock in held:
            sock.close()
        server.stop()
