"""The carrier under abuse: ``smsgw serve`` with its defaults (file store in a temporary
directory, mock merchant bound), or one already running that the user names.

The process starts with the soft descriptor limit most systems give a shell (1024, see
``--nofile``), because that is where point 8 of issue 11 bites; this machine's 20,000 would
hide it. A carrier that raises its own limit at start is free to.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from benchmarks.abuse.wirekit import http_call

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
#: The soft RLIMIT_NOFILE of a login shell on most Linux systems.
DEFAULT_NOFILE = 1024


class CarrierError(Exception):
    """The carrier did not come up; the message carries the end of its log."""


class Carrier:
    """How to reach a carrier: addresses and credentials from its ports file (or health),
    and its process when this harness started it."""

    def __init__(self, endpoints: dict[str, Any], process: subprocess.Popen[bytes] | None = None) -> None:
        self.endpoints = endpoints
        self.process = process
        url = urllib.parse.urlsplit(endpoints["http_url"])
        token = endpoints.get("http_token") or os.environ.get("SMSGW_TOKEN")
        #: What the abusers and the probe need, as plain JSON (it crosses to abuser processes).
        self.context: dict[str, Any] = {
            "smpp_host": endpoints.get("smpp_host", "127.0.0.1"),
            "smpp_port": int(endpoints["smpp"]),
            "http_host": url.hostname or "127.0.0.1",
            "http_port": url.port or 80,
            "system_id": endpoints.get("system_id", "smsgw"),
            "password": endpoints.get("password", "smsgw"),
            "merchant_system_id": endpoints.get("merchant_system_id", "merchant"),
            "token": token,
        }

    @property
    def smpp_address(self) -> tuple[str, int]:
        return self.context["smpp_host"], self.context["smpp_port"]

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def rss_mib(self) -> float | None:
        """The carrier's resident set size now (VmRSS), or None when it is not ours to read."""
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def merchant_sessions(self, timeout: float = 2.0) -> set[int] | None:
        """Ids of the bound sessions of the merchant's system_id; None when the API did not answer."""
        try:
            status, body = http_call(self.context, "GET", "/api/sessions", timeout=timeout)
        except OSError:
            return None
        if status != 200 or not isinstance(body, dict):
            return None
        wanted = self.context["merchant_system_id"]
        return {s["id"] for s in body.get("sessions", ()) if s.get("system_id") == wanted}

    def healthy(self, timeout: float = 2.0) -> bool:
        """Whether /api/health answers 200 in time."""
        try:
            return http_call(self.context, "GET", "/api/health", timeout=timeout)[0] == 200
        except OSError:
            return False

    def stop(self, grace: float = 3.0) -> str:
        """SIGTERM, then SIGKILL after ``grace`` s; say which it took ("" for a carrier not ours)."""
        process = self.process
        if process is None:
            return ""
        if process.poll() is not None:
            return f"had exited ({process.returncode})"
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
            return "stopped"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return f"ignored SIGTERM for {grace:g} s: killed"


def start(workdir: Path, nofile: int = DEFAULT_NOFILE) -> Carrier:
    """``smsgw serve`` on free ports with a file store in ``workdir``; wait until the merchant is bound.

    :param nofile: the soft RLIMIT_NOFILE to start it with (0: inherit this process's).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ports_file = workdir / "ports.json"
    ports_file.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0",
        "--merchant-port", "0", "--db", str(workdir / "smsgw.db"), "--ports-file", str(ports_file),
    ]  # fmt: skip
    log_path = workdir / "serve.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=env,
            preexec_fn=(lambda: _limit_nofile(nofile)) if nofile else None,  # noqa: PLW1509 - no threads yet
        )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise CarrierError(f"smsgw serve exited with {process.returncode}:\n{_tail(log_path)}")
        if ports_file.exists():
            with contextlib.suppress(ValueError):  # written but not complete yet
                carrier = Carrier(json.loads(ports_file.read_text(encoding="utf-8")), process)
                if carrier.merchant_sessions():
                    return carrier
        if time.monotonic() >= deadline:
            process.kill()
            process.wait()
            raise CarrierError(f"smsgw serve was not ready within {START_TIMEOUT:g} s:\n{_tail(log_path)}")
        time.sleep(0.05)


def attach(where: str) -> Carrier:
    """A carrier already running, named by its ports file or its HTTP URL (read /api/health)."""
    if not where.startswith(("http://", "https://")):
        return Carrier(json.loads(Path(where).read_text(encoding="utf-8")))
    url = urllib.parse.urlsplit(where)
    probe = Carrier({"http_url": f"http://{url.hostname}:{url.port or 80}", "smpp": 0})
    status, health = http_call(probe.context, "GET", "/api/health")
    if status != 200:
        raise CarrierError(f"GET {where}/api/health answered {status}: {health}")
    return Carrier(
        {
            "http_url": probe.endpoints["http_url"],
            "smpp": health["smpp"]["port"],
            "smpp_host": health["smpp"]["host"],
            **{k: v for k, v in health.items() if k in ("system_id", "password", "merchant_system_id")},
        }
    )


def _limit_nofile(soft: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"
