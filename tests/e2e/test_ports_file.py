"""The ports file is there exactly while the carrier listens: a script that waits for it never
reads the ports of a run that stopped, was killed, or failed to start."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_file_goes_when_the_carrier_stops(tmp_path, sig: int) -> None:
    smsgw = Smsgw(tmp_path).start()
    assert smsgw.process is not None
    assert json.loads(smsgw.ports_file.read_text())["pid"] == smsgw.process.pid
    assert smsgw.stop(sig) == 0
    assert not smsgw.ports_file.exists()
    assert not smsgw.ports_file.with_name("ports.json.tmp").exists()


def without(command: list[str], arguments: list[str]) -> list[str]:
    """``command`` with ``arguments`` (adjacent, as given) taken out."""
    at = next(i for i in range(len(command)) if command[i : i + len(arguments)] == arguments)
    return command[:at] + command[at + len(arguments) :]


def test_a_failed_start_removes_a_killed_runs_file_and_leaves_a_running_ones(tmp_path) -> None:
    """A second carrier on a taken port fails and leaves the first one's file alone; once the
    first is killed (its file left behind), a start that fails removes that stale file."""
    first = Smsgw(tmp_path).start()
    try:
        second = subprocess.run(
            [
                *without(first.command(), first.store_arguments),
                "--db",
                ":memory:",
                "--smpp-port",
                str(first.ports["smpp"]),
            ],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
        assert second.returncode == 1 and "cannot listen" in second.stderr, second.stderr
        assert json.loads(first.ports_file.read_text())["smpp"] == first.ports["smpp"]
    finally:
        first.stop(signal.SIGKILL)
    assert first.ports_file.exists()  # a killed process cleans nothing up
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        third = subprocess.run(
            [*first.command(), "--smpp-port", str(taken.getsockname()[1])],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    assert third.returncode == 1, third.stderr
    assert not first.ports_file.exists()


def test_a_start_that_stops_at_its_config_removes_a_stale_file(tmp_path) -> None:
    """A file of an older smsgw (no pid) or a torn one is stale too."""
    smsgw = Smsgw(tmp_path, "[smpp]\nprot = 1\n")
    smsgw.ports_file.write_text('{"smpp": 2775, "http_url": "http://127.0.0.1:8775"}\n')
    result = subprocess.run(
        smsgw.command(), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 2, result.stderr
    assert not smsgw.ports_file.exists()
