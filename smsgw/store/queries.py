"""The reads every store answers alike: the statements of :mod:`smsgw.store.sql`, each run
through the store's own ``_read`` (which applies or waits for the writes before it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from typing import Any

from smsgw.store import sql
from smsgw.store.records import MessageRecord, SqlValue, TimelineStep
from smsgw.store.sql import Row

#: The document that keeps the last fresh number reserved (:meth:`SqlReads.reserve_numbers`).
NUMBERS_KIND, NUMBERS_KEY = "carrier.numbers", "fresh"


class SqlReads:
    """What :class:`~smsgw.store.interface.MessageStore` reads, for a store that gives ``_read``."""

    #: The column that keeps documents in their first insertion order.
    _DOCUMENT_ORDER = "rowid"
    #: Queues a document, as the store's writes do (:class:`~smsgw.store.writes.QueuedWrites`).
    put_document: Callable[[str, str, object], None]

    def _read(self, query: str, params: Iterable[SqlValue] = ()) -> list[Row]:
        """Each store's own: run ``query`` after the writes before it (SQLite applies its queue
        first; PostgreSQL waits on its worker). Not a default: a store must say how it reads."""
        raise NotImplementedError(f"{type(self).__name__} does not say how it reads")

    def _records(self, query: str, params: Iterable[SqlValue] = ()) -> list[MessageRecord]:
        return [MessageRecord(*row) for row in self._read(query, params)]

    def max_id(self) -> int:
        """The highest message id ever stored (0 when empty)."""
        return int(self._read(sql.MAX_ID)[0][0])

    def max_seen(self) -> int:
        """The latest arrival order of a message at a phone (0 when none arrived)."""
        return int(self._read(sql.MAX_SEEN)[0][0])

    def get_message(self, message: int) -> MessageRecord | None:
        """One message by row id."""
        records = self._records(sql.GET_MESSAGE, (message,))
        return records[0] if records else None

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
        return self._records(
            *sql.find_messages(
                msisdn=msisdn, system_id=system_id, state=state, direction=direction,
                before=before, after=after, limit=limit, among=among,
            )
        )  # fmt: skip

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
        records = self._records(*sql.handset_parts(msisdn, direction, after, limit, newest))
        return records[::-1] if newest else records

    def pending_messages(self) -> list[MessageRecord]:
        """MT messages not yet in a final state (to resume after a restart)."""
        return self._records(sql.PENDING)

    def owing(self) -> list[MessageRecord]:
        """Messages that owe their ESME a receipt or an MO, oldest first (after a restart)."""
        return self._records(sql.OWING)

    def subscribers(self) -> list[tuple[str, str, str, int, str]]:
        """Every kept subscriber: (msisdn, name, state, inbox_after, namespace)."""
        return [(str(m), str(n), str(s), int(i), str(ns)) for m, n, s, i, ns in self._read(sql.SUBSCRIBERS)]

    def documents(self, kind: str) -> list[tuple[str, Any]]:
        """Every document of ``kind`` as ``(key, value)``, in the order they were first put.

        A value is JSON as :func:`json.loads` gives it: its shape is known to the kind's owner.
        """
        rows = self._read(
            f"SELECT key, value FROM documents WHERE kind = ? ORDER BY {self._DOCUMENT_ORDER}", (kind,)
        )
        return [(str(key), json.loads(value)) for key, value in rows]

    def timeline(
        self,
        *,
        msisdn: str | None = None,
        namespace: str | None = None,
        message_ids: Collection[str] = (),
        order_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[TimelineStep]:
        """Payments' steps matching every given filter, in the order they were recorded.

        :param namespace: steps of this namespace and of the namespaces inside it.
        :param message_ids: steps of any of these message_ids (empty: any step).
        :param since: steps at or after this time; ``until``: before that one.
        :param after: only steps numbered above this (the last ``id`` a poller saw).
        :param limit: at most this many: the first ones after ``after``.
        """
        query, params = sql.timeline(
            msisdn=msisdn, namespace=namespace, message_ids=message_ids, order_id=order_id,
            since=since, until=until, after=after, limit=limit,
        )  # fmt: skip
        return [
            TimelineStep(
                id=int(row[0]),
                at=float(row[1]),
                namespace=str(row[2]),
                msisdn=str(row[3]),
                kind=str(row[4]),
                system_id=str(row[5]),
                message_id=str(row[6]),
                session=None if row[7] is None else int(row[7]),
                order_id=str(row[8]),
                detail=json.loads(row[9]),
                pdu=None if row[10] is None else bytes(row[10]),
            )  # fmt: skip
            for row in self._read(query, params)
        ]

    def last_msisdn(self, prefix: str) -> str | None:
        """The highest MSISDN starting with ``prefix`` that has messages, if any."""
        rows = self._read(sql.LAST_MSISDN_BETWEEN, (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        return rows[0][0] if rows else None

    def reserve_numbers(self, floor: int, count: int) -> int:
        """One process owns this store: counting on from ``floor``, or from the last number
        reserved before if that is higher, reserves. The last one is kept as a document:
        retention removes old messages, so the numbers they went to no longer show which
        numbers were given out."""
        kept = dict(self.documents(NUMBERS_KIND)).get(NUMBERS_KEY, 0)
        return self._reserve(max(floor, int(kept)), count)

    def reserve_numbers_later(self, floor: int, count: int, then: Callable[[int | None], None]) -> None:
        """As :meth:`reserve_numbers` after it (which read the document), told at once."""
        then(self._reserve(floor, count))

    def _reserve(self, floor: int, count: int) -> int:
        self.put_document(NUMBERS_KIND, NUMBERS_KEY, floor + count)
        return floor + count

    def msisdns(self, limit: int = 1000) -> list[str]:
        """MSISDNs that have messages (through the msisdn index), at most ``limit``."""
        return [row[0] for row in self._read(sql.MSISDNS, (limit,))]

    def count_messages(self) -> int:
        """How many messages are stored."""
        return int(self._read(sql.COUNT_MESSAGES)[0][0])

    def traffic(
        self, system_id: str, start: float, end: float, service_type: str | None = None
    ) -> tuple[list[tuple[str, int, int]], int]:
        """An account's messages of a span (by submitted_at), optionally of one service type:
        (direction, state, count) rows, and how many numbers its MT went to."""
        params = (system_id, start, end, service_type, service_type)
        rows = [(str(d), int(s), int(n)) for d, s, n in self._read(sql.TRAFFIC, params)]
        return rows, int(self._read(sql.TRAFFIC_USERS, params)[0][0])
