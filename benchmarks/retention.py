"""``python -m benchmarks.retention``: store size and submits/s while retention prunes 1M messages.

Issue 20: the store's size and the submit rate before, during and after retention prunes a
million old messages.

A store is filled by :mod:`benchmarks.fillstore` (``--messages`` final messages that ended 8 to
15 days ago, plus ``--owed`` as old that are still owed), then smsgw serves it in phases, each
a run of *slices*: ``--slice`` submit_sm at window ``--window`` from
:func:`benchmarks.loadgen.run_load` against smsgw, then the same against the node-smpp
reference (started once, stores nothing), so every slice has its ratio.

- **before**: retention off (``keep_days = 0``, ``keep_messages = 0``), ``--slices`` slices.
- **during**: smsgw restarted with ``keep_days = --keep-days`` (7: every prefilled message is
  older); a slice every ``--interval`` seconds until ``smsgw_messages_pruned_total`` reaches
  the prefilled messages that owe nothing.
- **compacting**: the same, until ``smsgw_store_free_bytes`` is 0 (the freed pages are given
  back to the disk).
- **after**: ``--slices`` slices in the same process.
- **restarted**: smsgw restarted on the store as it is now (timed), ``--slices`` slices: what
  the store costs, apart from what the process went through.

With ``--control N`` the run is the control instead: after *before*, smsgw is restarted with
retention still off and N slices (**unpruned**) run at the same ``--interval``, the slices the
*during* phase would run, on a store that grows alike but loses nothing. What *during* costs
beyond *unpruned* is the prune's own cost.

A slice's line: the store's size on disk (the file and its WAL, ``os.stat``) and as /metrics
says it (``smsgw_store_bytes``), its free bytes, the messages stored and pruned so far (from
/metrics); smsgw's submits/s, p99 and max latency, CPU and bytes written per message (the
prune's and the compaction's work is in them); the reference's submits/s and CPU per message,
and the ratio of the rates. Restart time is from the process's start to its answering an
enquire_link on the SMPP port. At the end: medians per phase, how long the prune and the
compaction took, and the owed messages counted in the file (every one must still be there)
with SQLite's integrity check.
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import fillstore, loadgen, servers, wire

#: The benchmark's own accounts: the load generator's, and the owed messages' (never bound).
CONFIG = """\
[store]
keep_days = {keep_days:g}
keep_messages = 0

[network]
# The owed receipts are 8 to 15 days old: a carrier keeps trying that long only when told so.
delivery_validity = {validity:g}

[[accounts]]
system_id = "smsgw"
password = "smsgw"
short_codes = ["12345"]

[[accounts]]
system_id = "{owed_account}"
password = "archive"
"""
WARMUP = 2000
#: Free bytes below which the store counts as compacted.
COMPACTED = 0


@dataclass
class Slice:
    """One slice: smsgw's load, the reference's, and the store as it was after smsgw's."""

    phase: str
    seconds: float  # from the start of this smsgw process to the slice's end
    disk_bytes: int
    store_bytes: float
    free_bytes: float
    stored: float
    pruned: float
    smsgw: dict[str, Any]
    smsgw_cpu_us: float
    #: Bytes smsgw's process wrote per message (every write system call: the WAL mostly).
    smsgw_writes: float
    reference: dict[str, Any] | None
    reference_cpu_us: float

    @property
    def rate(self) -> float:
        return float(self.smsgw.get("submit_rate", float("nan")))

    @property
    def reference_rate(self) -> float:
        if self.reference is None:
            return float("nan")
        return float(self.reference.get("submit_rate", float("nan")))


