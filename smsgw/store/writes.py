"""The write half of every store: writes queued in memory until the turn's commit.

A store subclasses :class:`QueuedWrites` and applies :attr:`QueuedWrites._queue` in one
transaction when it commits (:func:`smsgw.store.sql.apply_queue`).

Some writes gate nothing that is sent: noting that the ESME accepted a receipt or an MO,
counting a retry. Those are *lazy*: they wait for the next commit that something else
needs, or for the periodic one (:attr:`dirty`), instead of costing a commit of their own. A
crash can lose them, and the only effect is what SMPP allows anyway: a receipt the ESME had
accepted just before the crash is sent once more.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from smsgw.store import sql
from smsgw.store.records import SqlValue, TimelineStep
from smsgw.store.sql import Write


def ignore_dropped(write: str, error: BaseException) -> None:
    """No one to tell of a dropped write (a store opened by a tool or a test)."""


class QueuedWrites:
    """Messages' and subscribers' changes, other components' documents and payments' steps,
    queued in order.

    :param on_dropped: told of a write the commit could not apply (what it changes, and
        why) while the rest of its commit went in.
    """

    def __init__(self, on_dropped: Callable[[str, BaseException], None] = ignore_dropped) -> None:
        self._queue: list[Write] = []
        self._urgent = False
        self._on_dropped = on_dropped

    def insert_message(self, row: tuple[SqlValue, ...]) -> None:
        """Queue a new message, as a row in MESSAGE_COLUMNS order."""
        self._queue.append((sql.INSERT_MESSAGE, row))
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
        self._queue.append((sql.UPDATE_STATE, (state, done_at, error, report, seen, message)))
        self._urgent = True

    def owe_report(self, message: int, state: int) -> None:
        """Queue that a message owes its ESME the receipt of ``state`` (intermediate reports)."""
        self._queue.append((sql.OWE_REPORT, (state, message)))
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
        self._queue.append((sql.REPLACE, (body, scheduled_at, expires_at, registered_delivery, message)))
        self._urgent = True

    def report_done(self, message: int, state: int) -> None:
        """Queue (lazily) that the receipt of ``state`` was accepted, refused for good, or expired.

        A newer owed receipt (a final one after an intermediate) is left owed.
        """
        self._queue.append((sql.REPORT_DONE, (message, state)))

    def mo_done(self, message: int, state: int, done_at: float) -> None:
        """Queue (lazily) an MO's end: accepted by its ESME, refused, or expired."""
        self._queue.append((sql.MO_DONE, (state, done_at, message)))

    def report_retry(self, message: int, state: int, attempts: int, next_at: float) -> None:
        """Queue (lazily) a failed attempt to deliver what a message owes, and the next one's time."""
        self._queue.append((sql.REPORT_RETRY, (attempts, next_at, message, state)))

    def save_subscriber(
        self, msisdn: str, name: str, state: str, inbox_after: int, namespace: str = ""
    ) -> None:
        """Queue a subscriber's creation or change (name, phone state, inbox cleared up to, namespace)."""
        self._queue.append((sql.SAVE_SUBSCRIBER, (msisdn, name, state, inbox_after, namespace)))
        self._urgent = True

    def delete_subscriber(self, msisdn: str) -> None:
        """Queue a subscriber's removal (its messages stay)."""
        self._queue.append((sql.DELETE_SUBSCRIBER, (msisdn,)))
        self._urgent = True

    def put_document(self, kind: str, key: str, value: object) -> None:
        """Queue (lazily) a document: ``value`` as JSON under ``(kind, key)``, replacing any earlier one.

        Lazy, so the carrier's turns do not commit for it: a component whose answer depends on
        the document calls ``commit`` itself before answering.

        :raises TypeError: ``value`` is not JSON-serialisable (raised here, not at commit).
        """
        # ASCII escapes: any str, a lone surrogate or a NUL too, is stored as it was given.
        self._queue.append((sql.PUT_DOCUMENT, (kind, key, json.dumps(value, separators=(",", ":")))))

    def delete_document(self, kind: str, key: str) -> None:
        """Queue (lazily) the removal of a document; none there is fine."""
        self._queue.append((sql.DELETE_DOCUMENT, (kind, key)))

    def add_step(self, step: TimelineStep) -> None:
        """Queue (lazily) a payment's step; the store numbers it, and ignores ``step.id``.

        Lazy, as a step gates no answer: recording one costs a tuple on the queue, and it
        rides the next commit that something else needs, or the periodic one.

        :raises TypeError: ``step.detail`` is not JSON-serialisable (raised here, not at commit).
        """
        self._queue.append(
            (
                sql.INSERT_STEP,
                (
                    step.at, step.namespace, step.msisdn, step.kind, step.system_id,
                    step.message_id, step.session, step.order_id,
                    json.dumps(step.detail, separators=(",", ":")), step.pdu,
                ),
            )
        )  # fmt: skip

    @property
    def urgent(self) -> bool:
        """Whether queued writes gate something to be sent (a response, a delivery)."""
        return self._urgent

    @property
    def dirty(self) -> bool:
        """Whether any write is queued, lazy ones included."""
        return bool(self._queue)

    def _take_queue(self) -> list[Write]:
        """What is queued, in order; the queue starts again empty and not urgent."""
        queue, self._queue = self._queue, []
        self._urgent = False
        return queue
