"""``smsgw scenario run PATH…`` and ``smsgw scenario schema``."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from simulators.carrier_process import CarrierStartError
from simulators.http import SmsgwError, call_api
from simulators.scenario import own_carrier
from simulators.scenario.document import DocumentError
from simulators.scenario.esme import EsmeError, ScenarioEsme
from simulators.scenario.model import Scenario, check_file, find_files, schema
from simulators.scenario.report import (
    Progress,
    plural,
    summary,
    write_junit,
    write_junit_problem,
    write_junit_problems,
)
from simulators.scenario.runner import Outcome, run_all
from simulators.scenario.steps import Network
from smsgw.carrier.bindrange import MAX_BIND_NAMESPACE
from smsgw.carrier.subscribers import NAMESPACE_PATTERN, NAMESPACE_RULE

#: The built-in account of a carrier with no configuration.
DEFAULT_ESME = "smsgw:smsgw"
#: Exit statuses: every scenario passed, one did not, the run could not start, Ctrl-C.
PASSED, FAILED, UNUSABLE, INTERRUPTED = 0, 1, 2, 130


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of scenarios (1 or more)")
    return number


def _namespace(text: str) -> str:
    if not text or not NAMESPACE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a namespace: {NAMESPACE_RULE}")
    return text


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
        "--esme",
        metavar="SYSTEM_ID:PASSWORD",
        help="the account the run's ESME binds as: its submits, receipts and MO to its short codes"
        " (default: the carrier's first account, smsgw:smsgw)",
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="smsgw serve --config FILE for the carrier the run starts (your USSD routes, timers, accounts)",
    )
    run.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    run.add_argument(
        "--jobs", type=_positive, default=4, metavar="N", help="scenarios run at once (default 4)"
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the mock merchant's seed (one-time codes), for a carrier the run starts",
    )
    run.add_argument(
        "--namespace",
        type=_namespace,
        metavar="NAME",
        help="label of this run's handsets and faults (default: a random one)",
    )
    run.add_argument(
        "--keep", action="store_true", help="keep the run's handsets and faults afterwards, to look at them"
    )
    run.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    commands.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    return parser


def _load(paths: list[Path]) -> tuple[list[Scenario], list[DocumentError]]:
    """Every file's scenarios and every file's problems: one run shows all there is to fix."""
    scenarios: list[Scenario] = []
    problems: list[DocumentError] = []
    for path in find_files(paths):
        found, errors = check_file(path)
        scenarios += found
        problems += errors
    return scenarios, problems


def _esme_binder(
    smpp: tuple[str, int], credentials: str, timeout: float, namespace: str
) -> tuple[Callable[[], ScenarioEsme], Callable[[], None]]:
    """A function that binds the run's ESME the first time a step needs it, and its closer.

    It binds in the run's namespace, so that on a shared carrier it takes the receipts and MO
    of the run's handsets and nobody else's (a namespace longer than address_range holds
    binds as the catch-all).
    """
    system_id, _, password = credentials.partition(":")
    if len(namespace) > MAX_BIND_NAMESPACE:
        namespace = ""
    bound: list[ScenarioEsme] = []
    lock = threading.Lock()

    def esme() -> ScenarioEsme:
        with lock:
            if not bound:
                bound.append(
                    ScenarioEsme(smpp[0], smpp[1], system_id, password, timeout=timeout, namespace=namespace)
                )
            return bound[0]

    def close() -> None:
        with lock:
            for client in bound:
                client.close()

    return esme, close


def _network(args: argparse.Namespace, stack: ExitStack) -> Network:
    credentials = args.esme
    if args.carrier is None:
        endpoints = own_carrier.start(stack, config=args.config, seed=args.seed)
        http_url, merchant_url = str(endpoints["http_url"]), str(endpoints["merchant_url"])
        smpp = (str(endpoints["smpp_host"]), int(str(endpoints["smpp"])))
        # A --config may change the accounts: its first is the one the carrier names.
        credentials = credentials or f"{endpoints['system_id']}:{endpoints['password']}"
    else:
        http_url = args.carrier.rstrip("/")
        health = call_api(http_url, "GET", "/api/health", timeout=10.0)
        merchant_url = args.merchant or health.get("merchant", {}).get("url")
        smpp = (health["smpp"]["host"], int(health["smpp"]["port"]))
    namespace = args.namespace or f"run-{secrets.token_hex(3)}"
    esme, close = _esme_binder(smpp, credentials or DEFAULT_ESME, 10.0, namespace)
    stack.callback(close)
    if args.carrier is not None and not args.keep:
        stack.callback(_reset, http_url, namespace)
    clocks = args.carrier is None or _has_namespace_clocks(http_url, namespace)
    return Network(http_url, merchant_url, esme, namespace, namespace_clocks=clocks)


def _has_namespace_clocks(http_url: str, namespace: str) -> bool:
    """Whether the carrier keeps a clock per namespace (an older one answers its own clock)."""
    reading = call_api(http_url, "GET", "/api/clock", query={"namespace": namespace}, timeout=10.0)
    return "namespace" in reading


def _reset(http_url: str, namespace: str) -> None:
    """Clear the run's world on a shared carrier: its handsets and faults, nobody else's."""
    try:
        call_api(http_url, "DELETE", f"/api/namespaces/{namespace}", timeout=10.0)
    except SmsgwError as error:
        if error.status != 404:
            print(f"smsgw scenario: could not reset namespace {namespace}: {error}", file=sys.stderr)


def _unusable(args: argparse.Namespace, problem: str) -> int:
    """Say why the run cannot start, also in the JUnit file CI looks for."""
    print(f"smsgw scenario: {problem}", file=sys.stderr)
    if args.junit is not None:
        write_junit_problem(args.junit, problem)
    return UNUSABLE


def _invalid(args: argparse.Namespace, problems: list[DocumentError]) -> int:
    """Every problem of every file, before anything runs; in JUnit one error case each."""
    for problem in problems:
        print(problem.args[0], file=sys.stderr)
    files = len({problem.path for problem in problems})
    print(
        f"{plural(len(problems), 'problem')} in {plural(files, 'file')}: nothing ran (docs/scenarios.md)",
        file=sys.stderr,
    )
    if args.junit is not None:
        write_junit_problems(args.junit, problems)
    return UNUSABLE


def _notes(args: argparse.Namespace, scenarios: list[Scenario]) -> None:
    if args.carrier is not None and args.seed is not None:
        print("note: --seed seeds a carrier the run starts; the one at --carrier keeps its own seed")
    if args.carrier is not None and args.config is not None:
        print("note: --config configures a carrier the run starts; the one at --carrier keeps its own")
    if args.carrier is None and args.merchant is not None:
        print("note: --merchant goes with --carrier; the run's own carrier has its own merchant")
    alone = sum(s.runs_alone for s in scenarios)
    if args.carrier is not None and alone:
        print(
            f"note: {alone} of the scenarios advance the whole carrier's clock or cut a shared bind; they run"
            " alone in this run, but other runs on this carrier see the effect too"
        )


def run(args: argparse.Namespace) -> int:
    try:
        scenarios, problems = _load(args.paths)
    except FileNotFoundError as error:
        return _unusable(args, str(error))
    if problems:
        return _invalid(args, problems)
    if not scenarios:
        return _unusable(args, "the files hold no scenarios")
    started = time.monotonic()
    done: list[Outcome] = []
    progress = Progress(len(scenarios), sys.stdout, quiet=args.quiet)

    def on_done(outcome: Outcome) -> None:
        done.append(outcome)
        progress(outcome)

    with ExitStack() as stack:
        try:
            network = _network(args, stack)
        except (CarrierStartError, SmsgwError, EsmeError) as error:
            return _unusable(args, f"no carrier to run against: {error}")
        if not args.quiet:
            _notes(args, scenarios)
            where = "a carrier of its own" if args.carrier is None else network.http_url
            running = f"running {plural(len(scenarios), 'scenario')} against {where}"
            print(f"{running} (namespace {network.namespace})", flush=True)
        try:
            outcomes = run_all(scenarios, network, jobs=args.jobs, on_done=on_done)
        except KeyboardInterrupt:
            outcomes = list(done)
            print(f"\ninterrupted: {len(outcomes)} of {len(scenarios)} scenarios ended", flush=True)
        if args.keep:
            print(
                f"kept namespace {network.namespace}: "
                f"GET {network.http_url}/api/messages?namespace={network.namespace}"
            )
    seconds = time.monotonic() - started
    print(summary(outcomes, seconds, quiet=args.quiet), flush=True)
    if args.junit is not None:
        write_junit(args.junit, outcomes, seconds)
        if not args.quiet:
            print(f"JUnit XML: {args.junit}")
    if len(outcomes) < len(scenarios):
        return INTERRUPTED
    return PASSED if all(o.passed for o in outcomes) else FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.action == "schema":
        print(json.dumps(schema(), indent=1, ensure_ascii=False))
        return PASSED
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
