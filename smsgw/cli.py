"""The ``smsgw`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from smsgw import __version__
from smsgw.companion import ReadCompanion
from smsgw.config import (
    DEFAULT_PASSWORD,
    DEFAULT_SHORT_CODE,
    DEFAULT_SYSTEM_ID,
    NODE_NAME,
    CmppSettings,
    Config,
    ConfigError,
    load_config,
)
from smsgw.store.interface import StoreError
from smsgw.store.opening import is_postgres_url


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def _store_url(text: str) -> str:
    if not is_postgres_url(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a PostgreSQL URL: write postgresql://user:password@host:5432/dbname "
            "(for a SQLite file, use --db PATH)"
        )
    return text


def _node_name(text: str) -> str:
    if not NODE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a node name: 1 to 63 letters, digits, '.', '_' or '-'"
        )
    return text


def _amount(unit: str, most: float, *, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: a number of ``unit`` above 0 (or from 0, with ``zero``) up to ``most``."""

    def amount(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if not (0 <= value if zero else 0 < value) or value > most:
            raise argparse.ArgumentTypeError(f"{text} is not between 0 and {most:g} {unit}")
        return value

    return amount


def _api_url(text: str) -> str:
    """The API's base URL; ``HOST:PORT`` alone means ``http://HOST:PORT``, as curl reads it."""
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not the carrier's HTTP address: write http://HOST:PORT or HOST:PORT "
            "(e.g. http://127.0.0.1:8775)"
        )
    return url


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="smsgw", description="A fake mobile carrier for testing SMS and USSD flows."
    )
    parser.add_argument("--version", action="version", version=f"smsgw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fake carrier (SMPP server + HTTP API)")
    serve.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("SMSGW_CONFIG") or None,
        help="TOML configuration (default $SMSGW_CONFIG; defaults work without one); "
        "SMSGW_<SECTION>_<KEY> variables override it",
    )
    serve.add_argument(
        "--smpp-port", type=_port, metavar="N", help="SMPP port (default 2775; 0 = any free port)"
    )
    serve.add_argument(
        "--http-port", type=_port, metavar="N", help="HTTP API port (default 8775; 0 = any free port)"
    )
    serve.add_argument(
        "--cmpp-port",
        type=_port,
        metavar="N",
        help="CMPP port (default 7890, or a free one with --smpp-port 0; 0 = any free port)",
    )
    store = serve.add_mutually_exclusive_group()
    store.add_argument("--db", metavar="PATH", help="store file (default smsgw.db), or :memory:")
    store.add_argument(
        "--store",
        metavar="URL",
        type=_store_url,
        help="a PostgreSQL database instead of a file: postgresql://user:password@host:5432/dbname",
    )
    serve.add_argument(
        "--node",
        metavar="NAME",
        type=_node_name,
        help="run as one of several smsgw on the --store database, under this name (docs/cluster.md)",
    )
    serve.add_argument(
        "--ports-file", metavar="FILE", help="write the chosen ports and credentials here as JSON"
    )
    serve.add_argument(
        "--no-merchant", action="store_true", help="do not run the mock merchant (bind your own app instead)"
    )
    serve.add_argument(
        "--merchant-port",
        type=_port,
        metavar="N",
        help="mock merchant API port (default 8776, or a free one with --http-port 0; 0 = any free port)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warn", "error"),
        help="log verbosity (default info)",
    )

    send = commands.add_parser("send", help="submit an SMS over SMPP to a running carrier, as an ESME would")
    send.add_argument("text", help="the message text (long texts are split with a UDH)")
    send.add_argument("--to", required=True, metavar="MSISDN", help="the handset, e.g. +8613800000001")
    send.add_argument(
        "--from",
        dest="sender",
        default=DEFAULT_SHORT_CODE,
        metavar="SENDER",
        help="source_addr (default 12345)",
    )
    send.add_argument(
        "--receipt", action="store_true", help="ask for a delivery receipt per part and wait for them"
    )
    send.add_argument(
        "--timeout",
        type=_amount("seconds", 3600),
        default=10.0,
        metavar="SECONDS",
        help="with --receipt: how long to wait for the receipts (default 10)",
    )
    _target_options(send, smpp=True)

    inbox = commands.add_parser("inbox", help="print a handset's inbox")
    inbox.add_argument("msisdn", help="the handset, e.g. +8613800000001")
    inbox.add_argument(
        "--wait",
        type=_amount("seconds", 300),  # the API's longest long poll
        metavar="SECONDS",
        help="wait this long for the next message and print it (exit 1 if none came)",
    )
    inbox.add_argument("--last", action="store_true", help="print the newest message only")
    inbox.add_argument("--json", action="store_true", help="print the API's JSON")
    _target_options(inbox)

    merchant = commands.add_parser(
        "merchant",
        help="run the mock merchant alone, bound to a running carrier (see: smsgw merchant --help)",
        add_help=False,
    )
    merchant.add_argument("options", nargs=argparse.REMAINDER)

    commands.add_parser("demo", help="run the three payment flows end to end and print what each side saw")
    commands.add_parser(
        "scenario",
        help="run YAML scenario files (smsgw scenario run PATH...; docs/scenarios.md)",
        add_help=False,
    )

    health = commands.add_parser(
        "health", help="exit 0 when the carrier answers its health check (a container's HEALTHCHECK)"
    )
    health.add_argument(
        "--timeout",
        type=_amount("seconds", 60),
        default=3.0,
        metavar="SECONDS",
        help="how long to wait (default 3)",
    )
    _target_options(health)

    prune = commands.add_parser(
        "prune",
        help="remove old final messages now: through a running carrier's API, or from a store "
        "file no smsgw holds (--store)",
        description="Remove the final messages that owe nothing and ended before a time. What is "
        "still owed (held, scheduled, a receipt or MO not taken), the newest message and the last "
        "to reach a phone stay. Exit 0 when done, 1 when refused or unreachable, 2 for a usage error.",
    )
    cut = prune.add_mutually_exclusive_group(required=True)
    cut.add_argument(
        "--before",
        metavar="TIME",
        help="messages that ended before TIME go: ISO 8601 (2026-12-01T00:00:00Z), epoch seconds, "
        "or now (the carrier's clock)",
    )
    cut.add_argument(
        "--days",
        type=_amount("days", 36500, zero=True),
        metavar="N",
        help="messages that ended more than N days ago go (wall clock)",
    )
    prune.add_argument(
        "--store", metavar="FILE", help="prune this SQLite store file itself; no smsgw may be running on it"
    )
    prune.add_argument(
        "--compact",
        action="store_true",
        help="with --store: give every freed page back to the disk (converting an old file: one VACUUM)",
    )
    prune.add_argument(
        "--timeout",
        type=_amount("seconds", 3600),
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the carrier's answer (default 300)",
    )
    _target_options(prune)

    phone = commands.add_parser("phone", help="a feature phone in the terminal")
    phone.add_argument("msisdn", help="the handset, e.g. +8613800000001")
    _target_options(phone)
    return parser


