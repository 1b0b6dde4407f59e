"""Several smsgw nodes on one PostgreSQL database (see docs/cluster.md).

A node is a :class:`PostgresNodeStore`: the PostgreSQL store plus what lets nodes share the
database instead of one holding it alone.

- It registers in ``nodes`` under its name and a *slot* (1-1023), kept for that name across
  restarts, and holds a lease there that it renews. Its rows are numbered in its slot's range
  (``slot · 2⁴⁰ + n``), so no two nodes hand out one message id, with no round trip per id.
- Its connection sets ``smsgw.node``, which the ``messages.node`` column takes by default: a
  message names the node that accepted it, which delivers what it owes.
- What it owes an account that has no bind here, it releases (``node`` NULL, then a
  notification on ``smsgw_owed``); a node with a bind of that account claims such rows with
  ``FOR UPDATE SKIP LOCKED``, so each goes to exactly one. Rows of a node whose lease ran out
  are claimed the same way, and its pending MTs are taken over.

A start, a restart and a takeover read back only the node's own rows.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import psycopg

from smsgw.store import sql
from smsgw.store.interface import StoreError
from smsgw.store.postgres import OWNER_LOCK, PostgresStore
from smsgw.store.records import MESSAGE_COLUMNS, MessageRecord, SqlValue
from smsgw.store.sql import Write

#: A node's rows are numbered from ``slot << SLOT_BITS``: a trillion rows per node.
SLOT_BITS = 40
#: The channel a node names the account on when it releases what is owed to it.
OWED_CHANNEL = "smsgw_owed"
#: The channel of other changes the nodes share, ``KIND MSISDN NODE`` (the node that made
#: it): ``handset`` (kept, changed or removed), ``arrived`` (an MT reached that phone).
CHANGED_CHANNEL = "smsgw_changed"
#: The channel of a node's network events, ``NODE TYPE JSON``, sent while another node watches.
EVENTS_CHANNEL = "smsgw_events"
#: PostgreSQL refuses a notification payload of 8,000 bytes or more.
MAX_NOTICE = 7999
_REGISTRATION_LOCK = 0x736D736777 + 2
#: Each node's liveness lock is this plus its slot: held by its connection while it runs, so a
#: restarted node knows at once that its earlier process is gone (its lease may still run).
_NODE_LOCK = 0x736D73677700
_CLAIM_BATCH = 10_000
#: Locks one node alone holds at a time (see PostgresNodeStore.hold), this plus a name's hash.
_ONE_NODE_LOCK = 0x736D73677800

_RELEASE = "UPDATE messages SET node = NULL WHERE id = ? AND node = current_setting('smsgw.node')"
_NOTIFY = "SELECT pg_notify(?, ?)"
_USSD_HOME = (
    "INSERT INTO ussd_homes (msisdn, node) VALUES (?, current_setting('smsgw.node'))"
    " ON CONFLICT (msisdn) DO UPDATE SET node = excluded.node"
)
#: Arrivals told by row (held messages reached their phones): the database knows the MSISDNs.
#: One notification a batch of rows, not one a message: at thousands of messages a second,
#: a notification each would be most of what every node hears (docs/cluster.md).
_NOTIFY_ARRIVALS_OF = (
    f"SELECT pg_notify('{CHANGED_CHANNEL}',"
    " 'arrived ' || string_agg(DISTINCT msisdn, ',') || ' ' || current_setting('smsgw.node'))"
    " FROM messages WHERE id = ANY(?::bigint[]) HAVING count(*) > 0"
)
#: Rows (or MSISDNs) told in one notification: 400 numbers of at most 15 digits and their
#: commas stay well under PostgreSQL's 8,000-byte payload.
_ARRIVALS_A_NOTICE = 400
T = TypeVar("T")
_SEEN = MESSAGE_COLUMNS.index("seen")
_MSISDN = MESSAGE_COLUMNS.index("msisdn")
_DEAD = "SELECT name FROM nodes WHERE lease_until < now()"
#: One row lock makes two nodes' reservations of fresh numbers follow each other.
_RESERVE_NUMBERS = (
    # bigint casts: psycopg sends small ints as smallint, whose sum would overflow at 32,767.
    "INSERT INTO counters (name, value) VALUES ('fresh_numbers', %(floor)s::bigint + %(count)s::bigint)"
    " ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, %(floor)s::bigint) + %(count)s::bigint"
    " RETURNING value"
)
_PENDING_MT = "(direction = 'MT' AND state IN (0, 1, 6))"


def _batches(items: list[T]) -> list[list[T]]:
    return [items[i : i + _ARRIVALS_A_NOTICE] for i in range(0, len(items), _ARRIVALS_A_NOTICE)]


class PostgresNodeStore(PostgresStore):
    """The PostgreSQL store of one node of several.

    :param node: this node's name (``--node``), unique among the database's live nodes.
    :param lease: seconds a node stays alive to the others without renewing its lease.
    :param on_error: told (through ``call_soon``) of a claim, takeover or renewal that failed.
    """

    def __init__(
        self,
        url: str,
        node: str,
        *,
        lease: float = 10.0,
        on_error: Callable[[str, BaseException], None] = lambda what, error: None,
        **options: Any,
    ) -> None:
        self.node = node
        self.lease = lease
        self.slot = 0
        self._dsn = url  # the listener's own connection needs the password the logs do not show
        self._on_error = on_error
        #: Notifications for the other nodes, sent with the next commit: once each, after
        #: every write of it (consecutive writes of one statement stay one executemany).
        self._notices: dict[tuple[str, str], None] = {}
        self._arrivals: list[int] = []
        self._arrived: dict[str, None] = {}
        self._events: list[str] = []
        super().__init__(url, **options)
        self._listening: threading.Thread | None = None
        self._stop_listening = threading.Event()

    # -- joining -------------------------------------------------------------------------

    def _own(self) -> None:
        db = self._db
        db.execute("SELECT set_config('smsgw.node', %s, false)", (self.node,))
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRATION_LOCK,))
            row = db.execute("SELECT slot FROM nodes WHERE name = %s", (self.node,)).fetchone()
            if row is None:
                free = db.execute(
                    "SELECT MIN(s) FROM generate_series(1, 1023) s WHERE s NOT IN (SELECT slot FROM nodes)"
                ).fetchone()
                if free is None or free[0] is None:
                    raise StoreError(f"{self.url} has 1023 nodes already; reuse a name with --node")
                slot = int(free[0])
                db.execute(
                    "INSERT INTO nodes (name, slot, lease_until) VALUES (%s, %s, now() + make_interval(secs => %s))",
                    (self.node, slot, self.lease),
                )
            else:
                slot = int(row[0])
            # Nodes hold the single smsgw's lock shared: neither runs beside the other.
            (shared,) = db.execute("SELECT pg_try_advisory_lock_shared(%s)", (OWNER_LOCK,)).fetchone() or (
                False,
            )
            if not shared:
                raise StoreError(
                    f"the store {self.url} is in use by an smsgw that is no node; stop it, or run it with --node too"
                )
            (alone,) = db.execute("SELECT pg_try_advisory_lock(%s)", (_NODE_LOCK + slot,)).fetchone() or (
                False,
            )
            if not alone:
                raise StoreError(
                    f"node {self.node!r} is already running on {self.url}; give this one another --node name"
                )
            # A restarted node has no event stream open yet, whatever its last run had.
            db.execute(
                "UPDATE nodes SET lease_until = now() + make_interval(secs => %s), watching = false"
                " WHERE name = %s",
                (self.lease, self.node),
            )
        self.slot = slot

    @property
    def first_id(self) -> int:
        """Where this node's range of row ids starts (its rows are numbered above it)."""
        return self.slot << SLOT_BITS

    @property
    def id_range(self) -> tuple[int, int]:
        """The first and last row id of this node's range (arrivals are numbered in it too)."""
        return self.first_id, self.first_id + (1 << SLOT_BITS) - 1

    def count_messages(self) -> int:
        """How many messages of this node's range are stored (a read: at start)."""
        return int(self._read("SELECT COUNT(*) FROM messages WHERE id BETWEEN ? AND ?", self.id_range)[0][0])

    # -- reads of this node's own rows ---------------------------------------------------

    def max_id(self) -> int:
        """The highest row id in this node's range (its range's start when it has none)."""
        first = self.first_id
        rows = self._read(
            "SELECT COALESCE(MAX(id), ?) FROM messages WHERE id BETWEEN ? AND ?",
            (first, first, first + (1 << SLOT_BITS) - 1),
        )
        return int(rows[0][0])

    def max_seen(self) -> int:
        """The latest arrival this node numbered (arrivals are numbered in its range too)."""
        first = self.first_id
        rows = self._read(
            "SELECT COALESCE(MAX(seen), ?) FROM messages WHERE seen BETWEEN ? AND ?",
            (first, first, first + (1 << SLOT_BITS) - 1),
        )
        return int(rows[0][0])

    def pending_messages(self) -> list[MessageRecord]:
        """This node's MT messages not yet final."""
        return self._records(
            f"SELECT {sql.COLUMNS} FROM messages WHERE node = ? AND direction = 'MT' AND state IN (0, 1, 6)"
            " ORDER BY id",
            (self.node,),
        )

    def owing(self) -> list[MessageRecord]:
        """What this node's messages still owe their ESMEs."""
        return self._records(
            f"SELECT {sql.COLUMNS} FROM messages WHERE node = ? AND report IS NOT NULL ORDER BY id",
            (self.node,),
        )

    # -- what the other nodes are told -------------------------------------------------------

    def insert_message(self, row: tuple[SqlValue, ...]) -> None:
        """Queue a new message; one that reached its phone already tells the other nodes."""
        super().insert_message(row)
        if row[_SEEN] is not None:
            self._arrived[str(row[_MSISDN])] = None

    def update_state(
        self,
        message: int,
        state: int,
        done_at: float | None,
        error: int,
        report: int | None,
        seen: int | None = None,
    ) -> None:
        """Queue a new state; an arrival is told to the other nodes (for the phone's inbox)."""
        super().update_state(message, state, done_at, error, report, seen)
        if seen is not None:
            self._arrivals.append(message)

    def save_subscriber(
        self, msisdn: str, name: str, state: str, inbox_after: int, namespace: str = ""
    ) -> None:
        """Queue a subscriber's change, and tell the other nodes."""
        super().save_subscriber(msisdn, name, state, inbox_after, namespace)
        self._notices[CHANGED_CHANNEL, f"handset {msisdn} {self.node}"] = None

    def delete_subscriber(self, msisdn: str) -> None:
        """Queue a subscriber's removal, and tell the other nodes."""
        super().delete_subscriber(msisdn)
        self._notices[CHANGED_CHANNEL, f"handset {msisdn} {self.node}"] = None

    def _take_queue(self) -> list[Write]:
        queue = super()._take_queue()
        if self._arrivals:
            # An array literal ('{1,2}'), which the statement casts: a write's values are scalars.
            told = ["{" + ",".join(map(str, ids)) + "}" for ids in _batches(self._arrivals)]
            queue += [(_NOTIFY_ARRIVALS_OF, (ids,)) for ids in told]
            self._arrivals = []
        if self._arrived:
            told = [f"arrived {','.join(numbers)} {self.node}" for numbers in _batches(list(self._arrived))]
            queue += [(_NOTIFY, (CHANGED_CHANNEL, payload)) for payload in told]
            self._arrived = {}
        if self._notices:
            queue += [(_NOTIFY, notice) for notice in self._notices]
            self._notices = {}
        if self._events:
            queue += [(_NOTIFY, (EVENTS_CHANNEL, event)) for event in self._events]
            self._events = []
        return queue

    def tell(self, kind: str, subject: str = "-") -> None:
        """Queue (urgent) a notification to the other nodes that ``kind`` changed (``clock``)."""
        self._notices[CHANGED_CHANNEL, f"{kind} {subject} {self.node}"] = None
        self._urgent = True

    def tell_event(self, event_type: str, data: str) -> bool:
        """Queue (lazily) a network event of this node for the nodes watching; False (and
        nothing queued) when it is too large for a notification.

        :param data: the event as the event stream writes it (one JSON line).
        """
        payload = f"{self.node} {event_type} {data}"
        if len(payload.encode("utf-8", "backslashreplace")) > MAX_NOTICE:
            return False
        self._events.append(payload)
        return True

    def watch(self, watching: bool) -> None:
        """Record whether an event stream is open on this node, and tell the others (who
        publish their events only while some node watches)."""

        def record() -> None:
            with self._db.transaction():
                self._db.execute("UPDATE nodes SET watching = %s WHERE name = %s", (watching, self.node))
                self._db.execute("SELECT pg_notify(%s, %s)", (CHANGED_CHANNEL, f"watching - {self.node}"))

        self._later("recording whether this node watches events", record, lambda _: None)

    def watched(self, then: Callable[[bool], None]) -> None:
        """``then(whether another live node has an event stream open)``."""

        def read() -> bool:
            row = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM nodes WHERE watching AND name <> %s AND lease_until > now())",
                (self.node,),
            ).fetchone()
            return bool(row and row[0])

        self._later("reading whether other nodes watch events", read, then)

    def documents_later(self, kind: str, then: Callable[[list[tuple[str, Any]]], None]) -> None:
        """Read the documents of ``kind`` on the worker; ``then`` gets them."""

        def read() -> list[tuple[str, Any]]:  # on the worker: straight to the connection
            rows = self._db.execute(
                "SELECT key, value FROM documents WHERE kind = %s ORDER BY position", (kind,)
            ).fetchall()
            return [(str(key), json.loads(value)) for key, value in rows]

        self._later(f"reading the {kind} documents", read, then)

    def hold(self, what: str) -> bool:
        """Whether this node now holds the cluster-wide lock named ``what`` (until its
        connection ends): for what one node alone may run, the mock merchant."""
        key = _ONE_NODE_LOCK + zlib.crc32(what.encode()) % 0xFFFF
        row = self._on_worker(lambda: self._db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone())
        return bool(row and row[0])

    # -- fresh handset numbers ----------------------------------------------------------

    def reserve_numbers(self, floor: int, count: int) -> int:
        """Reserve the block in the database, after every other node's."""
        return self._on_worker(self._reserve, floor, count)

    def reserve_numbers_later(self, floor: int, count: int, then: Callable[[int | None], None]) -> None:
        """As :meth:`reserve_numbers`, off the caller's thread; ``then`` gets None (and
        ``on_error`` hears why) when the database refused."""
        failure: list[psycopg.Error] = []

        def reserve() -> int | None:
            try:
                return self._reserve(floor, count)
            except psycopg.Error as error:
                failure.append(error)
                return None

        def told(last: int | None) -> None:
            if failure:
                self._on_error("reserving fresh numbers", failure[0])
            then(last)

        self._later("reserving fresh numbers", reserve, told)

    def _reserve(self, floor: int, count: int) -> int:
        row = self._db.execute(_RESERVE_NUMBERS, {"floor": floor, "count": count}).fetchone()
        assert row is not None
        return int(row[0])

    # -- where USSD dialogues live --------------------------------------------------------

    def publish(self, http_url: str) -> None:
        """Say where this node's HTTP API answers (the others forward a phone's USSD there)."""
        self._on_worker(
            lambda: self._db.execute("UPDATE nodes SET http_url = %s WHERE name = %s", (http_url, self.node))
        )

    def bound_here(self, system_ids: Iterable[str]) -> None:
        """Record the accounts bound on this node now (in place of what was recorded)."""
        accounts = sorted(set(system_ids))

        def record() -> None:
            with self._db.transaction():
                self._db.execute(
                    "DELETE FROM node_binds WHERE node = %s AND NOT (system_id = ANY(%s))",
                    (self.node, accounts),
                )
                self._db.execute(
                    "INSERT INTO node_binds (node, system_id) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                    (self.node, accounts),
                )

        self._later("recording this node's binds", record, lambda _: None)

    def ussd_home_here(self, msisdn: str) -> None:
        """Queue (urgent) that the phone's latest USSD dialogue lives on this node."""
        self._queue.append((_USSD_HOME, (msisdn,)))
        self._urgent = True

    def node_bound_for(self, system_id: str, then: Callable[[str | None], None]) -> None:
        """The HTTP API of another live node with a bind of ``system_id`` (None: none has one)."""
        self._later(
            f"finding a node bound for {system_id}",
            self._url_of_one,
            then,
            "SELECT n.http_url FROM node_binds b JOIN nodes n ON n.name = b.node WHERE b.system_id = %s",
            system_id,
        )

    def ussd_home_of(self, msisdn: str, then: Callable[[str | None], None]) -> None:
        """The HTTP API of the other live node where the phone's latest dialogue lives, if any."""
        self._later(
            f"finding where the USSD dialogue of {msisdn} lives",
            self._url_of_one,
            then,
            "SELECT n.http_url FROM ussd_homes h JOIN nodes n ON n.name = h.node WHERE h.msisdn = %s",
            msisdn,
        )

    def _url_of_one(self, query: str, key: str) -> str | None:
        row = self._db.execute(
            f"{query} AND n.name <> %s AND n.lease_until > now() AND n.http_url IS NOT NULL ORDER BY n.name LIMIT 1",
            (key, self.node),
        ).fetchone()
        return None if row is None else str(row[0])

    # -- sharing what is owed ------------------------------------------------------------

    def release_owed(self, messages: Iterable[int], system_id: str) -> None:
        """Queue (urgent) the hand-over of what these messages owe ``system_id``, which no
        bind here takes: the nodes bound for it are told once it is committed."""
        for message in messages:
            self._queue.append((_RELEASE, (message,)))
        self._notices[OWED_CHANNEL, system_id] = None
        self._urgent = True

    def subscriber(self, msisdn: str, then: Callable[[tuple[str, str, str, int, str] | None], None]) -> None:
        """Read one kept subscriber as stored (None: not kept); ``then`` gets it."""

        def read() -> tuple[str, str, str, int, str] | None:
            row = self._db.execute(
                "SELECT msisdn, name, state, inbox_after, namespace FROM subscribers WHERE msisdn = %s",
                (msisdn,),
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]))

        self._later(f"reading handset {msisdn}", read, then)

    def claim_owed(self, system_ids: Iterable[str], then: Callable[[list[MessageRecord]], None]) -> None:
        """Claim what is owed to these accounts and held by no live node (released, or left
        by a node whose lease ran out); ``then`` gets the claimed rows, oldest first."""
        accounts = sorted(set(system_ids))
        if not accounts:
            then([])
            return
        query = (
            f"UPDATE messages SET node = %s WHERE id IN (SELECT id FROM messages WHERE report IS NOT NULL"
            f" AND system_id = ANY(%s) AND (node IS NULL OR node IN ({_DEAD} AND name <> %s))"
            # A pending MT (and the intermediate receipt it owes) goes with the message: take_over.
            f" AND NOT {_PENDING_MT} ORDER BY id LIMIT {_CLAIM_BATCH} FOR UPDATE SKIP LOCKED)"
            f" RETURNING {sql.COLUMNS}"
        )
        self._later(
            f"claiming what is owed to {', '.join(accounts)}",
            self._claim,
            then,
            query,
            (self.node, accounts, self.node),
        )

    def take_over(self, then: Callable[[list[MessageRecord]], None]) -> None:
        """Take the pending MTs of nodes whose lease ran out (and those a single smsgw left
        on the database before it ran as nodes); ``then`` gets them, oldest first."""
        query = (
            f"UPDATE messages SET node = %s WHERE id IN (SELECT id FROM messages WHERE {_PENDING_MT}"
            f" AND (node IS NULL OR node IN ({_DEAD} AND name <> %s)) FOR UPDATE SKIP LOCKED)"
            f" RETURNING {sql.COLUMNS}"
        )
        self._later(
            "taking over the pending messages of lost nodes", self._claim, then, query, (self.node, self.node)
        )

    def renew_lease(self, then: Callable[[bool], None]) -> None:
        """Renew this node's lease; ``then(False)`` when it could not be (the database is out
        of reach, or the lease had run out and others may have taken this node's work)."""
        self._later(f"renewing the lease of node {self.node!r}", self._renew, then)

    def _renew(self) -> bool:
        renew = "UPDATE nodes SET lease_until = now() + make_interval(secs => %s) WHERE name = %s"
        held = self._db.execute(
            renew + " AND lease_until > now() RETURNING true", (self.lease, self.node)
        ).fetchone()
        if held is None:  # it ran out: others may have taken this node's work; live again from now
            self._db.execute(renew, (self.lease, self.node))
        return held is not None

    def _claim(self, query: str, params: tuple[Any, ...]) -> list[MessageRecord]:
        rows = self._db.execute(query, params).fetchall()
        return sorted((MessageRecord(*row) for row in rows), key=lambda record: record.id)

    def _later(self, what: str, job: Callable[..., Any], then: Callable[[Any], None], *args: Any) -> None:
        """Run ``job`` on the worker, after what was asked before; ``then`` gets its result on
        the caller's thread, or ``on_error`` hears ``what`` failed."""
        call_soon = self._call_soon
        if call_soon is None:
            then(self._on_worker(job, *args))
            return
        future = self._worker.submit(job, *args)

        def tell(_: object) -> None:
            error = future.exception()
            if error is None:
                result = future.result()
                call_soon(lambda: then(result))
            else:
                call_soon(lambda: self._on_error(what, error))

        future.add_done_callback(tell)

    # -- being told ----------------------------------------------------------------------

    def listen(self, on_notify: Callable[[str, str], None]) -> None:
        """Call ``on_notify(channel, payload)`` (through ``call_soon``) for what the other
        nodes tell (:data:`OWED_CHANNEL`, :data:`CHANGED_CHANNEL`, :data:`EVENTS_CHANNEL`), from a connection and a
        thread of its own. A node hears its own notifications too."""
        listener = psycopg.connect(self._dsn, autocommit=True)
        listener.execute(f"LISTEN {OWED_CHANNEL}")
        listener.execute(f"LISTEN {CHANGED_CHANNEL}")
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        call_soon = self._call_soon

        stopped = self._stop_listening

        def listen() -> None:
            try:
                while not stopped.is_set():  # woken each second to see whether to stop
                    for notify in listener.notifies(timeout=1.0):
                        if call_soon is not None:
                            call_soon(partial(on_notify, notify.channel, notify.payload))
                        else:
                            on_notify(notify.channel, notify.payload)
            except psycopg.Error:
                return  # the server went away: the periodic claims go on
            finally:
                listener.close()  # here: the connection is this thread's while it listens

        self._listening = threading.Thread(target=listen, name="smsgw-listen", daemon=True)
        self._listening.start()

    def close(self) -> None:
        """Stop listening, then close as a single store does (this node's lease is left to
        run out; its liveness lock goes with its connection)."""
        if self._listening is not None:
            self._stop_listening.set()
            self._listening.join(5)
            self._listening = None
        super().close()
