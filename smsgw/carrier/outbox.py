"""Deliveries to ESMEs (receipts and MO): queued per account, sent to its receiving binds.

What is owed is on the message row (see :class:`~smsgw.store.records.DeliveryRecord`) before
a delivery is first sent, and cleared once the ESME accepts it, so a restart resends what was
pending. A receipt goes back to the transceiver that submitted its message while that bind
lasts (so two test runs bound as one account each get their own receipts); everything else
(MO, receipts of transmitter binds or of binds that have gone) is shared by the account's
receiving binds: each delivery goes to the next bind (round robin) that has room in its window. A deliver_sm answered with an error,
or not answered in time, or lost with its connection, is retried with exponential backoff
until its validity ends; ESME_RX_P_APPN and ESME_RX_R_APPN mean "never", and are not retried.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from smsgw.carrier.accounts import Account
from smsgw.smpp.constants import CommandStatus
from smsgw.smpp.session import SmscSession
from smsgw.store.records import DeliveryRecord, MessageRecord

_PERMANENT = frozenset({CommandStatus.ESME_RX_P_APPN, CommandStatus.ESME_RX_R_APPN})


class Link(Protocol):
    """A bound ESME connection, as the carrier sees it."""

    session: SmscSession
    session_id: int
    account: Account
    peer: str

    def output_ready(self) -> None:
        """Tell the edge the session has bytes to write."""
        ...


@attrs.frozen
class RetryPolicy:
    """How deliveries to an ESME are retried: ``base`` doubling up to ``maximum`` seconds."""

    base: float = 5.0
    maximum: float = 300.0
    validity: float = 48 * 3600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the given number of failed attempts."""
        return float(min(self.base * 2 ** max(attempts - 1, 0), self.maximum))


#: Called when a delivery ends: (delivery, outcome) with outcome "accepted", "refused" or
#: "expired"; it records the end on the message row.
DoneCallback = Callable[[DeliveryRecord, str], None]