def _target_options(parser: argparse.ArgumentParser, *, smpp: bool = False) -> None:
    parser.add_argument(
        "--ports-file", metavar="FILE", help="read the carrier's endpoints from smsgw serve --ports-file"
    )
    parser.add_argument(
        "--api", type=_api_url, metavar="URL", help="the carrier's HTTP API (default http://127.0.0.1:8775)"
    )
    if smpp:
        parser.add_argument(
            "--smpp", metavar="HOST:PORT", help="the carrier's SMPP address (default 127.0.0.1:2775)"
        )
        parser.add_argument("--system-id", help=f"ESME account (default {DEFAULT_SYSTEM_ID})")
        parser.add_argument("--password", help="its password")


def _apply_overrides(args: argparse.Namespace, read_merchant: ReadCompanion) -> Config:
    config = load_config(args.config, merchant=not args.no_merchant, read_merchant=read_merchant)
    if args.smpp_port is not None:
        config = attrs.evolve(config, smpp=attrs.evolve(config.smpp, port=args.smpp_port))
    if args.http_port is not None:
        config = attrs.evolve(config, http=attrs.evolve(config.http, port=args.http_port))
    cmpp_port = args.cmpp_port
    if cmpp_port is None and args.smpp_port == 0 and config.cmpp.port == CmppSettings().port:
        # A carrier on free ports gets a free CMPP port too: a fixed one makes two collide.
        cmpp_port = 0
    if cmpp_port is not None:
        config = attrs.evolve(config, cmpp=attrs.evolve(config.cmpp, port=cmpp_port))
    if args.db is not None:
        config = attrs.evolve(config, store=attrs.evolve(config.store, path=args.db, url=None))
    if args.store is not None:
        config = attrs.evolve(config, store=attrs.evolve(config.store, url=args.store))
    if args.node is not None:
        config = attrs.evolve(config, store=attrs.evolve(config.store, node=args.node))
    merchant = config.merchant
    if merchant is None:
        return config
    merchant_port = args.merchant_port
    if merchant_port is None and args.http_port == 0 and merchant.http_port == read_merchant({}).http_port:
        # A carrier on free ports gets a free merchant port too: a fixed one makes two collide.
        merchant_port = 0
    if merchant_port is not None:
        merchant = merchant.evolve(http_port=merchant_port)
    return attrs.evolve(config, merchant=merchant)


