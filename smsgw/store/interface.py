"""What the carrier asks of a message store: the seam a second store implements.

:class:`~smsgw.store.sqlite.SqliteStore` and :class:`~smsgw.store.postgres.PostgresStore`
implement it. Writes are *queued*: they take effect at a commit, which the server asks for
once per reactor turn (group commit) before any answer of that turn leaves;
:meth:`~MessageStore.commit_then` lets the reactor go on serving while a commit travels to a
database server. A write that gates an answer (a new message, a state change) makes the
store :attr:`~MessageStore.urgent`; the others (a delivery no longer owed, a retry's time)
only make it :attr:`~MessageStore.dirty` and ride on the next commit. Reads see every write
queued before them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any, Protocol

from smsgw.store.records import MessageRecord, PruneBatch, PruneDone, TimelineStep


class StoreError(Exception):
    """A store cannot be opened or used; the message says which store and why, and how to fix it."""


class StoreInUse(StoreError):
    """Another process holds the store (a running smsgw holds its SQLite file alone)."""


#: A kept subscriber as stored: (msisdn, name, state, inbox_after, namespace).
SubscriberRow = tuple[str, str, str, int, str]


class DocumentStore(Protocol):
    """Other components' records (the mock merchant's orders and wallets), kept in the
    carrier's store beside its messages: JSON values under (kind, key)."""

    def put_document(self, kind: str, key: str, value: Any) -> None:
        """Queue (lazily) ``value`` under ``(kind, key)``, replacing any earlier one."""

    def delete_document(self, kind: str, key: str) -> None:
        """Queue (lazily) the removal of a document."""

    def documents(self, kind: str) -> list[tuple[str, Any]]:
        """Every document of ``kind`` as ``(key, value)``, in the order they were first put."""

    def commit(self) -> None:
        """Apply every queued write in one transaction, and wait until it is durable."""

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None:
        """Apply every queued write in one transaction without waiting for it
        (:meth:`MessageStore.commit_then`)."""


