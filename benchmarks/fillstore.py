"""``python -m benchmarks.fillstore PATH --messages 1000000``: a SQLite store full of old messages.

The store is made by :class:`smsgw.store.sqlite.SqliteStore` itself (its schema, incremental
auto-vacuum, WAL), and filled through its own queue and commit (:data:`smsgw.store.sql.INSERT_MESSAGE`
run as one ``executemany`` per chunk of :data:`CHUNK` rows), with rows shaped as the carrier
writes them for the load generator's submits (one read back from a real run): MT from
``smsgw``, source ``12345``, registered_delivery 1, the benchmark's 30-character text, delivered
at once (DELIVRD, ``done_at`` = ``submitted_at``, arrival number ``seen``), validity 48 h.

- ``--messages`` such messages, final and owing nothing, ``submitted_at`` spread evenly by
  the wall clock from ``--days`` MAX days ago (the lowest ids) to MIN days ago (the highest):
  with ``keep_days`` below MIN every one of them is for retention to remove.
- destinations cycle through ``--phones`` numbers ``86138xxxxxxxx``; the first 100,000 are the
  load generator's own (``86138000xxxxx``).
- ``--owed`` more, spread evenly among them, that retention must leave, as old as their
  neighbours but still owed to someone, all of the account ``--owed-account`` (which the
  benchmark defines and never binds): half held (ENROUTE) for phones that are off
  (``86139xxxxxxxx``, kept as subscribers in state ``off``, one per ten messages), valid for
  30 days; half delivered with their receipt still owed (``report`` DELIVRD). A carrier
  gives up on an owed receipt after ``[network] delivery_validity`` (48 h by default), so a
  carrier that is to keep the latter owed needs a longer one (``benchmarks.retention`` sets
  30 days).

Message ids are :func:`smsgw.carrier.center.format_message_id` of the row id in the default
``decimal`` format, so a carrier started on the store numbers on after its highest id.
Prints the rows written, rows/s and the file's size.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from smsgw.carrier.center import format_message_id
from smsgw.smpp.constants import MessageState
from smsgw.store.records import MESSAGE_COLUMNS, SqlValue
from smsgw.store.sqlite import SqliteStore

#: Rows per commit (one executemany).
CHUNK = 10_000
#: What the load generator sends (benchmarks/wire.py), as the carrier stores it.
SYSTEM_ID = "smsgw"
SOURCE_ADDR = "12345"
TEXT = b"Hello from the smsgw benchmark"
#: The carrier's default validity of an MT (``[network] default_validity``).
VALIDITY = 48 * 3600.0
#: The validity of the held messages, and the delivery validity a carrier needs to keep the
#: owed receipts owed (``[network] delivery_validity``).
OWED_VALIDITY = 30 * 86400.0
OWED_ACCOUNT = "archive"
DAY = 86400.0

_ENROUTE, _DELIVRD = int(MessageState.ENROUTE), int(MessageState.DELIVRD)
assert len(MESSAGE_COLUMNS) == 31  # the rows below are written in this order


@dataclass(frozen=True)
class Filled:
    """What :func:`fill` wrote and how long it took."""

    messages: int
    held: int
    receipts_owed: int
    off_phones: int
    seconds: float
    bytes: int

    @property
    def rows(self) -> int:
        """Message rows written."""
        return self.messages + self.held + self.receipts_owed


def phone(k: int) -> str:
    """The k-th destination: ``86138`` and eight digits (the load generator's for k < 100,000)."""
    return f"86138{k:08d}"


def off_phone(k: int) -> str:
    """The k-th phone that is off, where the held messages wait."""
    return f"86139{k:08d}"


def fill(
    path: Path,
    messages: int,
    *,
    days: tuple[float, float] = (8.0, 15.0),
    phones: int = 100_000,
    owed: int = 0,
    owed_account: str = OWED_ACCOUNT,
    now: float | None = None,
    progress: bool = False,
) -> Filled:
    """Create the store ``path`` (which must not exist) and fill it (see the module).

    :param days: (min, max): the messages ended between max and min days before ``now``
        (the wall clock by default), the oldest first.
    :raises FileExistsError: ``path`` exists.
    """
    if path.exists():
        raise FileExistsError(f"{path} exists; fillstore makes a new store")
    newest_age, oldest_age = days
    now = time.time() if now is None else now
    total = messages + owed
    held = owed // 2
    off_phones = max(1, held // 10) if held else 0
    # Row i (1-based) is owed when it is the first at or past the next owed position.
    owed_at = {min(total, max(1, round((k + 0.5) * total / owed))) for k in range(owed)} if owed else set()
    # round() can make two positions one: take the next free rows.
    k = 1
    while len(owed_at) < owed:
        if k not in owed_at:
            owed_at.add(k)
        k += 1
    first = now - oldest_age * DAY
    step = (oldest_age - newest_age) * DAY / max(total - 1, 1)

    started = time.perf_counter()
    store = SqliteStore(str(path))
    try:
        for j in range(off_phones):
            store.save_subscriber(off_phone(j), "", "off", 0)
        seen = 0
        owed_done = held_done = 0
        next_report = time.monotonic() + 5
        for start in range(1, total + 1, CHUNK):
            for row_id in range(start, min(start + CHUNK, total + 1)):
                at = first + (row_id - 1) * step
                if row_id in owed_at:
                    if owed_done % 2 == 0 and held_done < held:
                        msisdn = off_phone(held_done % off_phones)
                        expires = at + OWED_VALIDITY
                        row = _row(row_id, owed_account, msisdn, at, expires, _ENROUTE, None, None, None)
                        held_done += 1
                    else:
                        seen += 1
                        msisdn = phone(row_id % phones)
                        expires = at + VALIDITY
                        row = _row(row_id, owed_account, msisdn, at, expires, _DELIVRD, at, _DELIVRD, seen)
                    owed_done += 1
                else:
                    seen += 1
                    msisdn = phone(row_id % phones)
                    row = _row(row_id, SYSTEM_ID, msisdn, at, at + VALIDITY, _DELIVRD, at, None, seen)
                store.insert_message(row)
            store.commit()
            if progress and time.monotonic() >= next_report:
                next_report += 5
                rate = row_id / (time.perf_counter() - started)
                print(f"  {row_id:,} rows, {rate:,.0f} rows/s", flush=True)
    finally:
        store.close()
    seconds = time.perf_counter() - started
    size = disk_bytes(Path(path))
    return Filled(messages, held, owed - held, off_phones, seconds, size)


def _row(
    row_id: int,
    system_id: str,
    msisdn: str,
    submitted_at: float,
    expires_at: float,
    state: int,
    done_at: float | None,
    report: int | None,
    seen: int | None,
) -> tuple[SqlValue, ...]:
    """A message row in MESSAGE_COLUMNS order, as the carrier writes the load generator's."""
    return (
        row_id, format_message_id(row_id, "decimal"), system_id, "MT", msisdn, "", 0, 0, SOURCE_ADDR,
        1, 1, msisdn, 0, 0, 0, 1, 0, TEXT, None, None, None, submitted_at, None, expires_at,
        state, done_at, 0, report, 0, 0.0, seen,
    )  # fmt: skip


def disk_bytes(path: Path) -> int:
    """A store's file and its write-ahead log, as the file system has them."""
    total = 0
    for name in (path, Path(f"{path}-wal")):
        try:
            total += name.stat().st_size
        except FileNotFoundError:  # no log yet, or the store was closed
            continue
    return total


def _days(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    try:
        days = (float(low), float(high if sep else low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write MIN:MAX days, e.g. 8:15") from None
    if not 0 <= days[0] <= days[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: 0 <= MIN <= MAX")
    return days


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module's docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fillstore", description=__doc__.splitlines()[0]
    )
    parser.add_argument("path", type=Path, help="the store file to create")
    parser.add_argument("--messages", type=int, default=1_000_000, help="final messages owing nothing")
    parser.add_argument("--days", type=_days, default=(8.0, 15.0), help="MIN:MAX days ago they ended (8:15)")
    parser.add_argument("--phones", type=int, default=100_000, help="destination numbers they cycle through")
    parser.add_argument("--owed", type=int, default=0, help="messages still owed, which retention must leave")
    parser.add_argument("--owed-account", default=OWED_ACCOUNT, help=f"their account ({OWED_ACCOUNT})")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.phones < 1 or args.owed < 0:
        parser.error("--messages and --phones must be at least 1, --owed at least 0")
    try:
        done = fill(
            args.path, args.messages, days=args.days, phones=args.phones, owed=args.owed,
            owed_account=args.owed_account, progress=True,
        )  # fmt: skip
    except FileExistsError as error:
        parser.error(str(error))
    print(
        f"{done.rows:,} rows ({done.messages:,} prunable, {done.held:,} held for {done.off_phones:,} phones "
        f"that are off, {done.receipts_owed:,} owing a receipt) in {done.seconds:.1f} s: "
        f"{done.rows / done.seconds:,.0f} rows/s, {done.bytes / 1e6:,.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
