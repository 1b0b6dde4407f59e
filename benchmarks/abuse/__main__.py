"""``python -m benchmarks.abuse [--only NAME ...] [--seconds N] [--carrier URL]``: a fresh ESME's
bind and submit latencies under each abuse, one table (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.abuse import carrier as carriers
from benchmarks.abuse.abusers import ABUSES
from benchmarks.abuse.probe import INTERVAL, TIMEOUT, Stats
from benchmarks.abuse.run import AbuserError, Outcome, measure, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.abuse", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(ABUSES), metavar="NAME", help=", ".join(ABUSES))
    parser.add_argument("--seconds", type=float, default=5.0, help="probing time per abuse (default 5)")
    parser.add_argument(
        "--carrier",
        metavar="URL|PORTS_FILE",
        help="abuse this running carrier instead of starting a fresh one per abuse (no RSS, no restart)",
    )
    parser.add_argument(
        "--interval", type=float, default=INTERVAL, help=f"seconds between probes ({INTERVAL:g})"
    )
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT, help=f"a probe stage's timeout ({TIMEOUT:g} s)"
    )
    parser.add_argument(
        "--nofile",
        type=int,
        default=carriers.DEFAULT_NOFILE,
        help=f"soft descriptor limit the carrier starts with ({carriers.DEFAULT_NOFILE}; 0: this shell's)",
    )
    args = parser.parse_args(argv)
    names = args.only or list(ABUSES)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="smsgw-abuse-") as tmp:
        for name in names:
            workdir = Path(tmp) / name
            print(f"{name}: {ABUSES[name].description}", file=sys.stderr, flush=True)
            carrier = carriers.attach(args.carrier) if args.carrier else carriers.start(workdir, args.nofile)
            try:
                outcome = measure(
                    carrier, name, args.seconds, workdir, interval=args.interval, timeout=args.timeout
                )
            except AbuserError as error:
                outcome = Outcome(name, Stats(), "-", notes=[str(error)])
            finally:
                stopped = carrier.stop()
            if stopped and stopped != "stopped":
                outcome.notes.append(f"carrier {stopped}")
            if args.carrier and not carrier.healthy():
                outcome.notes.append("the carrier no longer answers /api/health: the next abuses are skipped")
                outcomes.append(outcome)
                break
            outcomes.append(outcome)
    print(table(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