def serve(args: argparse.Namespace, read_merchant: ReadCompanion) -> int:
    """Run until SIGINT/SIGTERM; return the exit status.

    :param read_merchant: reads the ``[merchant]`` section into the merchant that runs beside
        the carrier (see :mod:`smsgw.companion`).
    """
    from smsgw import portsfile

    if args.ports_file:
        # First of all: a script waiting for the file must not read a killed run's ports,
        # even when this start fails.
        portsfile.remove_stale(args.ports_file)
    try:
        config = _apply_overrides(args, read_merchant)
    except ConfigError as error:
        print(f"smsgw: configuration error: {error}", file=sys.stderr)
        return 2

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    from smsgw.app import banner, start
    from smsgw.server.logs import log_to_stderr

    log_to_stderr(args.log_level)
    exit_status = [0]

    def started(running: Any) -> None:
        print(banner(running), flush=True)
        if args.ports_file:
            portsfile.write(args.ports_file, running.endpoints)
            # Before the listeners close, so that a script never finds ports nothing answers on.
            reactor.addSystemEventTrigger("before", "shutdown", portsfile.remove_own, args.ports_file)
        reactor.addSystemEventTrigger("before", "shutdown", running.stop, reactor)

    def failed(failure: Any) -> None:
        error = failure.value
        if isinstance(error, StoreError):
            print(f"smsgw: {error}", file=sys.stderr)
        elif isinstance(error, CannotListenError):
            print(
                f"smsgw: cannot listen on {error.interface}:{error.port}: {error.socketError}. "
                "Is another smsgw running? Choose other ports with --smpp-port/--cmpp-port/--http-port/"
                "--merchant-port "
                "(0 picks a free one).",
                file=sys.stderr,
            )
        else:
            print(f"smsgw: cannot start: {error}", file=sys.stderr)
        exit_status[0] = 1
        reactor.stop()

    def run() -> None:
        start(config, reactor).addCallbacks(started, failed)

    reactor.callWhenRunning(run)
    reactor.run()
    return exit_status[0]


def _endpoints(args: argparse.Namespace) -> dict[str, Any]:
    """Where the running carrier is: the ports file, then the options, then the defaults."""
    found: dict[str, Any] = {
        "smpp_host": "127.0.0.1",
        "smpp": 2775,
        "http_url": "http://127.0.0.1:8775",
        "system_id": DEFAULT_SYSTEM_ID,
        "password": DEFAULT_PASSWORD,
    }
    if args.ports_file:
        try:
            with open(args.ports_file, encoding="utf-8") as file:
                found.update(json.load(file))
        except (OSError, ValueError) as error:
            raise SystemExit(f"smsgw: cannot read the ports file {args.ports_file}: {error}") from None
    if args.api:
        found["http_url"] = args.api
    if getattr(args, "smpp", None):
        host, _, port = args.smpp.rpartition(":")
        if not port.isdigit():
            raise SystemExit(f"smsgw: --smpp {args.smpp!r} is not HOST:PORT")
        found["smpp_host"], found["smpp"] = host or "127.0.0.1", int(port)
    for key in ("system_id", "password"):
        if getattr(args, key, None):
            found[key] = getattr(args, key)
    return found


def send(args: argparse.Namespace) -> int:
    """Submit one text; print the message_ids (and the receipts when asked)."""
    from smsgw.client import SmppClient, SmppClientError

    target = _endpoints(args)
    try:
        client = SmppClient(target["smpp_host"], target["smpp"])
        try:
            client.bind(target["system_id"], target["password"], receive=args.receipt)
            ids = client.submit(args.sender, args.to, args.text, receipt=args.receipt)
            print(f"accepted: message_id {', '.join(ids)} ({len(ids)} part{'s' * (len(ids) > 1)})")
            if args.receipt:
                receipts = client.wait_receipts(ids, timeout=args.timeout)
                for receipt in receipts:
                    print(f"receipt: {receipt.text}")
                if len(receipts) < len(ids):
                    print(
                        f"smsgw: {_missing_receipts(len(ids) - len(receipts), len(ids), args.timeout)}",
                        file=sys.stderr,
                    )
                    return 1
        finally:
            client.close()
    except SmppClientError as error:
        print(f"smsgw: {error}", file=sys.stderr)
        return 1
    return 0


