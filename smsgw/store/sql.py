"""The SQL every store speaks: its statements, and how a turn's queued writes reach the database.

Statements are written once, with ``?`` placeholders (SQLite's); a store whose driver wants
another style translates them (:func:`with_placeholders`). They use only what SQLite and
PostgreSQL both understand, so the stores differ in connection, schema types and
transactions, never in what a write or a read means.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from smsgw.store.records import MESSAGE_COLUMNS, TIMELINE_COLUMNS, PruneBatch, SqlValue

#: A queued write: a statement and its parameters.
Write = tuple[str, tuple[SqlValue, ...]]
#: A row read back: each column's type is the schema's, which the query names and Python cannot see.
Row = tuple[Any, ...]

COLUMNS = ", ".join(MESSAGE_COLUMNS)
STEP_COLUMNS = ", ".join(TIMELINE_COLUMNS)

# -- writes ---------------------------------------------------------------------------

INSERT_MESSAGE = f"INSERT INTO messages ({COLUMNS}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
UPDATE_STATE = (
    "UPDATE messages SET state = ?, done_at = ?, error = ?, report = ?, report_attempts = 0, "
    "report_next_at = 0, seen = ? WHERE id = ?"
)
OWE_REPORT = "UPDATE messages SET report = ?, report_attempts = 0, report_next_at = 0 WHERE id = ?"
REPORT_DONE = "UPDATE messages SET report = NULL WHERE id = ? AND report = ?"
#: REPORT_DONE for every id from one to another (each one queued): under load, ESMEs accept
#: receipts in the order of their messages, and a range costs the database less than half
#: the statements one by one.
REPORTS_DONE = "UPDATE messages SET report = NULL WHERE id BETWEEN ? AND ? AND report = ?"
MO_DONE = "UPDATE messages SET state = ?, done_at = ?, report = NULL WHERE id = ?"
REPORT_RETRY = "UPDATE messages SET report_attempts = ?, report_next_at = ? WHERE id = ? AND report = ?"
REPLACE = (
    "UPDATE messages SET body = ?, scheduled_at = ?, expires_at = ?, registered_delivery = ? WHERE id = ?"
)
SAVE_SUBSCRIBER = (
    "INSERT INTO subscribers (msisdn, name, state, inbox_after, namespace) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (msisdn) DO UPDATE SET name = excluded.name, state = excluded.state, "
    "inbox_after = excluded.inbox_after, namespace = excluded.namespace"
)
DELETE_SUBSCRIBER = "DELETE FROM subscribers WHERE msisdn = ?"
PUT_DOCUMENT = (
    "INSERT INTO documents (kind, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value"
)
DELETE_DOCUMENT = "DELETE FROM documents WHERE kind = ? AND key = ?"
#: A payment's step; the store numbers it (``id``), in the order steps are queued.
INSERT_STEP = (
    f"INSERT INTO timeline ({', '.join(TIMELINE_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' * (len(TIMELINE_COLUMNS) - 1))})"
)
#: Retention (smsgw.store.records.PruneBatch): final messages (not SCHEDULED, ENROUTE or
#: ACCEPTD) that owe nothing (no receipt or MO still owed), in an id range walked along the
#: primary key, which needs no index of its own on the hot path.
PRUNE_MESSAGES = (
    "DELETE FROM messages WHERE id > ? AND id <= ? AND report IS NULL AND state NOT IN (0, 1, 6) "
    "AND done_at < ? AND id < (SELECT MAX(id) FROM messages WHERE id BETWEEN ? AND ?) "
    "AND (seen IS NULL OR (seen > ? AND seen < ?))"
)
#: Retention of the timeline: steps older than the cut or beyond the newest ``keep``, the
#: newest always kept.
PRUNE_STEPS_BATCH = (
    "DELETE FROM timeline WHERE id > ? AND id <= ? AND id < (SELECT MAX(id) FROM timeline) "
    "AND (at < ? OR id <= (SELECT MAX(id) FROM timeline) - ?)"
)
#: The highest id among a batch's rows (PruneBatch.rows of them above ``after``, up to ``upto``).
PRUNE_REACH = {
    table: f"SELECT MAX(id) FROM (SELECT id FROM {table} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?) AS batch"
    for table in ("messages", "timeline")
}

_MESSAGE_ID, _MSISDN = MESSAGE_COLUMNS.index("message_id"), MESSAGE_COLUMNS.index("msisdn")
#: What each queued write changes, for the log when one is dropped: statement -> describer.
_WRITES: dict[str, Callable[[tuple[object, ...]], str]] = {
    INSERT_MESSAGE: lambda p: f"new message {p[_MESSAGE_ID]} for {p[_MSISDN]}",
    UPDATE_STATE: lambda p: f"state of message row {p[5]}",
    OWE_REPORT: lambda p: f"receipt owed by message row {p[1]}",
    REPORT_DONE: lambda p: f"receipt done of message row {p[0]}",
    MO_DONE: lambda p: f"end of MO row {p[2]}",
    REPORT_RETRY: lambda p: f"retry of message row {p[2]}",
    REPLACE: lambda p: f"replace_sm of message row {p[4]}",
    SAVE_SUBSCRIBER: lambda p: f"subscriber {p[0]}",
    DELETE_SUBSCRIBER: lambda p: f"removal of subscriber {p[0]}",
    PUT_DOCUMENT: lambda p: f"{p[0]} {p[1]}",
    DELETE_DOCUMENT: lambda p: f"removal of {p[0]} {p[1]}",
    INSERT_STEP: lambda p: f"timeline step {p[3]} of {p[2] or p[1] or 'no handset'}",
}


def prune_reach(batch: PruneBatch) -> tuple[str, tuple[SqlValue, ...]]:
    """The statement (one of :data:`PRUNE_REACH`) and parameters that find where a batch reaches."""
    return PRUNE_REACH[batch.table], (batch.after, batch.upto, batch.rows)


def prune_delete(batch: PruneBatch, reached: int) -> tuple[str, tuple[SqlValue, ...]]:
    """The statement and parameters that remove a batch that reaches ``reached``."""
    if batch.table == "timeline":
        return PRUNE_STEPS_BATCH, (batch.after, reached, batch.ended_before, batch.keep)
    first, last = batch.id_range
    return PRUNE_MESSAGES, (batch.after, reached, batch.ended_before, first, last, first, batch.last_arrival)


def describe_write(sql: str, params: tuple[SqlValue, ...]) -> str:
    """What a queued write changes, in a few words naming the message or subscriber."""
    describer = _WRITES.get(sql)
    return describer(params) if describer is not None else f"write {sql[:40]!r}"


def id_ranges(queue: list[Write], start: int, end: int) -> list[tuple[int, int, int]]:
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


def apply_queue(
    queue: list[Write],
    execute: Callable[[str, tuple[SqlValue, ...]], object],
    executemany: Callable[[str, Iterable[tuple[SqlValue, ...]]], object],
) -> None:
    """Run a turn's writes in their order: consecutive writes of one statement as one
    ``executemany``, receipts done as ranges of ids."""
    start = 0
    size = len(queue)
    while start < size:
        sql = queue[start][0]
        end = start + 1
        while end < size and queue[end][0] is sql:
            end += 1
        if end - start == 1:
            execute(sql, queue[start][1])
        elif sql is REPORT_DONE:
            executemany(REPORTS_DONE, id_ranges(queue, start, end))
        else:
            executemany(sql, [params for _, params in queue[start:end]])
        start = end


# -- reads ----------------------------------------------------------------------------

MAX_ID = "SELECT COALESCE(MAX(id), 0) FROM messages"
MAX_SEEN = "SELECT COALESCE(MAX(seen), 0) FROM messages"
GET_MESSAGE = f"SELECT {COLUMNS} FROM messages WHERE id = ?"
#: MT messages not yet final: SCHEDULED, ENROUTE, ACCEPTD.
PENDING = f"SELECT {COLUMNS} FROM messages WHERE direction = 'MT' AND state IN (0, 1, 6) ORDER BY id"
OWING = f"SELECT {COLUMNS} FROM messages WHERE report IS NOT NULL ORDER BY id"
SUBSCRIBERS = "SELECT msisdn, name, state, inbox_after, namespace FROM subscribers ORDER BY msisdn"
#: A range of the msisdn index, not LIKE: both engines read it from the index.
LAST_MSISDN_BETWEEN = "SELECT max(msisdn) FROM messages WHERE msisdn >= ? AND msisdn < ?"
MSISDNS = "SELECT DISTINCT msisdn FROM messages ORDER BY msisdn LIMIT ?"
COUNT_MESSAGES = "SELECT COUNT(*) FROM messages"
#: An account's messages submitted (MT) or taken (MO) in a span, by direction and state.
TRAFFIC = (
    "SELECT direction, state, COUNT(*) FROM messages WHERE system_id = ? AND submitted_at >= ? "
    "AND submitted_at < ? AND (CAST(? AS TEXT) IS NULL OR service_type = ?) GROUP BY direction, state"
)
#: The numbers an account's MT of a span went to.
TRAFFIC_USERS = (
    "SELECT COUNT(DISTINCT msisdn) FROM messages WHERE system_id = ? AND direction = 'MT' "
    "AND submitted_at >= ? AND submitted_at < ? AND (CAST(? AS TEXT) IS NULL OR service_type = ?)"
)

#: A phone's order per direction: received parts by arrival (``seen``); sent ones (``seen`` NULL) by row.
_HANDSET_ORDER = {"MT": ("seen", ""), "MO": ("id", "seen IS NULL AND")}


def find_messages(
    *,
    msisdn: str | None,
    system_id: str | None,
    state: int | None,
    direction: str | None,
    before: int | None,
    after: int | None,
    limit: int,
    among: Collection[str] | None,
) -> tuple[str, list[SqlValue]]:
    """The query of :meth:`MessageStore.find_messages`: every given filter, newest first
    (oldest first with ``after``)."""
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
    return f"SELECT {COLUMNS} FROM messages {clause} ORDER BY id {order} LIMIT ?", [*params, limit]


def handset_parts(
    msisdn: str, direction: str, after: int, limit: int, newest: bool
) -> tuple[str, list[SqlValue]]:
    """A phone's parts above a position, in its order (see :meth:`MessageStore.handset_parts`)."""
    key, where = _HANDSET_ORDER[direction]
    return (
        f"SELECT {COLUMNS} FROM messages WHERE msisdn = ? AND direction = ? "
        f"AND {where} {key} > ? ORDER BY {key} {'DESC' if newest else 'ASC'} LIMIT ?",
        [msisdn, direction, after, limit],
    )