def read_metrics(port: int) -> dict[str, float]:
    """smsgw's /metrics as ``{name{labels}: value}``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def pruned_total(metrics: dict[str, float]) -> float:
    """Messages pruned so far, every rule."""
    return sum(v for k, v in metrics.items() if k.startswith("smsgw_messages_pruned_total"))


def written_bytes(server: servers.Server) -> int:
    """Bytes the server's process has written so far (``wchar``: files and sockets alike)."""
    for line in Path(f"/proc/{server.process.pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def answer_enquire_link(host: str, port: int, deadline: float) -> None:
    """Wait until the SMPP port answers an enquire_link (the reactor is serving)."""
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(wire.header_only(wire.ENQUIRE_LINK, 1))
                buf = b""
                while len(buf) < 16:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                if len(buf) >= 16 and wire.HEADER.unpack_from(buf)[1] == wire.ENQUIRE_LINK_RESP:
                    return
        except OSError:
            pass  # not listening yet: asked again below, until the deadline
        if time.monotonic() > deadline:
            raise servers.Unavailable(f"{host}:{port} answered no enquire_link")
        time.sleep(0.01)


class Bench:
    """The run: the store, smsgw's processes one after another, the reference, the slices."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.db = workdir / "bench.db"  # where servers.start_smsgw puts its store
        self.smsgw: servers.Server | None = None
        self.reference: servers.Server | None = None
        self.reference_note = ""
        self.slices: list[Slice] = []
        self.restarts: list[tuple[str, float, float]] = []  # (when, seconds, stored)
        self.started_at = 0.0
        self._starts = 0
        self.prune_began = 0.0
        #: Seconds from the restart with keep_days to every message pruned, to no page free.
        self.pruned_after = self.compacted_after = float("nan")
        self.final_disk = 0

    # -- servers ------------------------------------------------------------------------

    def start_reference(self) -> None:
        """Install and start the node-smpp reference, or say why there is none."""
        if self.args.no_reference:
            self.reference_note = "the reference was not asked for (--no-reference)"
            return
        try:
            installed = servers.prepare_reference()
            ref_dir = self.workdir / "reference"
            ref_dir.mkdir()
            self.reference = servers.start_reference(ref_dir, installed)
        except servers.Unavailable as exc:
            self.reference_note = f"no node-smpp reference ({' '.join(str(exc).split())[:200]})"
            return
        print(f"node-smpp reference: smpp {installed.smpp_version}, node {installed.node_version}")
        self._load(self.reference, WARMUP)

    def start_smsgw(self, keep_days: float, when: str) -> None:
        """Start smsgw on the store with ``keep_days``; time it until it answers."""
        config = self.workdir / "smsgw.toml"
        config.write_text(
            CONFIG.format(
                keep_days=keep_days, validity=fillstore.OWED_VALIDITY, owed_account=self.args.owed_account
            ),
            encoding="utf-8",
        )
        (self.workdir / "ports.json").unlink(missing_ok=True)
        began = time.monotonic()
        server = servers.start_smsgw(
            self.workdir, timeout=self.args.start_timeout, extra=("--config", str(config))
        )
        self.smsgw = server
        answer_enquire_link(server.host, server.port, began + self.args.start_timeout)
        seconds = time.monotonic() - began
        stored = read_metrics(self._http()).get("smsgw_messages_stored", float("nan"))
        self.restarts.append((when, seconds, stored))
        print(f"smsgw started ({when}): answering after {seconds:.2f} s, {stored:,.0f} messages stored")
        self.started_at = began
        self._load(server, WARMUP)

    def stop_smsgw(self) -> None:
        """Stop smsgw (SIGTERM) and keep its log beside the others."""
        if self.smsgw is not None:
            self.smsgw.stop()
            self._starts += 1
            log = self.workdir / "smsgw.log"
            if log.exists():
                log.rename(self.workdir / f"smsgw-{self._starts}.log")
            self.smsgw = None

    def close(self) -> None:
        """Stop every process this run started."""
        self.stop_smsgw()
        if self.reference is not None:
            self.reference.stop()

    def _http(self) -> int:
        assert self.smsgw is not None
        return int(str(self.smsgw.extra["http_port"]))

    def _load(self, server: servers.Server, n: int) -> dict[str, Any]:
        try:
            return loadgen.run_load(
                server.host, server.port, server.system_id, server.password, n, self.args.window
            )
        except (OSError, loadgen.ProtocolFailure) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    # -- slices -------------------------------------------------------------------------

    def slice(self, phase: str) -> Slice:
        """One slice: smsgw's load, the store's state, the reference's load; printed."""
        assert self.smsgw is not None
        n = self.args.slice
        cpu, written = self.smsgw.cpu_seconds(), written_bytes(self.smsgw)
        result = self._load(self.smsgw, n)
        cpu, written = self.smsgw.cpu_seconds() - cpu, written_bytes(self.smsgw) - written
        metrics = read_metrics(self._http())
        reference, reference_cpu = None, float("nan")
        if self.reference is not None:
            reference_cpu = self.reference.cpu_seconds()
            reference = self._load(self.reference, n)
            reference_cpu = (self.reference.cpu_seconds() - reference_cpu) / n * 1e6
        row = Slice(
            phase,
            time.monotonic() - self.started_at,
            fillstore.disk_bytes(self.db),
            metrics.get("smsgw_store_bytes", float("nan")),
            metrics.get("smsgw_store_free_bytes", float("nan")),
            metrics.get("smsgw_messages_stored", float("nan")),
            pruned_total(metrics),
            result,
            cpu / n * 1e6,
            written / n,
            reference,
            reference_cpu,
        )
        self.slices.append(row)
        print(_line(row), flush=True)
        for name, run in (("smsgw", row.smsgw), ("reference", row.reference)):
            if run is None:
                continue
            if "error" in run:
                print(f"    {name} slice FAILED: {run['error']}")
            elif run["errors"] or run["unmatched"] or run["orphan_receipts"] or run["stopped"] != "complete":
                print(
                    f"    {name}: {run['errors']} errors {run['error_statuses']}, "
                    f"{run['unmatched'] + run['orphan_receipts']} unmatched, {run['stopped']}"
                )
        return row

    def run(self) -> None:
        """Fill the store, then the phases."""
        args = self.args
        print(
            f"filling {self.db.name}: {args.messages:,} messages that ended {args.days[0]:g} to "
            f"{args.days[1]:g} days ago, {args.owed:,} owed, {args.phones:,} phones"
        )
        filled = fillstore.fill(
            self.db, args.messages, days=args.days, phones=args.phones, owed=args.owed,
            owed_account=args.owed_account,
        )  # fmt: skip
        print(
            f"  {filled.rows:,} rows in {filled.seconds:.1f} s ({filled.rows / filled.seconds:,.0f} rows/s), "
            f"{filled.bytes / 1e6:,.1f} MB"
        )
        self.start_reference()
        if self.reference_note:
            print(f"SKIPPING the reference: {self.reference_note}; smsgw's rates are shown alone")
        print(_header())
        print(_LEGEND)

        self.start_smsgw(0, "before: retention off")
        for _ in range(args.slices):
            self.slice("before")
        self.stop_smsgw()

        if args.control:
            self.start_smsgw(0, "control: retention still off")
            for _ in range(args.control):
                began = time.monotonic()
                self.slice("unpruned")
                time.sleep(max(0.0, args.interval - (time.monotonic() - began)))
            self.stop_smsgw()
            return
        self.start_smsgw(args.keep_days, f"keep_days = {args.keep_days:g}")
        self.prune_began = self.started_at
        deadline = self.prune_began + args.timeout
        phase = "during"
        while True:
            began = time.monotonic()
            row = self.slice(phase)
            phase = self._advance(phase, row.pruned, row.free_bytes)
            # Poll /metrics until the next slice, so that a phase's end is seen when it comes.
            while phase != "after" and time.monotonic() - began < args.interval:
                time.sleep(min(1.0, max(0.0, args.interval - (time.monotonic() - began))))
                metrics = read_metrics(self._http())
                now = self._advance(phase, pruned_total(metrics), metrics.get("smsgw_store_free_bytes", 1.0))
                if now != phase:
                    phase = now
                    break
            if phase == "after":
                break
            if time.monotonic() > deadline:
                print(
                    f"TIMEOUT after {args.timeout:g} s in phase {phase!r}: {row.pruned:,.0f} pruned, "
                    f"{row.free_bytes / 1e6:,.1f} MB free"
                )
                break
        for _ in range(args.slices):
            self.slice("after")
        self.stop_smsgw()
        # The same store in a fresh process: what is the store's, and what the process's.
        self.start_smsgw(args.keep_days, "after: the prune done")
        self.final_disk = fillstore.disk_bytes(self.db)
        for _ in range(args.slices):
            self.slice("restarted")
        self.stop_smsgw()

    def _advance(self, phase: str, pruned: float, free: float) -> str:
        """The phase the store is in now: ``during`` until every prefilled message that owes
        nothing is pruned, ``compacting`` until no page is free, then ``after``."""
        if phase == "during" and pruned >= self.args.messages:
            self.pruned_after = time.monotonic() - self.prune_began
            phase = "compacting"
        if phase == "compacting" and free <= COMPACTED:
            self.compacted_after = time.monotonic() - self.prune_began
            phase = "after"
        return phase

    def check_store(self) -> str:
        """The owed messages still in the file, the prefilled ones left, SQLite's integrity check."""
        args = self.args
        db = sqlite3.connect(self.db)
        try:
            held, owing, rest = db.execute(
                "SELECT SUM(state = 1), SUM(report IS NOT NULL), SUM(state <> 1 AND report IS NULL) "
                "FROM messages WHERE system_id = ? AND id <= ?",
                (args.owed_account, args.messages + args.owed),
            ).fetchone()
            old = db.execute(
                "SELECT COUNT(*) FROM messages WHERE system_id = 'smsgw' AND id <= ?",
                (args.messages + args.owed,),
            ).fetchone()[0]
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.close()
        return (
            f"owed messages left: {held or 0:,} held + {owing or 0:,} owing a receipt of {args.owed:,} "
            f"({rest or 0:,} ended since); prefilled messages owing nothing left: {old:,} of "
            f"{args.messages:,}; integrity_check: {integrity}"
        )


_COLUMNS = (
    ("phase", 10),
    ("t s", 6),
    ("disk MB", 8),
    ("metrics MB", 10),
    ("free MB", 8),
    ("stored", 10),
    ("pruned", 10),
    ("smsgw/s", 8),
    ("p99/max ms", 10),
    ("srv µs", 6),
    ("srv KiB", 7),
    ("ref/s", 7),
    ("ref µs", 6),
    ("ratio", 5),
)


_LEGEND = (
    "(t s: since this smsgw process started; disk MB: file + WAL by os.stat; metrics MB, free MB, "
    "stored, pruned: /metrics; srv µs, srv KiB: smsgw's CPU and bytes written per message; "
    "ref µs: the reference's CPU per message; ratio: smsgw/s ÷ ref/s)"
)


def _header() -> str:
    return "  ".join(n.ljust(w) if i == 0 else n.rjust(w) for i, (n, w) in enumerate(_COLUMNS))


def _num(value: float, digits: int = 0) -> str:
    if value != value:
        return "-"
    return f"{value:,.{digits}f}"


def _line(row: Slice) -> str:
    ok = "error" not in row.smsgw
    latency = f"{row.smsgw['p99_ms']:.1f}/{row.smsgw['max_ms']:.0f}" if ok else "FAILED"
    cells = (
        row.phase,
        _num(row.seconds),
        _num(row.disk_bytes / 1e6, 1),
        _num(row.store_bytes / 1e6, 1),
        _num(row.free_bytes / 1e6, 1),
        _num(row.stored),
        _num(row.pruned),
        _num(row.rate),
        latency,
        _num(row.smsgw_cpu_us, 1) if ok else "-",
        _num(row.smsgw_writes / 1024, 1) if ok else "-",
        _num(row.reference_rate),
        _num(row.reference_cpu_us, 1),
        _num(row.rate / row.reference_rate, 2) if row.reference_rate == row.reference_rate else "-",
    )
    widths = [w for _, w in _COLUMNS]
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)


