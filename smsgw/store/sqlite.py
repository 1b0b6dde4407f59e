"""The SQLite store: a file (WAL) by default, ``:memory:`` on request.

Writes are queued and applied at :meth:`SqliteStore.commit`, which the server calls once per
reactor turn: every message accepted in that turn becomes durable in one transaction, and
only then are their submit_sm_resp written (group commit). Queued writes keep their order;
consecutive writes of the same statement go to SQLite in one ``executemany`` (receipts done,
as one UPDATE per range of consecutive ids). Any read first
applies the queued writes, so a query_sm right after a submit_sm sees its message.

Some writes gate nothing that is sent: noting that the ESME accepted a receipt or an MO,
counting a retry. Those are *lazy*: they wait for the next commit that something else needs, or for the
periodic one (:attr:`dirty`), instead of costing a commit of their own. A crash can lose
them, and the only effect is what SMPP allows anyway: a receipt the ESME had accepted just
before the crash is sent once more.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, cast

from smsgw.store.records import MESSAGE_COLUMNS, MessageRecord, SqlValue

#: A row read back: each column's type is the schema's, which the query names and Python cannot see.
Row = tuple[Any, ...]
#: A queued write: a statement and its parameters.
Write = tuple[str, tuple[SqlValue, ...]]

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

SCHEMA_VERSION = 6
# Documents: records of components beside the carrier (the mock merchant's orders and wallets),
# each a JSON text under (kind, key). The store does not read them; rowid keeps their first
# insertion order, which is the order they come back in.
_DOCUMENTS = """CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)"""
#: Schema changes applied to an older store on open: version -> the statements reaching the next one.
_MIGRATIONS = {
    4: ("ALTER TABLE subscribers ADD COLUMN namespace TEXT NOT NULL DEFAULT ''",),
    5: (_DOCUMENTS,),
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
PRAGMA user_version = {SCHEMA_VERSION};
"""

_INSERT_MESSAGE = (
    f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
)
_UPDATE_STATE = (
    "UPDATE messages SET state = ?, done_at = ?, error = ?, report = ?, report_attempts = 0, "
    "report_next_at = 0, seen = ? WHERE id = ?"
)
_OWE_REPORT = "UPDATE messages SET report = ?, report_attempts = 0, report_next_at = 0 WHERE id = ?"
_REPORT_DONE = "UPDATE messages SET report = NULL WHERE id = ? AND report = ?"
#: _REPORT_DONE for every id from one to another (each one queued): under load, ESMEs accept
#: receipts in the order of their messages, and a range costs SQLite less than half the
#: statements one by one.
_REPORTS_DONE = "UPDATE messages SET report = NULL WHERE id BETWEEN ? AND ? AND report = ?"
_MO_DONE = "UPDATE messages SET state = ?, done_at = ?, report = NULL WHERE id = ?"
_REPORT_RETRY = "UPDATE messages SET report_attempts = ?, report_next_at = ? WHERE id = ? AND report = ?"
_REPLACE = (
    "UPDATE messages SET body = ?, scheduled_at = ?, expires_at = ?, registered_delivery = ? WHERE id = ?"
)
_SAVE_SUBSCRIBER = (
    "INSERT INTO subscribers (msisdn, name, state, inbox_after, namespace) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (msisdn) DO UPDATE SET name = excluded.name, state = excluded.state, "
    "inbox_after = excluded.inbox_after, namespace = excluded.namespace"
)
_DELETE_SUBSCRIBER = "DELETE FROM subscribers WHERE msisdn = ?"
_PUT_DOCUMENT = (
    "INSERT INTO documents (kind, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value"
)
_DELETE_DOCUMENT = "DELETE FROM documents WHERE kind = ? AND key = ?"
#: A phone's order per direction: received parts by arrival (``seen``); sent ones (``seen`` NULL) by row.
_HANDSET_ORDER = {"MT": ("seen", ""), "MO": ("id", "seen IS NULL AND")}
_NOT_FINAL = (0, 1, 6)  # SCHEDULED, ENROUTE, ACCEPTD

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
_MESSAGE_ID, _MSISDN = MESSAGE_COLUMNS.index("message_id"), MESSAGE_COLUMNS.index("msisdn")
#: What each queued write changes, for the log when one is dropped: statement -> describer.
_WRITES: dict[str, Callable[[tuple[object, ...]], str]] = {
    _INSERT_MESSAGE: lambda p: f"new message {p[_MESSAGE_ID]} for {p[_MSISDN]}",
    _UPDATE_STATE: lambda p: f"state of message row {p[5]}",
    _OWE_REPORT: lambda p: f"receipt owed by message row {p[1]}",
    _REPORT_DONE: lambda p: f"receipt done of message row {p[0]}",
    _MO_DONE: lambda p: f"end of MO row {p[2]}",
    _REPORT_RETRY: lambda p: f"retry of message row {p[2]}",
    _REPLACE: lambda p: f"replace_sm of message row {p[4]}",
    _SAVE_SUBSCRIBER: lambda p: f"subscriber {p[0]}",
    _DELETE_SUBSCRIBER: lambda p: f"removal of subscriber {p[0]}",
    _PUT_DOCUMENT: lambda p: f"{p[0]} {p[1]}",
    _DELETE_DOCUMENT: lambda p: f"removal of {p[0]} {p[1]}",
}