def handset_parts_back(msisdn: str, direction: str, upto: int, above: int) -> tuple[str, list[SqlValue]]:
    """A phone's parts from a position back to another, newest first."""
    key, where = _HANDSET_ORDER[direction]
    return (
        f"SELECT {COLUMNS} FROM messages WHERE msisdn = ? AND direction = ? "
        f"AND {where} {key} <= ? AND {key} > ? ORDER BY {key} DESC",
        [msisdn, direction, upto, above],
    )


def timeline(
    *,
    msisdn: str | None,
    namespace: str | None,
    message_ids: Collection[str],
    order_id: str | None,
    since: float | None,
    until: float | None,
    after: int,
    limit: int,
) -> tuple[str, list[SqlValue]]:
    """The query of :meth:`MessageStore.timeline`: the steps matching every given filter, in
    insertion order."""
    if isinstance(message_ids, str):  # a str is a collection too: of one-character ids
        raise TypeError(f"message_ids: give a list of message_ids, not the one str {message_ids!r}")
    where = ["id > ?"]
    params: list[SqlValue] = [after]
    order = "id"
    if msisdn is not None:
        where.append("msisdn = ?")
        params.append(msisdn)
    if namespace is not None:
        # The namespace and those inside it ("run-1.7"), not its neighbours ("run-10"): a range
        # of the index, as "/" follows "." in byte order (PostgreSQL's column sorts so, COLLATE
        # "C"), and no LIKE whose "_" would need escaping. The bounds are made here, so no
        # engine has to guess the type of a parameter's "|| '.'".
        where.append("(namespace = ? OR (namespace >= ? AND namespace < ?))")
        params += [namespace, namespace + ".", namespace + "/"]
        # Ordered by an expression, not the column: told LIMIT ?, SQLite would rather walk
        # every step after ``after`` in id order than read the namespace's from its index and
        # sort them, which costs far less where many namespaces share the table.
        order = "+id"
    if message_ids:
        # The partial index's own condition, spelled out: a planner uses that index only when
        # the query implies it, which it cannot prove of a parameter.
        where.append(f"message_id IN ({', '.join('?' * len(message_ids))}) AND message_id <> ''")
        params += message_ids
    if order_id is not None:
        where.append("order_id = ? AND order_id <> ''")
        params.append(order_id)
    if since is not None:
        where.append("at >= ?")
        params.append(since)
    if until is not None:
        where.append("at < ?")
        params.append(until)
    return (
        f"SELECT {STEP_COLUMNS} FROM timeline WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
        [*params, limit],
    )


def with_placeholders(sql: str, placeholder: str) -> str:
    """``sql`` with each ``?`` written as ``placeholder`` (no statement here holds a ``?``
    of its own, in a literal or a name)."""
    return sql.replace("?", placeholder)