def _median(values: list[float]) -> float:
    good = [v for v in values if v == v]
    return statistics.median(good) if good else float("nan")


_SUMMARY = (
    ("phase", 10),
    ("slices", 6),
    ("smsgw/s", 7),
    ("p99 ms", 6),
    ("max ms", 6),
    ("srv µs", 6),
    ("srv KiB", 7),
    ("ref/s", 7),
    ("ref µs", 6),
    ("ratio", 5),
    ("CPU ratio", 9),
    ("disk MB", 7),
    ("free MB", 7),
    ("stored", 9),
    ("pruned", 9),
    ("B/msg", 5),
)
PHASES = ("before", "unpruned", "during", "compacting", "after", "restarted")


def summary(bench: Bench) -> str:
    """Medians per phase, the store at each phase's end, and the restarts."""
    widths = [w for _, w in _SUMMARY]
    lines = ["  ".join(n.ljust(w) if i == 0 else n.rjust(w) for i, (n, w) in enumerate(_SUMMARY))]
    for phase in PHASES:
        rows = [r for r in bench.slices if r.phase == phase]
        if not rows:
            continue
        good = [r for r in rows if "error" not in r.smsgw]
        rate, ref = _median([r.rate for r in good]), _median([r.reference_rate for r in rows])
        cpu, ref_cpu = _median([r.smsgw_cpu_us for r in good]), _median([r.reference_cpu_us for r in rows])
        last = rows[-1]
        cells = (
            phase,
            f"{len(rows)}" + (f" ({len(rows) - len(good)} failed)" if len(good) < len(rows) else ""),
            _num(rate),
            _num(_median([r.smsgw["p99_ms"] for r in good]), 1),
            _num(max((r.smsgw["max_ms"] for r in good), default=float("nan"))),
            _num(cpu, 1),
            _num(_median([r.smsgw_writes for r in good]) / 1024, 1),
            _num(ref),
            _num(ref_cpu, 1),
            _num(rate / ref, 2),
            _num(cpu / ref_cpu, 2),
            _num(last.disk_bytes / 1e6, 1),
            _num(last.free_bytes / 1e6, 1),
            _num(last.stored),
            _num(last.pruned),
            _num(last.disk_bytes / last.stored),
        )
        pairs = enumerate(zip(cells, widths, strict=True))
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs))
    lines.append(
        "medians over the phase's slices; max ms: the phase's worst; disk MB, free MB, stored, pruned "
        "and B/msg (disk bytes per stored message): at its last slice; ratio: smsgw/s ÷ ref/s; "
        "CPU ratio: srv µs ÷ ref µs"
    )
    for when, seconds, stored in bench.restarts:
        lines.append(f"restart, {when}: {seconds:.2f} s to answer, {stored:,.0f} messages stored")
    return "\n".join(lines)


