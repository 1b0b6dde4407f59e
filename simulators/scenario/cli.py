"""``smsgw scenario run PATH…`` and ``smsgw scenario schema``."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from simulators.carrier_process import CarrierProcess, CarrierStartError
from simulators.http import SmsgwError, call_api
from simulators.scenario.document import DocumentError
from simulators.scenario.esme import ScenarioEsme
from simulators.scenario.model import Scenario, find_files, load_file, schema
from simulators.scenario.report import Progress, summary, write_junit
from simulators.scenario.runner import run_all
from simulators.scenario.steps import Network

#: Exit statuses: every scenario passed, one did not, the run could not start.
PASSED, FAILED, UNUSABLE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsgw scenario", description="Run scenario files (docs/scenarios.md)."
    )
    commands = parser.add_subparsers(dest="action", required=True)
    run = commands.add_parser("run", help="run scenario files against a carrier")
    run.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="scenario files, or directories of *.yaml"
    )
    run.add_argument(
        "--carrier", metavar="URL", help="a running carrier's HTTP API (default: start one just for this run)"
    )
    run.add_argument(
        "--merchant",
        metavar="URL",
        help="its mock merchant's API (default: what the carrier's health reports)",
    )
    run.add_argument(
        "--esme", default="smsgw:smsgw", metavar="SYSTEM_ID:PASSWORD", help="the account submit steps bind as"
    )
    run.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    run.add_argument("--jobs", type=int, default=4, metavar="N", help="scenarios run at once (default 4)")
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the mock merchant's seed (one-time codes), for a carrier the run starts",
    )
    run.add_argument(
        "--namespace", metavar="NAME", help="label of this run's handsets and faults (default: a random one)"
    )
    run.add_argument(
        "--keep", action="store_true", help="keep the run's handsets and faults afterwards, to look at them"
    )
    run.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    commands.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    return parser


def _load(paths: list[Path]) -> list[Scenario]:
    scenarios: list[Scenario] = []
    for path in find_files(paths):
        scenarios += load_file(path)
    return scenarios


def _esme_binder(
    smpp: tuple[str, int], credentials: str, timeout: float
) -> tuple[Callable[[], ScenarioEsme], Callable[[], None]]:
    """A function that binds the run's ESME the first time a step needs it, and its closer."""
    system_id, _, password = credentials.partition(":")
    bound: list[ScenarioEsme] = []
    lock = threading.Lock()

    def esme() -> ScenarioEsme:
        with lock:
            if not bound:
                bound.append(ScenarioEsme(smpp[0], smpp[1], system_id, password, timeout=timeout))
            return bound[0]

    def close() -> None:
        with lock:
            for client in bound:
                client.close()

    return esme, close


def _start_carrier(stack: ExitStack, seed: int | None) -> dict[str, object]:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smsgw-scenarios-")))
    config = f"[merchant]\nseed = {seed}\n" if seed is not None else None
    carrier = CarrierProcess(workdir, config=config)
    stack.callback(carrier.stop)
    return carrier.wait_ready()


def _network(args: argparse.Namespace, stack: ExitStack) -> Network:
    if args.carrier is None:
        endpoints = _start_carrier(stack, args.seed)
        http_url, merchant_url = str(endpoints["http_url"]), str(endpoints["merchant_url"])
        smpp = (str(endpoints["smpp_host"]), int(str(endpoints["smpp"])))
    else:
        http_url = args.carrier.rstrip("/")
        health = call_api(http_url, "GET", "/api/health", timeout=10.0)
        merchant_url = args.merchant or health.get("merchant", {}).get("url")
        smpp = (health["smpp"]["host"], int(health["smpp"]["port"]))
    esme, close = _esme_binder(smpp, args.esme, 10.0)
    stack.callback(close)
    namespace = args.namespace or f"run-{secrets.token_hex(3)}"
    if args.carrier is not None and not args.keep:
        stack.callback(_reset, http_url, namespace)
    return Network(http_url, merchant_url, esme, namespace)


def _reset(http_url: str, namespace: str) -> None:
    """Clear the run's world on a shared carrier: its handsets and faults, nobody else's."""
    try:
        call_api(http_url, "DELETE", f"/api/namespaces/{namespace}", timeout=10.0)
    except SmsgwError as error:
        if error.status != 404:
            print(f"smsgw scenario: could not reset namespace {namespace}: {error}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        scenarios = _load(args.paths)
    except (DocumentError, FileNotFoundError) as error:
        print(f"smsgw scenario: {error}", file=sys.stderr)
        return UNUSABLE
    if not scenarios:
        print("smsgw scenario: the files hold no scenarios", file=sys.stderr)
        return UNUSABLE
    started = time.monotonic()
    with ExitStack() as stack:
        try:
            network = _network(args, stack)
        except (CarrierStartError, SmsgwError) as error:
            print(f"smsgw scenario: no carrier to run against: {error}", file=sys.stderr)
            return UNUSABLE
        where = "a carrier of its own" if args.carrier is None else network.http_url
        movers = sum(s.moves_clock for s in scenarios)
        if args.carrier is not None and movers:
            print(
                f"note: {movers} of the scenarios advance the carrier's clock; they run alone in this"
                " run, but other runs on this carrier see the jump too",
                flush=True,
            )
        noun = "scenario" if len(scenarios) == 1 else "scenarios"
        print(f"running {len(scenarios)} {noun} against {where} (namespace {network.namespace})", flush=True)
        outcomes = run_all(
            scenarios, network, jobs=args.jobs, on_done=Progress(len(scenarios), sys.stdout, quiet=args.quiet)
        )
        if args.keep:
            print(
                f"kept namespace {network.namespace}: GET {network.http_url}/api/messages?namespace={network.namespace}"
            )
    seconds = time.monotonic() - started
    print(summary(outcomes, seconds), flush=True)
    if args.junit is not None:
        write_junit(args.junit, outcomes, seconds)
        print(f"JUnit XML: {args.junit}")
    return PASSED if all(o.passed for o in outcomes) else FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.action == "schema":
        print(json.dumps(schema(), indent=1, ensure_ascii=False))
        return PASSED
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
