"""The PostgreSQL store: the same messages, subscribers and documents as the SQLite one, in a
database several smsgw processes can share.

It speaks the statements of :mod:`smsgw.store.sql` (``?`` written as psycopg's ``%s``) and
queues writes like every store (:class:`~smsgw.store.writes.QueuedWrites`): one turn's
writes go to the server in one transaction, consecutive writes of one statement as one
``executemany``, which psycopg sends in pipeline mode (one round trip, not one a row).

Every statement runs on one worker thread, in the order it was asked for: a commit the
reactor does not wait for (:meth:`PostgresStore.commit_then`) is still applied before any
later commit or read, so a read sees every write queued before it.

The schema is versioned in ``smsgw_schema`` and brought up to date at start, under an
advisory lock, so processes started together migrate it once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg import errors

from smsgw.store import sql
from smsgw.store.interface import StoreError
from smsgw.store.opening import redact
from smsgw.store.queries import SqlReads
from smsgw.store.records import MessageRecord, PruneBatch, PruneDone, SqlValue
from smsgw.store.sql import Row, Write, describe_write
from smsgw.store.writes import QueuedWrites, ignore_dropped

#: Each version's statements, in order: a store at version N runs those of N+1 onwards.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE messages (
            id BIGINT PRIMARY KEY,
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
            body BYTEA NOT NULL,
            sar_ref INTEGER,
            sar_total INTEGER,
            sar_seq INTEGER,
            submitted_at DOUBLE PRECISION NOT NULL,
            scheduled_at DOUBLE PRECISION,
            expires_at DOUBLE PRECISION NOT NULL,
            state INTEGER NOT NULL,
            done_at DOUBLE PRECISION,
            error INTEGER NOT NULL,
            report INTEGER,
            report_attempts INTEGER NOT NULL,
            report_next_at DOUBLE PRECISION NOT NULL,
            seen BIGINT
        )""",
        "CREATE INDEX messages_by_msisdn ON messages (msisdn, id)",
        "CREATE INDEX messages_by_handset ON messages (msisdn, direction, seen)",
        # What a start reads back: small partial indexes, so a store of millions of final
        # messages starts as fast as an empty one.
        "CREATE INDEX messages_owing ON messages (id) WHERE report IS NOT NULL",
        "CREATE INDEX messages_pending ON messages (id) WHERE direction = 'MT' AND state IN (0, 1, 6)",
        """CREATE TABLE subscribers (
            msisdn TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            inbox_after BIGINT NOT NULL,
            namespace TEXT NOT NULL DEFAULT ''
        )""",
        # position keeps a document's first insertion order (an upsert leaves it), as
        # SQLite's rowid does: the order documents come back in.
        """CREATE TABLE documents (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            position BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (kind, key)
        )""",
    ),
}
MIGRATIONS[2] = (
    # Several nodes on one database (smsgw.store.nodes): the node delivering what a message
    # still owes. A node's connection sets smsgw.node, so its inserts name it without the
    # statement saying so; a single smsgw sets nothing and leaves it NULL.
    "ALTER TABLE messages ADD COLUMN node TEXT DEFAULT current_setting('smsgw.node', true)",
    "CREATE INDEX messages_owed_by ON messages (system_id, node, id) WHERE report IS NOT NULL",
    "CREATE INDEX messages_pending_by ON messages (node, id) WHERE direction = 'MT' AND state IN (0, 1, 6)",
    """CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        slot INTEGER NOT NULL UNIQUE CHECK (slot BETWEEN 1 AND 1023),
        lease_until TIMESTAMPTZ NOT NULL
    )""",
)
MIGRATIONS[3] = (
    # USSD dialogues across nodes (smsgw.server.cluster): where each node's HTTP API answers,
    # which accounts each has bound, and on which node a phone's latest dialogue lives.
    "ALTER TABLE nodes ADD COLUMN http_url TEXT",
    "CREATE TABLE node_binds (node TEXT NOT NULL, system_id TEXT NOT NULL, PRIMARY KEY (node, system_id))",
    "CREATE TABLE ussd_homes (msisdn TEXT PRIMARY KEY, node TEXT NOT NULL)",
)
MIGRATIONS[4] = (
    # Event streams across nodes (smsgw.server.cluster): a node publishes its events only while
    # another node has an /api/events stream open.
    "ALTER TABLE nodes ADD COLUMN watching BOOLEAN NOT NULL DEFAULT false",
)
MIGRATIONS[5] = (
    # Fresh handset numbers across nodes (smsgw.carrier.freshnumbers): the highest reserved.
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
)
MIGRATIONS[6] = (
    # Payments' steps, for GET /api/timeline (smsgw.store.records.TimelineStep). The identity
    # numbers them in the order each commit inserts them; one smsgw commits in turn, so a
    # poller's "after" misses none (nodes sharing the database commit side by side: a step may
    # then land below an id a poller has already seen). namespace sorts by bytes ("C"), so
    # its range in sql.timeline holds exactly what starts with "run-1."; a language's
    # collation may sort punctuation otherwise. detail is JSON text, as a document's value
    # is: jsonb would refuse the \u0000 a NUL is escaped to.
    """CREATE TABLE timeline (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        msisdn TEXT NOT NULL,
        kind TEXT NOT NULL,
        system_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        session BIGINT,
        order_id TEXT NOT NULL,
        detail TEXT NOT NULL,
        pdu BYTEA
    )""",
    "CREATE INDEX timeline_by_msisdn ON timeline (msisdn, id)",
    "CREATE INDEX timeline_by_namespace ON timeline (namespace, id)",
    # Most steps name no message or no order: partial indexes leave those out.
    "CREATE INDEX timeline_by_message_id ON timeline (message_id) WHERE message_id <> ''",
    "CREATE INDEX timeline_by_order_id ON timeline (order_id) WHERE order_id <> ''",
)
MIGRATIONS[7] = tuple(
    # Retention (smsgw.carrier.retention) deletes rows steadily: autovacuum's default waits for
    # a fifth of a table to be dead (200,000 rows, about 80 MB, at a million messages) before it
    # makes their space reusable. A fiftieth keeps a pruned store's files from growing.
    f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000)"
    for table in ("messages", "timeline")
)
SCHEMA_VERSION = max(MIGRATIONS)
#: The advisory lock a start holds while it migrates (any number; this one spells "smsgw").
_MIGRATION_LOCK = 0x736D736777
#: The advisory lock the one smsgw using the database holds for as long as its connection
#: lives: a second one would hand out the same message ids. PostgreSQL lets it go when the
#: holder's connection ends, a kill -9 included.
OWNER_LOCK = _MIGRATION_LOCK + 1

