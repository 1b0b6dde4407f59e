"""The SQLite store: a file (WAL) by default, ``:memory:`` on request.

Writes are queued (:class:`~smsgw.store.writes.QueuedWrites`) and applied at
:meth:`SqliteStore.commit`, which the server calls once per reactor turn: every message
accepted in that turn becomes durable in one transaction, and only then are their
submit_sm_resp written (group commit). Queued writes keep their order; consecutive writes of
the same statement go to SQLite in one ``executemany`` (receipts done, as one UPDATE per
range of consecutive ids). Any read first applies the queued writes, so a query_sm right
after a submit_sm sees its message.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from smsgw.store import sql
from smsgw.store.interface import StoreError, StoreInUse
from smsgw.store.queries import SqlReads
from smsgw.store.records import MessageRecord, PruneBatch, PruneDone, SqlValue
from smsgw.store.sql import Row, Write, describe_write
from smsgw.store.writes import QueuedWrites, ignore_dropped

# sqlite3 binds int, float, str and bytearray as they are, but sends anything else (None,
# bytes, an IntEnum: the carrier's rows hold plain ints) through its adapter registry, whose
# miss asks the protocol type for __adapt__ and makes and drops an AttributeError (about
# 0.5 µs a NULL, 0.8 µs a BLOB; 4% of a message's instructions). An adapter found in the
# registry costs less, and hands the value back unchanged, so every sqlite3 user in the
# process stores the same NULL and BLOB as before. Both adapters are C functions, as a lambda
# would cost a Python frame per value: an empty dict's get answers None to None, and
# bytes.__bytes__ gives a bytes object back as it is.
sqlite3.register_adapter(type(None), cast(Callable[[None], None], {}.get))
sqlite3.register_adapter(bytes, bytes.__bytes__)

SCHEMA_VERSION = 7
#: The write-ahead log is cut back to this after a checkpoint.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: A file made before compaction is converted at open (one VACUUM: about 0.4 s per 40 MB)
#: up to this size; a larger one is left as it is, reusing what is pruned.
CONVERT_AT_OPEN = 256 * 1024 * 1024
# Documents: records of components beside the carrier (the mock merchant's orders and wallets),
# each a JSON text under (kind, key). The store does not read them; rowid keeps their first
# insertion order, which is the order they come back in.
_DOCUMENTS = """CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)"""
# Payments' steps, for GET /api/timeline (smsgw.store.records.TimelineStep), read by handset,
# by namespace (a range of it: sql.timeline), by message_id or by order, each in id order. The
# rowid numbers them in insertion order; it is never handed out again as long as the newest
# row stays, which retention keeps (smsgw.carrier.retention), so a poller's "after" holds.
_TIMELINE = (
    """CREATE TABLE IF NOT EXISTS timeline (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    namespace TEXT NOT NULL,
    msisdn TEXT NOT NULL,
    kind TEXT NOT NULL,
    system_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    session INTEGER,
    order_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    pdu BLOB
)""",
    "CREATE INDEX IF NOT EXISTS timeline_by_msisdn ON timeline (msisdn, id)",
    "CREATE INDEX IF NOT EXISTS timeline_by_namespace ON timeline (namespace, id)",
    # Most steps name no message or no order: partial indexes leave those out.
    "CREATE INDEX IF NOT EXISTS timeline_by_message_id ON timeline (message_id) WHERE message_id <> ''",
    "CREATE INDEX IF NOT EXISTS timeline_by_order_id ON timeline (order_id) WHERE order_id <> ''",
)
_TIMELINE_SCHEMA = ";\n".join(_TIMELINE)
#: Schema changes applied to an older store on open: version -> the statements reaching the next one.
_MIGRATIONS = {
    4: ("ALTER TABLE subscribers ADD COLUMN namespace TEXT NOT NULL DEFAULT ''",),
    5: (_DOCUMENTS,),
    6: _TIMELINE,
}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    system_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('MT', 'MO')),
    msisdn TEXT NOT NULL,
    service_type TEXT NOT NULL,
    source_ton INTEGER NOT NULL,
    source_npi INTEGER NOT NULL,
    source_addr TEXT NOT NULL,
    dest_ton INTEGER NOT NULL,
    dest_npi INTEGER NOT NULL,
    dest_addr TEXT NOT NULL,
    esm_class INTEGER NOT NULL,
    protocol_id INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    registered_delivery INTEGER NOT NULL,
    data_coding INTEGER NOT NULL,
    body BLOB NOT NULL,
    sar_ref INTEGER,
    sar_total INTEGER,
    sar_seq INTEGER,
    submitted_at REAL NOT NULL,
    scheduled_at REAL,
    expires_at REAL NOT NULL,
    state INTEGER NOT NULL,
    done_at REAL,
    error INTEGER NOT NULL,
    report INTEGER,
    report_attempts INTEGER NOT NULL,
    report_next_at REAL NOT NULL,
    seen INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_msisdn ON messages (msisdn, id);
CREATE INDEX IF NOT EXISTS messages_by_handset ON messages (msisdn, direction, seen);
CREATE TABLE IF NOT EXISTS subscribers (
    msisdn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    inbox_after INTEGER NOT NULL,
    namespace TEXT NOT NULL DEFAULT ''
);
{_DOCUMENTS};
{_TIMELINE_SCHEMA};
PRAGMA user_version = {SCHEMA_VERSION};
"""

