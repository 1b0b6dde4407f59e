"""``smsgw prune``: remove old final messages now, by hand, rather than by ``[store]`` retention.

Online, it asks the running carrier (``DELETE /api/messages?before=``), which runs the pass in
retention's small batches between the work of its connections. Offline (``--store FILE``), it
opens a SQLite file no smsgw holds and runs the same pass, with the same guards, itself:
:meth:`~smsgw.carrier.retention.Retention.prune_before` on the file, with the newest message
and the last arrival read from the file; ``--compact`` then gives the freed pages back to the
disk. A PostgreSQL store is pruned by the smsgw that uses it, through its API (each node of a
cluster its own messages): a process beside it would not know what it holds in memory.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from typing import Any

from smsgw.store.interface import StoreError, StoreInUse
from smsgw.store.opening import is_postgres_url


class PruneFailed(Exception):
    """The prune could not be done; the message says why and what to do instead.

    :ivar status: the exit status that says so (1: refused or unreachable, 2: a usage error).
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def prune_online(base_url: str, before: str, *, timeout: float, token: str | None) -> str:
    """Ask the carrier at ``base_url`` to prune; return what it did, in a line.

    :param before: the cut as the API takes it (ISO 8601, epoch seconds, or ``now``).
    :raises PruneFailed: the carrier refused, or did not answer within ``timeout`` seconds.
    """
    from smsgw.apiclient import SmsgwError, call_api

    try:
        answer = call_api(
            base_url, "DELETE", "/api/messages", query={"before": before}, timeout=timeout, token=token
        )
    except SmsgwError as error:
        raise PruneFailed(f"cannot prune: {error}") from None
    store = answer["store"]
    return (
        f"removed {_count(answer['deleted']['messages'])} that ended before {answer['before']}; "
        f"the store holds {_count(store['messages'])} ({_size(store['bytes'], store['free_bytes'])})"
    )


def prune_file(path: str, before: str | None, days: float | None, *, compact: bool) -> str:
    """Prune the SQLite store at ``path``, which no smsgw may hold; return what was done.

    :param before: the cut (ISO 8601, epoch seconds, or ``now``: the carrier's clock as the
        file keeps it), or None for ``days`` ago by the wall clock.
    :raises PruneFailed: the file is no store, or is in use.
    """
    from smsgw.carrier.clock import Clocks, SystemClock
    from smsgw.carrier.retention import Pruned, Retention
    from smsgw.moments import parse_moment
    from smsgw.server.clockbook import ClockBook
    from smsgw.store.sqlite import SqliteStore

    if is_postgres_url(path):
        raise PruneFailed(
            "smsgw prune --store takes a SQLite file; a PostgreSQL store is pruned by the smsgw "
            "that uses it: run smsgw prune without --store (--api URL, for each node of a cluster)",
            status=2,
        )
    _check_file(path)
    try:
        store = SqliteStore(os.path.abspath(path))
    except StoreInUse:
        raise PruneFailed(_in_use(path)) from None
    except StoreError as error:
        raise PruneFailed(str(error)) from None
    try:
        if days is not None:
            cut = time.time() - days * 86400
        else:
            assert before is not None
            clock = SystemClock()
            ClockBook(store, Clocks(clock, lambda msisdn: ""), clock).restore()  # "now": the carrier's
            cut = parse_moment(before, clock.now)
        _note_fresh_numbers(store)
        newest, last_arrival = store.max_id(), store.max_seen()
        retention = Retention(
            store,
            keep_days=0,
            keep_messages=0,
            newest=lambda: newest,
            last_arrival=lambda: last_arrival,
            wall=time.time,
        )
        told: list[Pruned] = []
        retention.prune_before(cut, told.append)
        while not told:
            retention.tick()  # a SQLite batch is done at once
        (pruned,) = told
        if pruned.error is not None:
            raise PruneFailed(f"pruning {path} failed: {pruned.error}")
        before_compaction = store.store_size()[0]
        if compact:
            store.compact_all()
        size, free = store.store_size()
        said = (
            f"removed {_count(pruned.deleted)} that ended before {_iso(cut)}; "
            f"{path} holds {_count(store.count_messages())} ({_size(size, free)})"
        )
        if compact:
            said += f"; compacted from {before_compaction:,} bytes"
        return said
    finally:
        store.close()


#: A number of the fresh pool: a country code, 1700, then seven digits (smsgw.carrier.handsets).
_FRESH_NUMBER = re.compile(r"\d{1,3}1700(\d{7})")


def _note_fresh_numbers(store: Any) -> None:
    """Before messages go, keep the highest fresh number any went to, for a file no carrier
    has noted it in yet (one from before retention): a carrier gives fresh numbers above the
    highest with messages, and would give those numbers out again. Whatever the carrier's
    country code, the seven digits of a number of its pool are counted, so at worst a few
    numbers are skipped, never repeated."""
    from smsgw.store.queries import NUMBERS_KEY, NUMBERS_KIND

    if NUMBERS_KEY in dict(store.documents(NUMBERS_KIND)):
        return
    msisdns = [*store.msisdns(limit=1 << 62), *(row[0] for row in store.subscribers())]
    used = [int(found[1]) for msisdn in msisdns if (found := _FRESH_NUMBER.fullmatch(msisdn))]
    store.reserve_numbers(max(used, default=0), 0)
    store.commit()


def _check_file(path: str) -> None:
    """Refuse what is no smsgw store before opening it as one (which would make one there)."""
    if not os.path.isfile(path):
        raise PruneFailed(f"there is no store file {path}")
    try:
        db = sqlite3.connect(path, timeout=0.5)
        try:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
            ).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError as error:
        if "locked" in str(error):
            raise PruneFailed(_in_use(path)) from None
        raise PruneFailed(f"cannot open the store {path}: {error}") from None
    except sqlite3.DatabaseError as error:
        raise PruneFailed(f"{path} is not an smsgw store: {error}") from None
    if found is None:
        raise PruneFailed(f"{path} is not an smsgw store (it has no messages table)")


def _in_use(path: str) -> str:
    return (
        f"the store {path} is in use by smsgw; run smsgw prune without --store to ask it "
        "through its API (--ports-file or --api)"
    )


def _count(messages: Any) -> str:
    return f"{messages:,} message{'s' * (messages != 1)}"


def _size(size: Any, free: Any) -> str:
    return f"{size:,} bytes, {free:,} free" if free else f"{size:,} bytes"


def _iso(moment: float) -> str:
    from smsgw.web.render import iso

    return str(iso(moment))