def _missing_receipts(missing: int, parts: int, timeout: float) -> str:
    what = "no receipt" if parts == 1 else f"no receipt for {missing} of the {parts} parts"
    return (
        f"{what} within {timeout:g} s: the phone may be off or unreachable (its messages wait until "
        "it is on, or until they expire); --timeout waits longer"
    )


def health(args: argparse.Namespace) -> int:
    """Ask the carrier's health check; exit 0 when it says ok, 1 otherwise (with why)."""
    from smsgw.apiclient import SmsgwError, call_api

    target = _endpoints(args)
    try:
        answer = call_api(
            target["http_url"], "GET", "/api/health", timeout=args.timeout, token=target.get("http_token")
        )
    except SmsgwError as error:
        print(f"smsgw: unhealthy: {error}", file=sys.stderr)
        return 1
    status = answer.get("status") if isinstance(answer, dict) else None
    print(f"smsgw at {target['http_url']}: {status}")
    return 0 if status == "ok" else 1


def prune(args: argparse.Namespace) -> int:
    """Remove old final messages through the carrier's API, or from a file (``--store``)."""
    import time

    from smsgw.moments import NotAMoment, parse_moment
    from smsgw.pruning import PruneFailed, prune_file, prune_online
    from smsgw.web.render import iso

    usage = None
    if args.store is not None and (args.ports_file or args.api):
        usage = "--store prunes a file itself, not through a carrier: leave out --ports-file and --api"
    elif args.compact and args.store is None:
        usage = "--compact goes with --store (a running carrier gives freed pages back by itself)"
    elif args.before is not None:
        try:
            parse_moment(args.before, time.time)
        except NotAMoment as error:
            usage = f"--before {error}"
    if usage is not None:
        print(f"smsgw prune: {usage}", file=sys.stderr)
        return 2
    try:
        if args.store is not None:
            said = prune_file(args.store, args.before, args.days, compact=args.compact)
        else:
            target = _endpoints(args)
            before = args.before if args.days is None else iso(time.time() - args.days * 86400)
            assert before is not None  # one of the two is required
            said = prune_online(
                target["http_url"], before, timeout=args.timeout, token=target.get("http_token")
            )
    except PruneFailed as failed:
        print(f"smsgw: {failed}", file=sys.stderr)
        return failed.status
    print(said)
    return 0


def inbox(args: argparse.Namespace) -> int:
    """Print a handset's inbox, or wait for its next message.

    Exit 1 when ``--wait`` saw nothing arrive, with ``--json`` or without: a script tells
    "nothing came" from the status alone.
    """
    from smsgw.apiclient import SmsgwError, call_api

    target = _endpoints(args)
    base_url, token = target["http_url"], target.get("http_token")
    path = f"/api/handsets/{urllib.parse.quote(args.msisdn, safe='')}/inbox"
    try:
        query = {"limit": 1} if args.last else None
        answer = call_api(base_url, "GET", path, query=query, timeout=10, token=token)
        if args.wait is not None:
            wait = max(1, math.ceil(args.wait))
            query = {"after": answer["cursor"], "wait": wait}
            answer = call_api(base_url, "GET", path, query=query, timeout=wait + 10, token=token)
    except SmsgwError as error:
        print(f"smsgw: {error.message}", file=sys.stderr)
        return 1
    if args.last:
        answer["messages"] = answer["messages"][-1:]
    nothing_came = 1 if args.wait is not None and not answer["messages"] else 0
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return nothing_came
    if not answer["messages"]:
        print("(no message)" if args.wait is None else f"(no message within {args.wait:g} s)")
        return nothing_came
    for message in answer["messages"]:
        mark = "" if message["complete"] else " [incomplete]"
        print(f"{message['received_at']}  from {message['from']}{mark}\n  {message['text']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``smsgw`` console script.

    The commands that run a simulator (the mock merchant beside ``serve`` included) import it
    here and nowhere else in smsgw: the carrier does not depend on its own test clients.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merchant"]:  # its options are the runner's own, --help included
        from simulators.merchant.runner import main as run_merchant

        return run_merchant(argv[1:])
    if argv[:1] == ["demo"]:
        from simulators.demo import main as run_demo

        return run_demo(argv[1:])
    if argv[:1] == ["scenario"]:
        from simulators.scenario.cli import main as run_scenarios

        return run_scenarios(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from simulators.merchant.companion import read_section

        return serve(args, read_section)
    if args.command == "phone":
        from simulators.terminal_phone import main as run_phone
        from smsgw.apiclient import use_token

        target = _endpoints(args)
        use_token(target["http_url"], target.get("http_token"))  # the ports file's, if any
        return run_phone(args.msisdn, target["http_url"])
    command = {"send": send, "inbox": inbox, "health": health, "prune": prune}[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
