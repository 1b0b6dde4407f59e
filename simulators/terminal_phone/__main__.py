"""``python -m simulators.terminal_phone MSISDN [--api URL]``: the phone from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from simulators.handset import DEFAULT_BASE_URL
from simulators.terminal_phone.app import main


def _parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.terminal_phone",
        description="A feature phone in the terminal for one subscriber of smsgw.",
    )
    parser.add_argument("msisdn", help="the phone's number, e.g. +8613800000001")
    parser.add_argument(
        "--api",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"smsgw's HTTP API (default {DEFAULT_BASE_URL})",
    )
    return parser.parse_args(None if argv is None else list(argv))


if __name__ == "__main__":
    arguments = _parse_args()
    sys.exit(main(arguments.msisdn, arguments.api))
