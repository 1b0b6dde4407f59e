"""One abuse measured: the abuser started in its own process, the probe run while it is in
force, the merchant's session and the carrier's RSS checked; and the table of outcomes."""

from __future__ import annotations

import json
import math
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.abuse.abusers import ABUSES
from benchmarks.abuse.carrier import ROOT, Carrier
from benchmarks.abuse.probe import INTERVAL, TIMEOUT, Stats, run_probes

#: Seconds an abuser may take to set itself up (filling an inbox, opening 3,000 sockets).
SETUP_TIMEOUT = 40.0
#: Seconds after the abuse ends before the "after" RSS is read.
SETTLE = 2.0


class AbuserError(Exception):
    """The abuser could not set its abuse up; the message says why."""


@dataclass
class Outcome:
    """What the probe saw under one abuse, and what the abuser did."""

    name: str
    stats: Stats
    #: "yes" (the session bound before is still there), "rebound", "no", or "no answer".
    merchant: str
    rss_before: float | None = None
    rss_peak: float | None = None
    rss_after: float | None = None
    ready: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Abuser:
    """The abuser's process: started, waited for, stopped."""

    def __init__(self, name: str, carrier: Carrier, log: Path) -> None:
        self.name = name
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.abuse.abusers", name, json.dumps(carrier.context)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=str(ROOT),
            )
        self.log = log

    def _line(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line it prints, or None if none came in time (or it ended silently)."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        line = self.process.stdout.readline()
        return json.loads(line) if line.strip() else None

    def wait_ready(self, timeout: float = SETUP_TIMEOUT) -> dict[str, Any]:
        """What it set up, once its abuse is in force.

        :raises AbuserError: it failed or took too long.
        """
        line = self._line(timeout)
        if line is None or "ready" not in line:
            self.stop()
            why = line.get("error") if line else f"not ready within {timeout:g} s"
            raise AbuserError(f"abuse {self.name}: {why}\n{self._tail()}")
        return dict(line["ready"])

    def stop(self, grace: float = 10.0) -> dict[str, Any]:
        """SIGTERM, then SIGKILL after ``grace`` s; what it counted (its last line)."""
        result: dict[str, Any] = {}
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        line = self._line(grace)
        if line is not None:
            result = line["done"] if "done" in line else {"error": line.get("error")}
        try:
            self.process.wait(1.0 if line is not None else 0.1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            result.setdefault("killed", f"did not end within {grace:g} s of SIGTERM")
        assert self.process.stdout is not None
        self.process.stdout.close()
        return result

    def _tail(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-10:])


def measure(
    carrier: Carrier,
    name: str,
    seconds: float,
    workdir: Path,
    *,
    interval: float = INTERVAL,
    timeout: float = TIMEOUT,
    settle: float = SETTLE,
) -> Outcome:
    """Run abuse ``name`` against ``carrier`` and probe for ``seconds`` s while it is in force.

    :raises AbuserError: the abuse could not be set up.
    """
    if name not in ABUSES:
        raise KeyError(f"no abuse {name!r}; choose among {', '.join(ABUSES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    merchant_before = carrier.merchant_sessions() or set()
    rss_before = carrier.rss_mib()
    peak = [rss_before]

    def sample() -> None:
        rss = carrier.rss_mib()
        if rss is not None:
            peak[0] = max(peak[0] or 0.0, rss)

    abuser = Abuser(name, carrier, workdir / f"abuser-{name}.log")
    ready = abuser.wait_ready()
    ctx = carrier.context
    try:
        stats = run_probes(
            carrier.smpp_address, ctx["system_id"], ctx["password"], seconds,
            interval=interval, timeout=timeout, between=sample,
        )  # fmt: skip
    finally:
        done = abuser.stop()
    # Asked once the abuse is over (some abuses hold every HTTP request slot while they run):
    # the same session id as before means the merchant stayed bound throughout.
    merchant_after = carrier.merchant_sessions(timeout=timeout)
    sample()
    if rss_before is not None and settle > 0:
        time.sleep(settle)
    merchant = _merchant_verdict(merchant_before, merchant_after)
    return Outcome(name, stats, merchant, rss_before, peak[0], carrier.rss_mib(), ready, done)


def _merchant_verdict(before: set[int], after: set[int] | None) -> str:
    if after is None:
        return "no answer"
    if before & after:
        return "yes"
    return "rebound" if after else "no"


# -- the table -------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "timeout"
    return f"{seconds * 1000:.1f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(outcomes: list[Outcome]) -> str:
    """The outcomes as a Markdown table, then a note per abuse on failures and what the abuser did."""
    rows = [
        "| abuse | n | bind p50 / p99 ms | submit p50 / p99 ms | max ms | timeouts | failed | merchant bound | RSS MiB before / peak / after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for o in outcomes:
        s = o.stats
        worst = max((t for stage in ("bind", "submit") for t in s.times(stage)), default=None)
        rows.append(
            f"| {o.name} | {s.n} "
            f"| {_ms(s.percentile('bind', 50))} / {_ms(s.percentile('bind', 99))} "
            f"| {_ms(s.percentile('submit', 50))} / {_ms(s.percentile('submit', 99))} "
            f"| {_ms(worst)} | {s.timeouts} | {s.failed} | {o.merchant} "
            f"| {_mib(o.rss_before)} / {_mib(o.rss_peak)} / {_mib(o.rss_after)} |"
        )
        details = []
        if s.failures:
            details.append("failures: " + ", ".join(f"{n}× {why}" for why, n in s.failures.most_common()))
        details.append(f"abuser set up {json.dumps(o.ready)}; counted {json.dumps(o.done)}")
        details.extend(o.notes)
        notes.append(f"- **{o.name}**: " + "; ".join(details))
    return "\n".join(rows) + "\n\n" + "\n".join(notes)