#: Errors that belong to one write, not to the store: text UTF-8 cannot encode (a lone
#: surrogate), a number SQLite cannot hold, a value or constraint it refuses. A full disk or
#: an I/O error (OperationalError) is none of these: it fails every write alike.
_WRITE_ERRORS = (
    ValueError,
    OverflowError,
    TypeError,
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)


class SqliteStore(QueuedWrites, SqlReads):
    """Messages, pending deliveries, other components' documents and payments' steps in one
    SQLite database.

    Used from one thread (the reactor's): a read takes microseconds, and applies the queue first.

    :param path: a file path, or ``:memory:``.
    :param synchronous: ``NORMAL`` survives a crash of the process (WAL); ``FULL`` also
        survives a power loss, at an fsync per commit.
    :param on_dropped: told of a write that could not be applied (what it changes, and why)
        while the rest of its commit went in.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        on_dropped: Callable[[str, BaseException], None] = ignore_dropped,
    ) -> None:
        super().__init__(on_dropped)
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0.5)
            # One process owns the store: exclusive locking keeps a second smsgw off the same
            # file (it would hand out the same message ids) and spares the lock system calls
            # of every commit. Others read through the API, not the file.
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            # Pages freed by pruning go back to the disk (compact()). Only a new file takes it
            # here: switching to WAL writes the header, after which it needs a VACUUM.
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self._db.execute("PRAGMA journal_mode = WAL")
            # A WAL file otherwise keeps the largest size it ever reached.
            self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            # Take the lock now, so a store in use is reported at start-up, not at first write.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("COMMIT")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            while version in _MIGRATIONS:
                for statement in _MIGRATIONS[version]:
                    self._db.execute(statement)
                version += 1
                self._db.execute(f"PRAGMA user_version = {version}")
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(
                    f"{path} has store schema version {version}; this smsgw reads version "
                    f"{SCHEMA_VERSION} (use another --db file)"
                )
            self._db.executescript(_SCHEMA)
            self.compactable = self._make_compactable()
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                raise StoreInUse(
                    f"the store {path} is in use by another process (another smsgw?); "
                    "stop it or choose another file with --db"
                ) from error
            raise StoreError(f"cannot open the store {path}: {error}") from error
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the store {path}: {error}") from error

    #: Reads run on the thread that queues writes, as everything does (see the class).
    reads_anywhere = False

    def _make_compactable(self) -> bool:
        """Turn on incremental vacuum in a file made before it (once, by a VACUUM, when the
        file is small enough for that to be quick); return whether the file can give pages
        back. A larger one still reuses what pruning frees, but keeps its size."""
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return True
        if self.path == ":memory:" or os.path.getsize(self.path) > CONVERT_AT_OPEN:
            return False
        self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        try:
            self._db.execute("VACUUM")
        except sqlite3.OperationalError:  # a disk too full for the copy: keep the file as it is
            return False
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def prune_later(self, batch: PruneBatch, then: Callable[[PruneDone], None]) -> None:
        """Remove a batch of final messages or steps (in a transaction of its own, after the queued
        writes); ``then`` is told at once, on this thread, how many went and how long it took."""
        try:
            self._commit_or_keep()
            started = time.perf_counter()
            db = self._db
            db.execute("BEGIN")
            try:
                found = db.execute(*sql.prune_reach(batch)).fetchone()[0]
                reached = batch.after if found is None else int(found)
                deleted = db.execute(*sql.prune_delete(batch, reached)).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as error:
            then(PruneDone(0, batch.after, 0.0, error))
            return
        then(PruneDone(deleted, reached, time.perf_counter() - started))

    def store_size(self) -> tuple[int, int]:
        """Bytes the store takes (its file and its write-ahead log) and bytes free inside the
        file, which :meth:`compact` gives back."""
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        wal = f"{self.path}-wal"
        logged = os.path.getsize(wal) if self.path != ":memory:" and os.path.exists(wal) else 0
        return pages * page_size + logged, free * page_size

    def compact(self, pages: int, *, last: bool = True) -> int:
        """Give up to ``pages`` free pages back to the disk; return how many are still free
        (0 for a file made before compaction: it reuses them, and gives none back).

        Commits what is queued first (the vacuum runs between transactions). Once none is
        left free and no more pruning follows (``last``), the write-ahead log is truncated
        too: the file itself shrinks at the log's next checkpoint, which SQLite makes on its
        own every thousand pages written.

        :raises StoreError: the file could not be written (the queued writes stay queued).
        """
        try:
            self._commit_or_keep()
            if not self.compactable:
                return 0
            # executescript, not execute: a pragma that returns no row is stepped once by
            # execute, which frees one page, not ``pages``.
            self._db.executescript(f"PRAGMA incremental_vacuum({int(pages)})")
            free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
            if free == 0 and last:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise StoreError(f"giving {self.path}'s free pages back failed: {error}") from error
        return free

    def _commit_or_keep(self) -> None:
        """:meth:`commit`, for retention's work, which runs between the carrier's commits: when
        it fails, the writes stay queued, owed still, for the carrier's next commit to try."""
        queue, urgent = self._queue, self._urgent
        try:
            self.commit()
        except sqlite3.Error:
            self._queue[:0], self._urgent = queue, urgent
            raise

    def compact_all(self) -> None:
        """Give every free page back to the disk at once, and truncate the write-ahead log
        (``smsgw prune --compact``, while no smsgw runs). A file made before compaction,
        whatever its size, is converted for it first: one VACUUM, which rewrites the file
        (about 0.4 s per 40 MB, and as much free disk for the copy).
        """
        self.commit()
        if self.compactable:
            self._db.executescript("PRAGMA incremental_vacuum")  # no count: every free page
        else:
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self._db.execute("VACUUM")
            self.compactable = True
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def commit(self) -> None:
        """Apply every queued write in one transaction and make it durable.

        The queue holds every client's writes of the turn: when one of them cannot be applied,
        the others are applied one by one and committed, and only that one is dropped (and
        told to ``on_dropped``). A failure of the store itself (disk full, I/O) still fails
        the whole commit.
        """
        queue = self._queue
        if not queue:
            return
        self._queue = []  # _take_queue() written out: a call less per commit, on the hot path
        self._urgent = False
        db = self._db
        db.execute("BEGIN")
        try:
            try:
                self._apply(queue)
            except _WRITE_ERRORS:
                db.execute("ROLLBACK")
                db.execute("BEGIN")
                self._apply_each(queue)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None:
        """Commit now (SQLite answers in microseconds, on this thread); then tell ``done``."""
        try:
            self.commit()
        except Exception as error:
            done(error)
            return
        done(None)

    def _apply_each(self, queue: list[Write]) -> None:
        # No savepoint needed: SQLite undoes a failed statement by itself, and a value that
        # cannot be bound fails before the statement runs.
        execute = self._db.execute
        for statement, params in queue:
            try:
                execute(statement, params)
            except _WRITE_ERRORS as error:
                self._on_dropped(describe_write(statement, params), error)

    def _apply(self, queue: list[Write]) -> None:
        sql.apply_queue(queue, self._db.execute, self._db.executemany)

    # -- reads -----------------------------------------------------------------------

    def _read(self, query: str, params: Iterable[SqlValue] = ()) -> list[Row]:
        self.commit()
        return self._db.execute(query, tuple(params)).fetchall()

    def handset_parts_back(
        self, msisdn: str, direction: str, upto: int, above: int
    ) -> Iterator[MessageRecord]:
        """A phone's parts at or below position ``upto`` and above ``above``, newest first,
        read lazily: the caller stops when it has gone back far enough (a concatenation's
        window), so only what it needs is read."""
        self.commit()
        query, params = sql.handset_parts_back(msisdn, direction, upto, above)
        cursor = self._db.execute(query, params)
        try:
            for row in cursor:
                yield MessageRecord(*row)
        finally:
            cursor.close()

    def integrity_check(self) -> str:
        """SQLite's own integrity check: ``ok`` or what is broken."""
        return str(self._read("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        """Commit what is queued and close the database."""
        self.commit()
        self._db.close()
