"""``python -m benchmarks``: smsgw against node-smpp and a null SMSC, interleaved rounds.

For each round, each window and each server, a fresh server process is started, warmed up,
and loaded by :mod:`benchmarks.loadgen` running in a second process (by
:mod:`benchmarks.multiload` for the many-bind shapes: B transceivers of one account, each
keeping a window); the server's CPU time
and peak RSS are read from /proc. Then the unmodified smpplib client plays ping-pong with
each server. Medians over rounds are printed as tables, with smsgw's submits/s as a ratio of
the reference's, and every raw run is written to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import report, servers

TARGETS = ("null", "reference", "smsgw", "smsgw-pg", "smsgw-pg2", "smsgw-cmpp")
#: Targets that are several processes; each load is split evenly among them.
POSTGRES_TARGETS = ("smsgw-pg", "smsgw-pg2")
#: The load generator of a target that is not loaded over SMPP; it has one bind, so no
#: many-bind shapes and no smpplib ping-pong.
CLIENTS = {"smsgw-cmpp": "benchmarks.cmppload"}
RESULTS = servers.BENCH_DIR / "results" / "latest.json"


def _parse_windows(text: str) -> list[int]:
    windows = [int(w) for w in text.split(",") if w.strip()]
    if not windows or min(windows) < 1:
        raise argparse.ArgumentTypeError("windows are positive integers, e.g. 1,100")
    return windows


def _parse_shapes(text: str) -> list[tuple[int, int]]:
    """``10x10,100x10``: binds × window per bind; an empty string for none."""
    shapes = []
    for part in text.split(","):
        if not part.strip():
            continue
        binds, _, window = part.strip().partition("x")
        try:
            shape = (int(binds), int(window))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: write BINDSxWINDOW, e.g. 10x10") from None
        if shape[0] < 2 or shape[1] < 1:
            raise argparse.ArgumentTypeError(
                f"{part!r}: at least 2 binds (one bind is --windows) and window 1"
            )
        shapes.append(shape)
    return shapes


def _parse_only(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {','.join(TARGETS)}; unknown: {','.join(unknown)}")
    return [t for t in TARGETS if t in names]


class Bench:
    """One benchmark session: which targets run, what was skipped, and the raw runs."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.skipped: dict[str, str] = {}
        self.reference: servers.Reference | None = None
        self.load_runs: list[dict[str, Any]] = []
        self.pingpong_runs: list[dict[str, Any]] = []
        self.postgres: Any = None
        self._databases = 0

    def prepare(self) -> None:
        """Install the reference if it is wanted; record why it is skipped otherwise."""
        if "reference" in self.args.only:
            print("preparing the node-smpp reference (npm install into benchmarks/.cache/reference)...")
            try:
                self.reference = servers.prepare_reference()
            except servers.Unavailable as exc:
                self._skip("reference", str(exc))
            else:
                r = self.reference
                print(f"  smpp {r.smpp_version} installed; node {r.node_version}, npm {r.npm_version}")
        if any(name in self.args.only for name in POSTGRES_TARGETS):
            self.prepare_postgres()

    def prepare_postgres(self) -> None:
        """Start a throwaway PostgreSQL server for smsgw-pg and smsgw-pg2 (tests/postgres.py's,
        on a free port, fsync off as for the tests: the figures are smsgw's work, not a disk's)."""
        from tests.postgres import PostgresServer, unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            for name in POSTGRES_TARGETS:
                self._skip(name, reason)
            return
        print("starting a throwaway PostgreSQL server...")
        self.postgres = PostgresServer().start()

    def close(self) -> None:
        """Stop what :meth:`prepare` started."""
        if self.postgres is not None:
            self.postgres.stop()

    def _new_database(self) -> str:
        self._databases += 1
        return str(self.postgres.create_database(f"bench{self._databases}"))

    def _skip(self, name: str, reason: str) -> None:
        self.skipped[name] = reason
        print(f"SKIPPING {name}: {reason}")

    def _start(self, name: str, tag: str) -> list[servers.Server] | None:
        """Start a target's fresh server processes for one run (two nodes for smsgw-pg2);
        None if the target is unavailable."""
        if name in self.skipped:
            return None
        workdir = self.workdir / tag
        workdir.mkdir()
        starters: dict[str, Callable[[], list[servers.Server]]] = {
            "null": lambda: [servers.start_null(workdir)],
            "null-delayed-ack": lambda: [servers.start_null(workdir, quickack=False)],
            "smsgw": lambda: [servers.start_smsgw(workdir)],
            "smsgw-cmpp": lambda: [servers.start_smsgw(workdir, cmpp=True)],
        }
        if self.postgres is not None:
            starters["smsgw-pg"] = lambda: [servers.start_smsgw(workdir, store_url=self._new_database())]
            starters["smsgw-pg2"] = lambda: servers.start_nodes(workdir, self._new_database(), ["a", "b"])
        if self.reference is not None:
            reference = self.reference
            starters["reference"] = lambda: [servers.start_reference(workdir, reference)]
        try:
            return starters[name]()
        except servers.Unavailable as exc:
            # smsgw not written yet, or broken: say so once and stop trying.
            self._skip(name, str(exc))
            return None

    def load_run(self, name: str, round_no: int, window: int, n: int, binds: int = 1) -> None:
        """Warm a fresh target up, then measure one windowed load run against it (from
        ``binds`` transceivers when more than one); a target of several nodes gets one
        generator per node, each with its share of the messages and binds, run at once."""
        started = self._start(name, f"{name}-r{round_no}-b{binds}-w{window}")
        if started is None:
            return
        timeout = 60 + n / 500
        module = CLIENTS.get(name, "benchmarks.loadgen")
        result: dict[str, Any]
        try:
            warm: list[dict[str, Any]] = []
            if self.args.warmup:
                warm = [
                    servers.run_client(
                        module,
                        server,
                        ["-n", str(self.args.warmup), "--window", "100"],
                        timeout,
                    )
                    for server in started
                ]
            failed = [w["error"] for w in warm if "error" in w]
            if failed:
                result = {"error": f"warm-up failed: {'; '.join(failed)}"}
            else:
                extra = ["--binds", str(max(1, binds // len(started))), "--window", str(window)]
                if name in CLIENTS:
                    extra = extra[2:]  # one connection: no --binds
                runs, cpu_used = servers.load_split(started, n, extra, timeout, module)
                result = runs[0] if len(started) == 1 else report.merge_loads(runs)
                for server in started:
                    if server.process.poll() is not None:
                        raise OSError(f"{server.name} exit status {server.process.returncode}")
                result.update(
                    server_cpu_seconds=cpu_used,
                    server_cpu_us_per_msg=cpu_used / n * 1e6,
                    peak_rss_mib=sum(server.peak_rss_mib() for server in started),
                )
            result.update(server=name, round=round_no, window=window, n=n, binds=binds)
        except OSError as exc:  # /proc entry gone: the server died
            result = {
                "server": name,
                "round": round_no,
                "window": window,
                "binds": binds,
                "n": n,
                "error": f"server died ({exc}): {' | '.join(server.log_tail() for server in started)}",
            }
        finally:
            for server in started:
                server.stop()
        self.load_runs.append(result)
        _print_progress(result)

    def pingpong_run(self, name: str, round_no: int) -> None:
        """Measure the smpplib one-at-a-time client against a fresh server."""
        started = self._start(name, f"{name}-r{round_no}-pingpong")
        if started is None:
            return
        (server,) = started
        # The delayed-ACK demonstration only needs to show its ~46/s, not run long.
        seconds = (
            min(2.0, self.args.pingpong_seconds) if name == "null-delayed-ack" else self.args.pingpong_seconds
        )
        extra = ["-n", str(self.args.pingpong_n), "--max-seconds", str(seconds)]
        try:
            result = servers.run_client("benchmarks.smpplib_pingpong", server, extra, seconds + 60)
        finally:
            server.stop()
        result.update(server=name, round=round_no)
        self.pingpong_runs.append(result)
        if "error" in result:
            print(f"  smpplib ping-pong  {name:<17} FAILED: {result['error']}")
        else:
            rate, sent = result["rate"], result["sent"]
            print(f"  smpplib ping-pong  {name:<17} {rate:>9,.0f} msgs/s ({sent} sent)")

    def run(self) -> None:
        """All rounds, interleaved: each round visits every window and server once."""
        args = self.args
        for round_no in range(1, args.rounds + 1):
            # Rotate the order each round so no server always runs first on a cold machine.
            shift = (round_no - 1) % len(args.only)
            order = args.only[shift:] + args.only[:shift]
            print(f"round {round_no}/{args.rounds}")
            for window in args.windows:
                n = args.n or (5_000 if window == 1 else 20_000)
                for name in order:
                    self.load_run(name, round_no, window, n)
            for binds, window in args.shapes:
                # The null server serves one connection at a time: it has no many-bind figure.
                for name in (server for server in order if server != "null" and server not in CLIENTS):
                    self.load_run(name, round_no, window, args.n or 20_000, binds)
            if args.pingpong:
                # One message in flight at a time: a second node would idle, so smsgw-pg2 has none.
                extra = ["null-delayed-ack"] if "null" in order else []
                for name in [s for s in order if s != "smsgw-pg2" and s not in CLIENTS] + extra:
                    self.pingpong_run(name, round_no)


def _print_progress(r: dict[str, Any]) -> None:
    head = f"  {report.shape_of(r):<22} {r['server']:<10}"
    if "error" in r:
        print(f"{head} FAILED: {r['error']}")
        return
    print(
        f"{head} {r['submit_rate']:>9,.0f} submits/s {r['receipt_rate']:>9,.0f} receipts/s "
        f"p50 {r['p50_ms']:.2f} p99 {r['p99_ms']:.2f} ms  srv {r['server_cpu_us_per_msg']:.1f} "
        f"gen {r['client_cpu_us_per_msg']:.1f} µs/msg  {r['peak_rss_mib']:.0f} MiB  "
        f"errors {r['errors']} unmatched {r['unmatched'] + r['orphan_receipts']}"
        + ("" if r.get("stopped") == "complete" else f"  [{r.get('stopped')}]")
    )


def _meta(bench: Bench) -> dict[str, Any]:
    ref = bench.reference
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        "node": ref.node_version if ref else None,
        "npm": ref.npm_version if ref else None,
        "smpp_npm_package": ref.smpp_version if ref else None,
        "reference_node_modules": ref.packages if ref else None,
        "args": {k: v for k, v in vars(bench.args).items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see ``benchmarks/README.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--n",
        type=int,
        default=0,
        help="submit_sm per run (default: 5000 at window 1, 20000 otherwise)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--windows", type=_parse_windows, default=[1, 100])
    parser.add_argument(
        "--shapes",
        type=_parse_shapes,
        default=[(10, 10), (100, 10)],
        help="many-bind loads as BINDSxWINDOW (default 10x10,100x10; '' for none)",
    )
    parser.add_argument(
        "--only",
        type=_parse_only,
        default=list(TARGETS),
        help="comma-separated subset of " + ",".join(TARGETS),
    )
    parser.add_argument("--warmup", type=int, default=2000, help="untimed messages before each run (0: none)")
    parser.add_argument("--pingpong-n", type=int, default=2000)
    parser.add_argument("--pingpong-seconds", type=float, default=3.0)
    parser.add_argument("--no-pingpong", dest="pingpong", action="store_false")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"raw results (default {RESULTS})")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="smsgw-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.prepare()
            bench.run()
        finally:
            bench.close()

    load = report.summarize_load(bench.load_runs)
    pingpong = report.summarize_pingpong(bench.pingpong_runs)
    ratio = report.ratios(load)
    ratio_pg = report.ratios(load, "smsgw-pg")
    ratio_pg2 = report.ratios(load, "smsgw-pg2")
    ratio_cmpp = report.ratios(load, "smsgw-cmpp")
    order = list(TARGETS)
    print()
    for shape, by_server in load.items():
        print(report.load_table(shape, by_server, order))
        if shape in ratio:
            print(f"smsgw / reference submits/s, {shape}: {ratio[shape]:.2f}")
        if shape in ratio_pg:
            print(f"smsgw on PostgreSQL / reference submits/s, {shape}: {ratio_pg[shape]:.2f}")
        if shape in ratio_pg2:
            print(f"smsgw, 2 nodes on PostgreSQL / reference submits/s, {shape}: {ratio_pg2[shape]:.2f}")
        if shape in ratio_cmpp:
            print(f"smsgw over CMPP / reference submits/s, {shape}: {ratio_cmpp[shape]:.2f}")
        print()
    if pingpong:
        print(report.pingpong_table(pingpong, order + ["null-delayed-ack"]))
        print()
    for name, reason in bench.skipped.items():
        print(f"skipped {name}: {' '.join(reason.split())[:300]}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "meta": _meta(bench),
                "skipped": bench.skipped,
                "summary": {
                    "load": {str(w): s for w, s in load.items()},
                    "pingpong": pingpong,
                    "smsgw_over_reference": {str(w): r for w, r in ratio.items()},
                    "smsgw_pg_over_reference": {str(w): r for w, r in ratio_pg.items()},
                    "smsgw_pg2_over_reference": {str(w): r for w, r in ratio_pg2.items()},
                    "smsgw_cmpp_over_reference": {str(w): r for w, r in ratio_cmpp.items()},
                },
                "load_runs": bench.load_runs,
                "pingpong_runs": bench.pingpong_runs,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"raw results: {args.json}")
    return 0 if bench.load_runs or bench.pingpong_runs else 1


if __name__ == "__main__":
    sys.exit(main())
