"""The ``smsgw`` command."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import attrs

from smsgw import __version__
from smsgw.config import ConfigError, load_config
from smsgw.store.sqlite import StoreError


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="smsgw", description="A fake mobile carrier for testing SMS and USSD flows."
    )
    parser.add_argument("--version", action="version", version=f"smsgw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fake carrier (SMPP server + HTTP API)")
    serve.add_argument("--config", metavar="FILE", help="TOML configuration (defaults work without one)")
    serve.add_argument(
        "--smpp-port", type=_port, metavar="N", help="SMPP port (default 2775; 0 = any free port)"
    )
    serve.add_argument(
        "--http-port", type=_port, metavar="N", help="HTTP API port (default 8775; 0 = any free port)"
    )
    serve.add_argument("--db", metavar="PATH", help="store file (default smsgw.db), or :memory:")
    serve.add_argument(
        "--ports-file", metavar="FILE", help="write the chosen ports and credentials here as JSON"
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warn", "error"),
        help="log verbosity (default info)",
    )
    return parser


def _apply_overrides(args: argparse.Namespace) -> Any:
    config = load_config(args.config)
    if args.smpp_port is not None:
        config = attrs.evolve(config, smpp=attrs.evolve(config.smpp, port=args.smpp_port))
    if args.http_port is not None:
        config = attrs.evolve(config, http=attrs.evolve(config.http, port=args.http_port))
    if args.db is not None:
        config = attrs.evolve(config, store=attrs.evolve(config.store, path=args.db))
    return config


def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; return the exit status."""
    try:
        config = _apply_overrides(args)
    except ConfigError as error:
        print(f"smsgw: configuration error: {error}", file=sys.stderr)
        return 2

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    from smsgw.app import banner, start, write_ports_file

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(args.log_level))
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [predicate])], redirectStandardIO=False
    )
    exit_status = [0]

    def started(running: Any) -> None:
        print(banner(running), flush=True)
        if args.ports_file:
            write_ports_file(args.ports_file, running)
        reactor.addSystemEventTrigger("before", "shutdown", running.stop, reactor)

    def failed(failure: Any) -> None:
        error = failure.value
        if isinstance(error, StoreError):
            print(f"smsgw: {error}", file=sys.stderr)
        elif isinstance(error, CannotListenError):
            print(
                f"smsgw: cannot listen on {error.interface}:{error.port}: {error.socketError}. "
                "Is another smsgw running? Choose other ports with --smpp-port/--http-port (0 picks a free one).",
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``smsgw`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