#: Errors that belong to one write, not to the store: text UTF-8 or PostgreSQL cannot hold
#: (a lone surrogate, a NUL), a number out of a column's range, a constraint. A lost
#: connection or a full disk is none of these: it fails every write alike.
_WRITE_ERRORS = (
    ValueError,
    OverflowError,
    TypeError,
    errors.DataError,
    errors.IntegrityError,
)
#: How many of a phone's parts one page of :meth:`PostgresStore.handset_parts_back` reads.
_PAGE = 200
_T = TypeVar("_T")


def _statement(query: str, translated: dict[str, str] = {}) -> str:  # noqa: B006  # a cache
    found = translated.get(query)
    if found is None:
        found = translated[query] = sql.with_placeholders(query, "%s")
    return found


class PostgresStore(QueuedWrites, SqlReads):
    """Messages, pending deliveries, other components' documents and payments' steps in a
    PostgreSQL database.

    :param url: a libpq connection string or ``postgresql://`` URL.
    :param on_dropped: told of a write that could not be applied (what it changes, and why)
        while the rest of its commit went in.
    :param call_soon: runs a function on the caller's thread soon, from another thread
        (``reactor.callFromThread``): how :meth:`commit_then` tells its ``done``. Without
        it, :meth:`commit_then` waits for its commit, as a tool or a test wants.
    :raises StoreError: the database cannot be reached, or holds a newer schema.
    """

    def __init__(
        self,
        url: str,
        *,
        on_dropped: Callable[[str, BaseException], None] = ignore_dropped,
        connect_timeout: float = 5.0,
        call_soon: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        if call_soon is not None:  # writes are applied on the worker; tell the caller's thread
            told = on_dropped
            on_dropped = lambda write, error: call_soon(lambda: told(write, error))  # noqa: E731
        super().__init__(on_dropped)
        self.url = redact(url)
        self._call_soon = call_soon
        try:
            # Autocommit: every transaction is opened explicitly (one per commit), so a read
            # never leaves one open between turns.
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(connect_timeout)))
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to the store {self.url}: {error}".rstrip()) from error
        try:
            self._migrate()
            self._own()
        except psycopg.Error as error:
            self._db.close()
            raise StoreError(f"cannot prepare the store {self.url}: {error}".rstrip()) from error
        except BaseException:
            self._db.close()
            raise
        row = self._db.execute("SELECT pg_database_size(current_database())").fetchone()
        self._size = int(row[0]) if row is not None else 0
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="smsgw-store")
        self._closed = False
        self._owner = threading.get_ident()

    #: Reads may run on any thread (each waits on the worker): the API reads off the reactor.
    reads_anywhere = True
    _DOCUMENT_ORDER = "position"

    def _migrate(self) -> None:
        db = self._db
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS smsgw_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM smsgw_schema").fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.url} has store schema version {version}; this smsgw reads version "
                    f"{SCHEMA_VERSION} (upgrade smsgw, or use another database)"
                )
            if row is None:
                db.execute("INSERT INTO smsgw_schema (version) VALUES (0)")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
                db.execute("UPDATE smsgw_schema SET version = %s", (step,))

    def _own(self) -> None:
        (owned,) = self._db.execute("SELECT pg_try_advisory_lock(%s)", (OWNER_LOCK,)).fetchone() or (False,)
        if not owned:
            raise StoreError(
                f"the store {self.url} is in use by another process (another smsgw, or nodes of "
                "a cluster: then give --node NAME); stop it or choose another database with --store"
            )

    # -- commit ------------------------------------------------------------------------

    def commit(self) -> None:
        """Apply every queued write in one transaction and wait until it is durable.

        As in the SQLite store, a write that cannot be applied is dropped alone (and told to
        ``on_dropped``): the others are applied again, each under a savepoint, and committed.
        """
        if self._queue:
            queue = self._take_queue()
            try:
                self._on_worker(self._write, queue)
            except StoreError:
                self._requeue(queue)
                raise

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None:
        """Start applying the queued writes on the worker; ``done`` is told on this thread.

        With nothing queued, ``done`` still waits for the commits asked for before.
        """
        queue = self._take_queue()
        call_soon = self._call_soon
        if call_soon is None:
            try:
                self._on_worker(self._write, queue)
            except Exception as error:
                done(error)
                return
            done(None)
            return

        def tell(future: Future[None]) -> None:
            error = future.exception()
            call_soon(lambda: done(error))

        self._worker.submit(self._write, queue).add_done_callback(tell)

    def _on_worker(self, job: Callable[..., _T], *args: Any) -> _T:
        """Run ``job`` on the worker, after everything asked before, and wait for it."""
        return self._worker.submit(job, *args).result()

    def _write(self, queue: list[Write]) -> None:
        if not queue:
            return
        try:
            try:
                with self._db.transaction():
                    self._apply(queue)
            except _WRITE_ERRORS:
                with self._db.transaction():
                    self._apply_each(queue)
        except psycopg.OperationalError as error:
            raise StoreError(f"the store {self.url} failed: {error}".rstrip()) from error

    def _apply(self, queue: list[Write]) -> None:
        cursor = self._db.cursor()

        def execute(query: str, params: tuple[SqlValue, ...]) -> None:
            cursor.execute(_statement(query), params)

        def executemany(query: str, params: Iterable[tuple[SqlValue, ...]]) -> None:
            cursor.executemany(_statement(query), params)

        sql.apply_queue(queue, execute, executemany)

    def _apply_each(self, queue: list[Write]) -> None:
        for statement, params in queue:
            try:
                with self._db.transaction():  # a savepoint: a failed statement spoils the rest
                    self._db.execute(_statement(statement), params)
            except _WRITE_ERRORS as error:
                self._on_dropped(describe_write(statement, params), error)

    # -- retention -------------------------------------------------------------------

    def prune_later(self, batch: PruneBatch, then: Callable[[PruneDone], None]) -> None:
        """Remove a batch of final messages or steps on the worker, after the commits asked for before
        (so off the caller's thread); ``then`` is told on the caller's thread."""
        queue = self._take_queue()
        call_soon = self._call_soon
        if call_soon is None:
            then(self._on_worker(self._prune, queue, batch))
            return
        future = self._worker.submit(self._prune, queue, batch)

        def tell(done: Future[PruneDone]) -> None:
            error = done.exception()
            told = PruneDone(0, batch.after, 0.0, error) if error is not None else done.result()
            call_soon(lambda: then(told))

        future.add_done_callback(tell)

    def _prune(self, queue: list[Write], batch: PruneBatch) -> PruneDone:
        try:
            self._write(queue)
            started = time.perf_counter()
            db = self._db
            with db.transaction():
                reach, params = sql.prune_reach(batch)
                row = db.execute(_statement(reach), params).fetchone()
                reached = batch.after if row is None or row[0] is None else int(row[0])
                delete, params = sql.prune_delete(batch, reached)
                deleted = db.execute(_statement(delete), params).rowcount
            seconds = time.perf_counter() - started
            # Read here, on the worker, so that a scrape of /metrics never waits for the database.
            row = self._db.execute("SELECT pg_database_size(current_database())").fetchone()
            self._size = int(row[0]) if row is not None else self._size
        except (psycopg.Error, StoreError) as error:
            return PruneDone(0, batch.after, 0.0, error)
        return PruneDone(deleted, reached, seconds)

    def store_size(self) -> tuple[int, int]:
        """Bytes the database takes, as last measured (at open, and after each pruned batch);
        PostgreSQL reuses what is pruned inside its files, so none is counted free."""
        return self._size, 0

    def compact(self, pages: int, *, last: bool = True) -> int:
        """Nothing to do: PostgreSQL's autovacuum makes pruned rows' space reusable."""
        return 0

    # -- reads -----------------------------------------------------------------------

    def _read(self, query: str, params: Iterable[SqlValue] = ()) -> list[Row]:
        # Only the thread that queues writes takes them along: another thread's read sees what
        # is committed (the queue is that thread's alone; taking it here could lose a write).
        queue = self._take_queue() if threading.get_ident() == self._owner else []
        try:
            return self._on_worker(self._write_then_read, queue, query, tuple(params))
        except StoreError:
            self._requeue(queue)
            raise

    def _requeue(self, queue: list[Write]) -> None:
        """Writes that did not go in are owed still: ahead of what came since, and urgent, so
        nothing they gate is answered before a commit of them succeeds."""
        if queue:
            self._queue[:0] = queue
            self._urgent = True

    def _write_then_read(self, queue: list[Write], query: str, params: tuple[SqlValue, ...]) -> list[Row]:
        self._write(queue)
        try:
            return self._db.execute(_statement(query), params).fetchall()
        except psycopg.OperationalError as error:
            raise StoreError(f"the store {self.url} failed: {error}".rstrip()) from error

    def handset_parts_back(
        self, msisdn: str, direction: str, upto: int, above: int
    ) -> Iterator[MessageRecord]:
        """A phone's parts at or below ``upto`` and above ``above``, newest first, read a page
        at a time: the caller stops when it has gone back far enough."""
        key = "seen" if direction == "MT" else "id"
        while upto > above:
            query, params = sql.handset_parts_back(msisdn, direction, upto, above)
            page = self._records(query + " LIMIT ?", (*params, _PAGE))
            yield from page
            if len(page) < _PAGE:
                return
            upto = getattr(page[-1], key) - 1  # positions are distinct integers

    def close(self) -> None:
        """Commit what is queued and close the connection (once; closing again does nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        finally:
            self._worker.shutdown()
            self._db.close()
