"""``smsgw serve`` with its mock merchant as a child process on free ports, for tools that need
a carrier of their own (``smsgw demo``, ``smsgw scenario run``, the pytest plugin)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from simulators.http import SmsgwError, call_api

#: Where the project lives, so ``python -m smsgw`` imports the same code from any directory.
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0


class CarrierStartError(Exception):
    """The carrier did not come up; the message carries the end of its log."""


class CarrierProcess:
    """``smsgw serve`` on free ports with an in-memory store, its output in ``workdir/serve.log``.

    :param config: TOML for ``--config`` (written to ``workdir/smsgw.toml``), or None.
    :param config_path: a configuration file of the caller's, passed as it is (not with ``config``).
    :param merchant: whether to run the mock merchant (and wait until it is bound).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        config: str | None = None,
        config_path: Path | None = None,
        merchant: bool = True,
    ) -> None:
        self.ports_file = workdir / "ports.json"
        self.log_path = workdir / "serve.log"
        self.merchant = merchant
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open as long as the process runs
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [
            sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0",
            "--db", ":memory:", "--ports-file", str(self.ports_file),
        ]  # fmt: skip
        command += ["--merchant-port", "0"] if merchant else ["--no-merchant"]
        if config is not None:
            config_path = workdir / "smsgw.toml"
            config_path.write_text(config, encoding="utf-8")
        if config_path is not None:
            # The child runs in the project's directory: a relative path would point elsewhere.
            command += ["--config", str(Path(config_path).resolve())]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=env,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """The ports file's contents once the carrier (and its merchant, bound) is up.

        :raises CarrierStartError: it exited, or was not ready in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise CarrierStartError(f"smsgw serve exited with {self.process.returncode}:\n{self.log()}")
            if self.ports_file.exists():
                endpoints: dict[str, Any] = json.loads(self.ports_file.read_text())
                if not self.merchant:
                    return endpoints
                try:
                    health = call_api(endpoints["merchant_url"], "GET", "/health", timeout=5.0)
                except SmsgwError:
                    health = {}
                if health.get("bound"):
                    return endpoints
            if time.monotonic() >= deadline:
                raise CarrierStartError(f"smsgw serve was not ready within {timeout:g} s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        """The last lines it printed."""
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-20:]) or "(no output)"

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after 10 s."""
        stop_process(self.process)
        self._log.close()


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM a child (smsgw unbinds and flushes on it), then SIGKILL if it is not gone in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