class Outbox:
    """Pending deliveries per account and the binds that receive them."""

    def __init__(self, store: Any, retry: RetryPolicy, on_done: DoneCallback) -> None:
        self.retry = retry
        self._store = store
        self._on_done = on_done
        self._order = 0  # tie-breaker of the retry heap
        self._queues: defaultdict[str, deque[DeliveryRecord]] = defaultdict(deque)
        self._links: defaultdict[str, list[Link]] = defaultdict(list)
        self._turn: defaultdict[str, int] = defaultdict(int)
        self._retries: list[tuple[float, int, DeliveryRecord]] = []
        self._pending: defaultdict[str, int] = defaultdict(int)
        self._wanting: set[str] = set()
        #: Deliveries ended, by (kind, outcome): ("receipt", "accepted"), ("mo", "expired")...
        self.finished: defaultdict[tuple[str, str], int] = defaultdict(int)
        # Deliveries bound for one session (DeliveryRecord.via), by session id, and its link.
        self._own: dict[int, deque[DeliveryRecord]] = {}
        self._by_session: dict[int, Link] = {}

    # -- queueing --------------------------------------------------------------------

    def add(self, record: MessageRecord, kind: str, pdu: bytes, since: float) -> DeliveryRecord:
        """Queue a delivery for a message (its receipt, or the MO itself) behind the account's others.

        The caller has already recorded on the message row that it is owed.

        :param since: when it became owed; it is dropped ``retry.validity`` seconds later.
        """
        delivery = DeliveryRecord(
            record.id,
            record.message_id,
            record.msisdn,
            record.system_id,
            kind,
            record.state,
            pdu,
            since + self.retry.validity,
            via=record.via,
        )
        self._enqueue(delivery)
        self._pending[record.system_id] += 1
        return delivery

    def restore(self, delivery: DeliveryRecord) -> None:
        """Queue a delivery rebuilt from the store after a restart."""
        self._pending[delivery.system_id] += 1
        if delivery.attempts and delivery.next_attempt_at:
            self._retry_later(delivery)
        else:
            self._enqueue(delivery)

    def _retry_later(self, delivery: DeliveryRecord) -> None:
        self._order += 1
        heapq.heappush(self._retries, (delivery.next_attempt_at, self._order, delivery))

    def _enqueue(self, delivery: DeliveryRecord, *, front: bool = False) -> None:
        via = delivery.via
        if via is not None and via in self._by_session:
            queue = self._own.setdefault(via, deque())
        else:
            queue = self._queues[delivery.system_id]
        if front:
            queue.appendleft(delivery)
        else:
            queue.append(delivery)
        self._wanting.add(delivery.system_id)

    def pending(self, system_id: str) -> int:
        """Deliveries of the account not yet accepted (queued, in flight or waiting to retry)."""
        return self._pending[system_id]

    def queued(self, system_id: str, session_id: int | None = None) -> int:
        """Deliveries waiting for a bind with room: the account's shared ones, plus those waiting
        for one session alone (``session_id``) or for any of the account's (None)."""
        if session_id is not None:
            own = len(self._own.get(session_id, ()))
        else:
            own = sum(len(self._own.get(link.session_id, ())) for link in self._links.get(system_id, ()))
        return len(self._queues[system_id]) + own

    # -- binds -----------------------------------------------------------------------

    def attach(self, link: Link) -> None:
        """A bind that can receive joins its account's pool."""
        self._links[link.account.system_id].append(link)
        self._by_session[link.session_id] = link
        self._wanting.add(link.account.system_id)

    def detach(self, link: Link) -> None:
        """A bind leaves its account's pool (its in-flight deliveries come back through ``failed``);
        what waited for it alone goes to the account's other binds, ahead of the rest."""
        links = self._links.get(link.account.system_id)
        if links and link in links:
            links.remove(link)
        self._by_session.pop(link.session_id, None)
        own = self._own.pop(link.session_id, None)
        if own:
            self._queues[link.account.system_id].extendleft(reversed(own))
            self._wanting.add(link.account.system_id)

    def links(self, system_id: str) -> list[Link]:
        """The account's binds that receive."""
        return self._links.get(system_id, [])

    def resume(self, system_id: str) -> None:
        """A bind of the account has room again (a response came back)."""
        self._wanting.add(system_id)

    def send_now(self, system_id: str, pdu: bytes, now: float, context: Any) -> bool:
        """Send a deliver_sm at once, bypassing the queue (USSD is live: it does not wait).

        :returns: False when no bind of the account can take it now.
        """
        links = self._links.get(system_id)
        if not links:
            return False
        turn = self._turn[system_id]
        for offset in range(len(links)):
            link = links[(turn + offset) % len(links)]
            if link.session.can_deliver:
                link.session.send_encoded(pdu, now, context)
                link.output_ready()
                self._turn[system_id] = turn + offset + 1
                return True
        return False

    def dispatch(self, now: float) -> None:
        """Send queued deliveries to binds with room in their window."""
        wanting, self._wanting = self._wanting, set()
        for system_id in wanting:
            links = self._links.get(system_id)
            if not links:
                continue
            if self._own:
                for link in links:
                    own = self._own.get(link.session_id)
                    if own:
                        self._send_own(link, own, now)
            queue = self._queues.get(system_id)
            if not queue:
                continue
            turn = self._turn[system_id]
            idle = 0
            while queue and idle < len(links):
                link = links[turn % len(links)]
                turn += 1
                session = link.session
                room = session.window_free if session.can_deliver else 0
                if room <= 0:
                    idle += 1
                    continue
                idle = 0
                for _ in range(min(room, len(queue))):
                    delivery = queue.popleft()
                    session.send_encoded(delivery.pdu, now, delivery)
                link.output_ready()
            self._turn[system_id] = turn

    def _send_own(self, link: Link, queue: deque[DeliveryRecord], now: float) -> None:
        session = link.session
        room = session.window_free if session.can_deliver else 0
        if room <= 0:
            return
        for _ in range(min(room, len(queue))):
            delivery = queue.popleft()
            session.send_encoded(delivery.pdu, now, delivery)
        link.output_ready()

    # -- outcomes --------------------------------------------------------------------

    def answered(self, delivery: DeliveryRecord, command_status: int, now: float) -> None:
        """The ESME answered a delivery."""
        self._wanting.add(delivery.system_id)
        if command_status == CommandStatus.ESME_ROK:
            self._finish(delivery, "accepted")
        elif command_status in _PERMANENT:
            self._finish(delivery, "refused")
        else:
            self.failed(delivery, now)

    def failed(self, delivery: DeliveryRecord, now: float) -> None:
        """A delivery was refused for now, timed out or lost: retry it later."""
        self._wanting.add(delivery.system_id)
        delivery.attempts += 1
        delivery.next_attempt_at = now + self.retry.delay(delivery.attempts)
        if delivery.next_attempt_at >= delivery.expires_at:
            self._finish(delivery, "expired")
            return
        self._store.report_retry(
            delivery.message, delivery.state, delivery.attempts, delivery.next_attempt_at
        )
        self._retry_later(delivery)

    def _finish(self, delivery: DeliveryRecord, outcome: str) -> None:
        self._pending[delivery.system_id] -= 1
        self.finished[delivery.kind, outcome] += 1
        self._on_done(delivery, outcome)

    def tick(self, now: float) -> None:
        """Bring due retries back to the front of their queue; drop expired deliveries."""
        retries = self._retries
        due: list[DeliveryRecord] = []
        while retries and retries[0][0] <= now:
            due.append(heapq.heappop(retries)[2])
        for delivery in reversed(due):
            self._enqueue(delivery, front=True)
        for system_id, queue in self._queues.items():
            while queue and queue[0].expires_at <= now:
                self._finish(queue.popleft(), "expired")
            if queue and self._links.get(system_id):
                self._wanting.add(system_id)
        for session_id, own in self._own.items():
            while own and own[0].expires_at <= now:
                self._finish(own.popleft(), "expired")
            if own:
                self._wanting.add(self._by_session[session_id].account.system_id)