def _days(text: str) -> tuple[float, float]:
    return fillstore._days(text)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module's docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.retention", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--messages", type=int, default=1_000_000, help="prefilled messages to prune (1000000)"
    )
    parser.add_argument("--owed", type=int, default=10_000, help="prefilled messages still owed (10000)")
    parser.add_argument("--phones", type=int, default=100_000, help="numbers the prefilled messages went to")
    parser.add_argument("--days", type=_days, default=(8.0, 15.0), help="MIN:MAX days ago they ended (8:15)")
    parser.add_argument("--keep-days", type=float, default=7.0, help="keep_days while pruning (7)")
    parser.add_argument("--owed-account", default=fillstore.OWED_ACCOUNT, help=argparse.SUPPRESS)
    parser.add_argument("--slice", type=int, default=20_000, help="submit_sm per slice (20000)")
    parser.add_argument("--window", type=int, default=100, help="submit_sm in flight (100)")
    parser.add_argument("--slices", type=int, default=3, help="slices before and after (3)")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between slices while pruning (10)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1200.0, help="seconds for the prune and compaction (1200)"
    )
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds for smsgw to start (300)")
    parser.add_argument("--no-reference", action="store_true", help="smsgw alone, without node-smpp")
    parser.add_argument(
        "--control", type=int, default=0, metavar="N",
        help="the control run: after before, N slices with retention still off (unpruned), and no prune",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.keep_days <= 0 or args.keep_days >= args.days[0]:
        parser.error("--keep-days must be above 0 and below the prefilled messages' least age (--days MIN)")
    if args.messages < 1 or args.slice < 1 or args.slices < 1 or args.owed < 0:
        parser.error("--messages, --slice and --slices must be at least 1, --owed at least 0")

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smsgw-retention-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.run()
        except servers.Unavailable as exc:
            print(f"smsgw could not run: {exc}")
            return 1
        finally:
            bench.close()
        check = "" if args.control else bench.check_store()
    print()
    print(summary(bench))
    if args.control:
        print(f"whole run: {time.monotonic() - began:.0f} s")
        return 0
    print(
        f"pruned {args.messages:,} in {_num(bench.pruned_after)} s after the restart, compacted after "
        f"{_num(bench.compacted_after)} s; the store on disk after the last restart: "
        f"{bench.final_disk / 1e6:,.1f} MB"
    )
    print(check)
    if bench.reference is None:
        print(f"smsgw's rates alone: {bench.reference_note}")
    print(f"whole run: {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