class MessageStore(Protocol):
    """Messages, what they still owe their ESMEs, and kept subscribers."""

    #: Whether a read may run on another thread than the one that queues writes, so a caller
    #: can keep reads that wait on a database server off the reactor. Such a read sees what
    #: is committed; on the queuing thread a read also sees what is queued.
    reads_anywhere: bool

    # -- writes (queued) -------------------------------------------------------------

    def insert_message(self, row: tuple[Any, ...]) -> None:
        """A new message, as :meth:`MessageRecord.as_row` gives it (urgent)."""

    def update_state(
        self,
        message: int,
        state: int,
        done_at: float | None,
        error: int,
        report: int | None,
        seen: int | None = None,
    ) -> None:
        """A message's new state, the report it owes and its arrival order (urgent)."""

    def owe_report(self, message: int, state: int) -> None:
        """The message owes a receipt of ``state`` (urgent)."""

    def replace_message(
        self,
        message: int,
        body: bytes,
        scheduled_at: float | None,
        expires_at: float,
        registered_delivery: int,
    ) -> None:
        """replace_sm's new text and times (urgent)."""

    def report_done(self, message: int, state: int) -> None:
        """The receipt of ``state`` was delivered or given up (lazy); a newer one stays owed."""

    def mo_done(self, message: int, state: int, done_at: float) -> None:
        """An MO reached its ESME or was given up (lazy)."""

    def report_retry(self, message: int, state: int, attempts: int, next_at: float) -> None:
        """A delivery failed ``attempts`` times; the next try is at ``next_at`` (lazy)."""

    def save_subscriber(
        self, msisdn: str, name: str, state: str, inbox_after: int, namespace: str = ""
    ) -> None:
        """Keep a subscriber (urgent)."""

    def delete_subscriber(self, msisdn: str) -> None:
        """Forget a kept subscriber (urgent)."""

    def add_step(self, step: TimelineStep) -> None:
        """A payment's step, for the timeline (lazy); the store numbers it (``step.id`` is
        ignored), in the order steps are added.

        :raises TypeError: ``step.detail`` is not JSON-serialisable.
        """

    @property
    def urgent(self) -> bool:
        """Whether a queued write gates an answer: commit before answering."""

    @property
    def dirty(self) -> bool:
        """Whether any write is queued."""

    def commit(self) -> None:
        """Apply every queued write in one transaction, and wait until it is durable."""

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None:
        """Apply every queued write in one transaction without waiting for it; call
        ``done(None)`` once it is durable, or ``done(error)`` when it failed.

        ``done`` runs on the thread that asked (the reactor's): at once for a store whose
        commits do not wait on a network (SQLite), later for one that does (PostgreSQL).
        Commits apply in the order they were asked for, and a read waits for those before it.
        """

    def close(self) -> None:
        """Commit what is queued and release the store."""

    # -- reads -----------------------------------------------------------------------

    def max_id(self) -> int:
        """The highest message row id ever stored (0 when empty)."""

    def max_seen(self) -> int:
        """The latest arrival order of a message at a phone (0 when none arrived)."""

    def get_message(self, message: int) -> MessageRecord | None:
        """One message by row id."""

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
        """Messages matching every given filter, newest first (oldest first with ``after``)."""

    def handset_parts(
        self, msisdn: str, direction: str, after: int, limit: int = 2000, *, newest: bool = False
    ) -> list[MessageRecord]:
        """A phone's received (MT, by arrival) or sent (MO, by row) parts after a position."""

    def handset_parts_back(
        self, msisdn: str, direction: str, upto: int, above: int
    ) -> Iterator[MessageRecord]:
        """A phone's parts at or below ``upto`` and above ``above``, newest first, lazily."""

    def pending_messages(self) -> list[MessageRecord]:
        """MT messages not yet final, oldest first (resumed at start)."""

    def owing(self) -> list[MessageRecord]:
        """Messages that owe their ESME a receipt or the MO itself, oldest first."""

    def subscribers(self) -> list[SubscriberRow]:
        """Every kept subscriber."""

    def last_msisdn(self, prefix: str) -> str | None:
        """The highest MSISDN starting with ``prefix`` (digits) that has messages, if any."""

    def msisdns(self, limit: int = 1000) -> list[str]:
        """MSISDNs that have messages, at most ``limit``."""

    def traffic(
        self, system_id: str, start: float, end: float, service_type: str | None = None
    ) -> tuple[list[tuple[str, int, int]], int]:
        """An account's messages of a span by (direction, state, count), and its MT's numbers."""

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
        """Payments' steps matching every given filter, oldest first (by ``id``, the order
        they were added in), at most ``limit``.

        :param msisdn: steps of this handset.
        :param namespace: steps of this namespace and of those inside it (``run-1`` takes
            ``run-1`` and ``run-1.7``, not ``run-10``).
        :param message_ids: steps naming any of these message_ids (empty: no such filter).
        :param order_id: steps of this mock merchant's order.
        :param since: steps at or after this time (the namespace's clock); ``until``:
            steps before that one.
        :param after: only steps whose ``id`` is above this: a poller gives the last it saw.
        """

    def reserve_numbers(self, floor: int, count: int) -> int:
        """Reserve ``count`` numbers of the fresh pool above ``floor`` and above every number
        reserved before (by any process sharing the store); the last of them. A read: at
        start only (:mod:`smsgw.carrier.freshnumbers`)."""

    def reserve_numbers_later(self, floor: int, count: int, then: Callable[[int | None], None]) -> None:
        """:meth:`reserve_numbers` without waiting; ``then`` gets the last number, or None when
        the reservation failed."""

    def count_messages(self) -> int:
        """How many messages are stored (a read: at start)."""

    def prune_later(self, batch: PruneBatch, then: Callable[[PruneDone], None]) -> None:
        """Remove a batch of final messages that owe nothing (retention), after the writes
        queued before; ``then`` is told, on the caller's thread, how many went and how long
        the database took (or what failed)."""

    def compact(self, pages: int, *, last: bool = True) -> int:
        """Give up to ``pages`` free pages of the store back to the disk, where the store can;
        return how many are still free. ``last``: no more pruning follows for now, so the
        store may also cut back its log once nothing is free."""

    def store_size(self) -> tuple[int, int]:
        """Bytes the store takes, and bytes free inside it (which :meth:`compact` gives back)."""


class Store(MessageStore, DocumentStore, Protocol):
    """A whole store, as ``smsgw serve`` opens one (:func:`smsgw.store.opening.open_store`)."""