def _id_ranges(queue: list[Write], start: int, end: int) -> list[tuple[int, int, int]]:
    """Queued (id, state) writes as (first id, last id, state): a range holds consecutive
    ids of one state, each queued (a repeated id starts a new range, which is harmless)."""
    ranges: list[tuple[int, int, int]] = []
    first = last = state = -1  # row ids start at 1
    message: int
    owed: int
    for _, params in queue[start:end]:
        message, owed = params  # type: ignore[assignment]  # report_done queued (id, state)
        if owed == state and message == last + 1:
            last = message
            continue
        if first > 0:
            ranges.append((first, last, state))
        first = last = message
        state = owed
    ranges.append((first, last, state))
    return ranges


def describe_write(sql: str, params: tuple[SqlValue, ...]) -> str:
    """What a queued write changes, in a few words naming the message or subscriber."""
    describer = _WRITES.get(sql)
    return describer(params) if describer is not None else f"write {sql[:40]!r}"


def _ignore_dropped(write: str, error: BaseException) -> None:
    """No one to tell (a store opened by a tool or a test)."""


class StoreError(Exception):
    """The store cannot be opened or used; the message says which file and why."""


class SqliteStore:
    """Messages, pending deliveries and other components' documents in one SQLite database.

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
        on_dropped: Callable[[str, BaseException], None] = _ignore_dropped,
    ) -> None:
        self.path = path
        self._on_dropped = on_dropped
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0.5)
            # One process owns the store: exclusive locking keeps a second smsgw off the same
            # file (it would hand out the same message ids) and spares the lock system calls
            # of every commit. Others read through the API, not the file.
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
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
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                raise StoreError(
                    f"the store {path} is in use by another process (another smsgw?); "
                    "stop it or choose another file with --db"
                ) from error
            raise StoreError(f"cannot open the store {path}: {error}") from error
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the store {path}: {error}") from error
        self._queue: list[Write] = []
        self._urgent = False

    # -- writes (queued until commit) ------------------------------------------------

    def insert_message(self, row: tuple[SqlValue, ...]) -> None:
        """Queue a new message, as a row in MESSAGE_COLUMNS order."""
        self._queue.append((_INSERT_MESSAGE, row))
        self._urgent = True

    def update_state(
        self,
        message: int,
        state: int,
        done_at: float | None,
        error: int,
        report: int | None,
        seen: int | None = None,
    ) -> None:
        """Queue a message's new state, the receipt it now owes (``None``: none), and its
        arrival order at the phone when it just reached it."""
        self._queue.append((_UPDATE_STATE, (state, done_at, error, report, seen, message)))
        self._urgent = True

    def owe_report(self, message: int, state: int) -> None:
        """Queue that a message owes its ESME the receipt of ``state`` (intermediate reports)."""
        self._queue.append((_OWE_REPORT, (state, message)))
        self._urgent = True

    def replace_message(
        self,
        message: int,
        body: bytes,
        scheduled_at: float | None,
        expires_at: float,
        registered_delivery: int,
    ) -> None:
        """Queue a replace_sm of a pending message."""
        self._queue.append((_REPLACE, (body, scheduled_at, expires_at, registered_delivery, message)))
        self._urgent = True

    def report_done(self, message: int, state: int) -> None:
        """Queue (lazily) that the receipt of ``state`` was accepted, refused for good, or expired.

        A newer owed receipt (a final one after an intermediate) is left owed.
        """
        self._queue.append((_REPORT_DONE, (message, state)))

    def mo_done(self, message: int, state: int, done_at: float) -> None:
        """Queue (lazily) an MO's end: accepted by its ESME, refused, or expired."""
        self._queue.append((_MO_DONE, (state, done_at, message)))

    def report_retry(self, message: int, state: int, attempts: int, next_at: float) -> None:
        """Queue (lazily) a failed attempt to deliver what a message owes, and the next one's time."""
        self._queue.append((_REPORT_RETRY, (attempts, next_at, message, state)))

    def save_subscriber(
        self, msisdn: str, name: str, state: str, inbox_after: int, namespace: str = ""
    ) -> None:
        """Queue a subscriber's creation or change (name, phone state, inbox cleared up to, namespace)."""
        self._queue.append((_SAVE_SUBSCRIBER, (msisdn, name, state, inbox_after, namespace)))
        self._urgent = True

    def delete_subscriber(self, msisdn: str) -> None:
        """Queue a subscriber's removal (its messages stay)."""
        self._queue.append((_DELETE_SUBSCRIBER, (msisdn,)))
        self._urgent = True

    def put_document(self, kind: str, key: str, value: object) -> None:
        """Queue (lazily) a document: ``value`` as JSON under ``(kind, key)``, replacing any earlier one.

        Lazy, so the carrier's turns do not commit for it: a component whose answer depends on
        the document calls :meth:`commit` itself before answering.

        :raises TypeError: ``value`` is not JSON-serialisable (raised here, not at commit).
        """
        # ASCII escapes: any str, a lone surrogate too, encodes, so the commit cannot fail on it.
        self._queue.append((_PUT_DOCUMENT, (kind, key, json.dumps(value, separators=(",", ":")))))

    def delete_document(self, kind: str, key: str) -> None:
        """Queue (lazily) the removal of a document; none there is fine."""
        self._queue.append((_DELETE_DOCUMENT, (kind, key)))

    @property
    def urgent(self) -> bool:
        """Whether queued writes gate something to be sent (a response, a delivery)."""
        return self._urgent

    @property
    def dirty(self) -> bool:
        """Whether any write is queued, lazy ones included."""
        return bool(self._queue)

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
        self._queue = []
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

    def _apply_each(self, queue: list[Write]) -> None:
        # No savepoint needed: SQLite undoes a failed statement by itself, and a value that
        # cannot be bound fails before the statement runs.
        execute = self._db.execute
        for sql, params in queue:
            try:
                execute(sql, params)
            except _WRITE_ERRORS as error:
                self._on_dropped(describe_write(sql, params), error)

    def _apply(self, queue: list[Write]) -> None:
        start = 0
        size = len(queue)
        while start < size:
            sql = queue[start][0]
            end = start + 1
            while end < size and queue[end][0] is sql:
                end += 1
            if end - start == 1:
                self._db.execute(sql, queue[start][1])
            elif sql is _REPORT_DONE:
                self._db.executemany(_REPORTS_DONE, _id_ranges(queue, start, end))
            else:
                self._db.executemany(sql, [params for _, params in queue[start:end]])
            start = end

    # -- reads -----------------------------------------------------------------------

    def _read(self, sql: str, params: Iterable[SqlValue] = ()) -> list[Row]:
        self.commit()
        return self._db.execute(sql, tuple(params)).fetchall()

    def max_id(self) -> int:
        """The highest message id ever stored (0 when empty)."""
        return int(self._read("SELECT COALESCE(MAX(id), 0) FROM messages")[0][0])

    def max_seen(self) -> int:
        """The latest arrival order of a message at a phone (0 when none arrived)."""
        return int(self._read("SELECT COALESCE(MAX(seen), 0) FROM messages")[0][0])

    def get_message(self, message: int) -> MessageRecord | None:
        """One message by row id."""
        rows = self._read(f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE id = ?", (message,))
        return MessageRecord(*rows[0]) if rows else None

    def find_messages(
        self,
        *,
        msisdn: str | None = None,
        system_id: str | None = None,
        state: int | None = None,
        direction: str | None = None,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
        among: Collection[str] | None = None,
    ) -> list[MessageRecord]:
        """Messages matching every given filter, newest first (oldest first with ``after``).

        :param among: only messages of these MSISDNs (a namespace's handsets).
        """
        if among is not None and not among:
            return []
        where: list[str] = []
        params: list[SqlValue] = []
        if among is not None:
            where.append(f"msisdn IN ({', '.join('?' * len(among))})")
            params += among
        for column, value in (
            ("msisdn", msisdn),
            ("system_id", system_id),
            ("state", state),
            ("direction", direction),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if before is not None:
            where.append("id < ?")
            params.append(before)
        if after is not None:
            where.append("id > ?")
            params.append(after)
        order = "ASC" if after is not None else "DESC"
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages {clause} ORDER BY id {order} LIMIT ?",
            (*params, limit),
        )
        return [MessageRecord(*row) for row in rows]

    def handset_parts(
        self, msisdn: str, direction: str, after: int, limit: int = 2000, *, newest: bool = False
    ) -> list[MessageRecord]:
        """What a phone holds, in its order: the parts it received (MT) in arrival order
        (``seen``), or sent (MO) in row order; through the messages_by_handset index, so a
        page costs the same in any size of inbox.

        :param after: only parts above this position (a cursor, or the inbox's cleared point).
        :param limit: at most this many: the first ones after ``after``, or with ``newest``
            the last ones; either way returned in order.
        """
        key, where = _HANDSET_ORDER[direction]
        rows = self._read(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE msisdn = ? AND direction = ? "
            f"AND {where} {key} > ? ORDER BY {key} {'DESC' if newest else 'ASC'} LIMIT ?",
            (msisdn, direction, after, limit),
        )
        records = [MessageRecord(*row) for row in rows]
        return records[::-1] if newest else records

    def handset_parts_back(
        self, msisdn: str, direction: str, upto: int, above: int
    ) -> Iterator[MessageRecord]:
        """A phone's parts at or below position ``upto`` and above ``above``, newest first,
        read lazily: the caller stops when it has gone back far enough (a concatenation's
        window), so only what it needs is read."""
        key, where = _HANDSET_ORDER[direction]
        self.commit()
        cursor = self._db.execute(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE msisdn = ? AND direction = ? "
            f"AND {where} {key} <= ? AND {key} > ? ORDER BY {key} DESC",
            (msisdn, direction, upto, above),
        )
        try:
            for row in cursor:
                yield MessageRecord(*row)
        finally:
            cursor.close()

    def pending_messages(self) -> list[MessageRecord]:
        """MT messages not yet in a final state (to resume after a restart)."""
        rows = self._read(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages "
            f"WHERE direction = 'MT' AND state IN {_NOT_FINAL} ORDER BY id"
        )
        return [MessageRecord(*row) for row in rows]

    def owing(self) -> list[MessageRecord]:
        """Messages that owe their ESME a receipt or an MO, oldest first (after a restart)."""
        rows = self._read(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE report IS NOT NULL ORDER BY id"
        )
        return [MessageRecord(*row) for row in rows]

    def subscribers(self) -> list[tuple[str, str, str, int, str]]:
        """Every kept subscriber: (msisdn, name, state, inbox_after, namespace)."""
        rows = self._read(
            "SELECT msisdn, name, state, inbox_after, namespace FROM subscribers ORDER BY msisdn"
        )
        return [(str(m), str(n), str(s), int(i), str(ns)) for m, n, s, i, ns in rows]

    def documents(self, kind: str) -> list[tuple[str, Any]]:
        """Every document of ``kind`` as ``(key, value)``, in the order they were first put.

        A value is JSON as :func:`json.loads` gives it: its shape is known to the kind's owner.
        """
        rows = self._read("SELECT key, value FROM documents WHERE kind = ? ORDER BY rowid", (kind,))
        return [(str(key), json.loads(value)) for key, value in rows]

    def has_messages_for(self, msisdn: str) -> bool:
        """Whether any message was ever stored for this MSISDN."""
        return bool(self._read("SELECT 1 FROM messages WHERE msisdn = ? LIMIT 1", (msisdn,)))

    def msisdns(self, limit: int = 1000) -> list[str]:
        """MSISDNs that have messages (through the msisdn index), at most ``limit``."""
        return [
            row[0]
            for row in self._read("SELECT DISTINCT msisdn FROM messages ORDER BY msisdn LIMIT ?", (limit,))
        ]

    def count_messages(self) -> int:
        """How many messages are stored."""
        return int(self._read("SELECT COUNT(*) FROM messages")[0][0])

    def integrity_check(self) -> str:
        """SQLite's own integrity check: ``ok`` or what is broken."""
        return str(self._read("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        """Commit what is queued and close the database."""
        self.commit()
        self._db.close()
