"""Deliveries to ESMEs (receipts and MO): queued per account, sent to its receiving binds.

What is owed is on the message row (see :class:`~smsgw.store.records.DeliveryRecord`) before
a delivery is first sent, and cleared once the ESME accepts it, so a restart resends what was
pending. A receipt goes back to the transceiver that submitted its message while that bind
lasts (so two test runs bound as one account each get their own receipts). Everything else
(MO, receipts of transmitter binds or of binds that have gone) goes to the account's binds of
the handset's namespace: a bind declares one (``address_range`` ``ns:NAME``), and a delivery
for a handset of namespace N goes to the binds whose namespace holds N most closely (N itself,
then the namespaces around it, then binds that declared none, which take everything nobody
else claims). Among those, each delivery goes to the next bind (round robin) that has room in
its window; with none bound, it waits. So tests sharing one carrier and one account never get
each other's MO. A deliver_sm answered with an error, or not answered in time, or lost with
its connection, is retried with exponential backoff until its validity ends; ESME_RX_P_APPN
and ESME_RX_R_APPN mean "never", and are not retried.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Protocol

import attrs

from smsgw.carrier.binding import AppLink, Binding
from smsgw.carrier.clock import Clocks
from smsgw.carrier.subscribers import in_namespace
from smsgw.carrier.timeline import Timeline
from smsgw.store.interface import MessageStore
from smsgw.store.records import DeliveryRecord, MessageRecord


@attrs.frozen
class RetryPolicy:
    """How deliveries to an ESME are retried: ``base`` doubling up to ``maximum`` seconds."""

    base: float = 5.0
    maximum: float = 300.0
    validity: float = 48 * 3600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the given number of failed attempts."""
        return float(min(self.base * 2 ** max(attempts - 1, 0), self.maximum))


#: Called when a delivery ends: (delivery, outcome, now) with outcome "accepted", "refused",
#: "expired" or "dropped"; it records the end on the message row.
DoneCallback = Callable[[DeliveryRecord, str, float], None]


def _nobody_told(delivery: DeliveryRecord, outcome: str, now: float) -> None:
    raise RuntimeError(
        f"{delivery.kind} of {delivery.message_id} ended {outcome}, and Outbox.on_done is not set"
    )


#: States a message is not final in (SCHEDULED, ENROUTE, ACCEPTD): what an intermediate receipt reports.
_NOT_FINAL = frozenset((0, 1, 6))


class Peers(Protocol):
    """The other nodes of a cluster on one database (smsgw.server.cluster): where what is owed
    to an account with no bind here goes, and where such deliveries come back from."""

    def release(self, system_id: str, deliveries: list[DeliveryRecord]) -> None:
        """Hand these deliveries (all owed to ``system_id``) to the nodes bound for it."""

    def claim(self, system_id: str) -> None:
        """A bind of ``system_id`` is here now: ask for what the others hold for it."""


class Outbox:
    """Pending deliveries per account and the binds that receive them.

    Its methods take the carrier's time; a delivery's expiry and retries are on the clock of
    its handset's namespace (:attr:`DeliveryRecord.namespace`), and so is the time it ends.

    :param timeline: where deliveries of recorded handsets are recorded as they go out and
        are retried (nothing is, by default).
    """

    def __init__(
        self, store: MessageStore, retry: RetryPolicy, clocks: Clocks, timeline: Timeline | None = None
    ) -> None:
        self.retry = retry
        self.timeline = timeline or Timeline()
        self._store = store
        #: Told of every delivery that ended (set by the carrier: the message center, which is
        #: made after the outbox it queues into).
        self.on_done: DoneCallback = _nobody_told
        self._order = 0  # tie-breaker of the retry heap
        #: Shared deliveries by account, then by the namespace of their handset.
        self._queues: defaultdict[str, dict[str, deque[DeliveryRecord]]] = defaultdict(dict)
        self._binds: defaultdict[str, list[Binding]] = defaultdict(list)
        #: The binds that take a handset namespace's deliveries, by (account, namespace).
        self._pools: dict[tuple[str, str], list[Binding]] = {}
        self._turn: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.clocks = clocks
        #: Retries by the namespace of their handset, a heap each (each on its namespace's clock).
        self._retries: dict[str, list[tuple[float, int, DeliveryRecord]]] = {}
        self._pending: defaultdict[str, int] = defaultdict(int)
        self._wanting: set[str] = set()
        #: Deliveries ended, by (kind, outcome): ("receipt", "accepted"), ("mo", "expired")...
        self.finished: defaultdict[tuple[str, str], int] = defaultdict(int)
        # Deliveries bound for one session (DeliveryRecord.via), by session id, and its bind.
        self._own: dict[int, deque[DeliveryRecord]] = {}
        self._by_session: dict[int, Binding] = {}
        #: The other nodes, in a cluster: what no bind here takes goes to them, not waits.
        self.peers: Peers | None = None

    # -- queueing --------------------------------------------------------------------

    def add(self, record: MessageRecord, kind: str, pdu: bytes, since: float) -> DeliveryRecord:
        """Queue a delivery for a message (its receipt, or the MO itself) behind the account's others.

        The caller has already recorded on the message row that it is owed.

        :param since: when it became owed, on the handset's clock; it is dropped
            ``retry.validity`` seconds later.
        """
        # Positional: keyword arguments cost more, on every message.
        delivery = DeliveryRecord(
            record.id, record.message_id, record.msisdn, record.system_id, kind, record.state, pdu,
            since + self.retry.validity, 0, 0.0, record.via, record.namespace,
        )  # fmt: skip
        self._enqueue(delivery)
        self._pending[record.system_id] += 1
        return delivery

    def restore(self, delivery: DeliveryRecord) -> None:
        """Queue a delivery rebuilt from the store after a restart (its times on its handset's clock)."""
        delivery.namespace = self.clocks.namespace_of(delivery.msisdn)
        self._pending[delivery.system_id] += 1
        if delivery.attempts and delivery.next_attempt_at:
            self._retry_later(delivery)
        else:
            self._enqueue(delivery)

    def _retry_later(self, delivery: DeliveryRecord) -> None:
        self._order += 1
        heap = self._retries.get(delivery.namespace)
        if heap is None:
            heap = self._retries[delivery.namespace] = []
        heapq.heappush(heap, (delivery.next_attempt_at, self._order, delivery))

    def _enqueue(self, delivery: DeliveryRecord, *, front: bool = False) -> None:
        via = delivery.via
        queue: deque[DeliveryRecord] | None
        if via is not None and via in self._by_session:
            queue = self._own.get(via)
            if queue is None:  # not setdefault: it would make a deque for every delivery
                queue = self._own[via] = deque()
        else:
            queues = self._queues[delivery.system_id]
            queue = queues.get(delivery.namespace)
            if queue is None:
                queue = queues[delivery.namespace] = deque()
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
            own = sum(len(self._own.get(b.session_id, ())) for b in self._binds.get(system_id, ()))
        return sum(len(queue) for queue in self._queues.get(system_id, {}).values()) + own

    # -- binds -----------------------------------------------------------------------

    def attach(self, binding: Binding) -> None:
        """A bind that can receive joins its account's pool."""
        self._binds[binding.account.system_id].append(binding)
        self._by_session[binding.session_id] = binding
        self._pools.clear()
        self._wanting.add(binding.account.system_id)
        if self.peers is not None:
            self.peers.claim(binding.account.system_id)

    def detach(self, binding: Binding) -> None:
        """A bind leaves its account's pool (its in-flight deliveries come back through ``failed``);
        what waited for it alone goes to the account's other binds, ahead of the rest."""
        binds = self._binds.get(binding.account.system_id)
        if binds and binding in binds:
            binds.remove(binding)
        self._by_session.pop(binding.session_id, None)
        self._pools.clear()
        own = self._own.pop(binding.session_id, None)
        if own:
            for delivery in reversed(own):
                self._enqueue(delivery, front=True)

    def _pool(self, system_id: str, namespace: str) -> list[Binding]:
        """The account's binds that take deliveries for a handset of ``namespace``: those of
        the innermost namespace holding it that has any bound ("" holds every namespace)."""
        key = (system_id, namespace)
        pool = self._pools.get(key)
        if pool is None:
            binds = self._binds.get(system_id, ())
            best = max(
                (b.namespace for b in binds if not b.namespace or in_namespace(namespace, b.namespace)),
                key=len,
                default=None,
            )
            pool = self._pools[key] = [b for b in binds if b.namespace == best]
        return pool

    def binds(self, system_id: str) -> list[Binding]:
        """The account's binds that receive."""
        return self._binds.get(system_id, [])

    def resume(self, system_id: str) -> None:
        """A bind of the account has room again (a response came back)."""
        self._wanting.add(system_id)

    def send_now(
        self,
        system_id: str,
        pdu: bytes,
        now: float,
        context: object,
        *,
        namespace: str = "",
        prefer: int | None = None,
    ) -> tuple[AppLink, object] | None:
        """Send a deliver_sm at once, bypassing the queue (USSD is live: it does not wait).

        :param now: the links' time (their sessions'), which the response deadline is set on.
        :param namespace: the handset's: it goes to the account's binds of that namespace.
        :param prefer: the session to use while it is bound and has room (the one a USSD
            dialogue is having its conversation with).
        :returns: the link it went out on and what that link numbered it (its sequence
            number), or None when no bind of the account can take it now.
        """
        preferred = self._by_session.get(prefer) if prefer is not None else None
        if preferred is not None and preferred.account.system_id == system_id and preferred.link.can_deliver:
            sequence = preferred.link.deliver(pdu, now, context)
            preferred.link.output_ready()
            return preferred.link, sequence
        binds = self._pool(system_id, namespace)
        if not binds:
            return None
        key = (system_id, binds[0].namespace)
        turn = self._turn[key]
        for offset in range(len(binds)):
            link = binds[(turn + offset) % len(binds)].link
            if link.can_deliver:
                sequence = link.deliver(pdu, now, context)
                link.output_ready()
                self._turn[key] = turn + offset + 1
                return link, sequence
        return None

    def dispatch(self, now: float) -> None:
        """Send queued deliveries to binds with room in their window.

        :param now: the links' time (their sessions'), which response deadlines are set on.
        """
        wanting, self._wanting = self._wanting, set()
        for system_id in wanting:
            binds = self._binds.get(system_id)
            if not binds:
                if self.peers is not None:
                    self._hand_over(system_id)
                continue
            if self._own:
                for binding in binds:
                    own = self._own.get(binding.session_id)
                    if own:
                        self._send_own(binding.link, own, now)
            queues = self._queues.get(system_id)
            if not queues:
                continue
            for namespace, queue in queues.items():
                if queue:
                    self._send_shared(system_id, namespace, queue, now)

    def _hand_over(self, system_id: str) -> None:
        """Give the account's queued deliveries to the nodes bound for it: they stay owed
        (not finished), no longer here."""
        queues = self._queues.get(system_id)
        if not queues:
            return
        leaving: list[DeliveryRecord] = []
        for namespace, queue in queues.items():
            # An intermediate receipt stays with its message, still pending here: the row says
            # which node holds the message, and a release would take it from this node.
            staying = deque(d for d in queue if d.kind == "receipt" and d.state in _NOT_FINAL)
            if len(staying) != len(queue):
                leaving += (d for d in queue if not (d.kind == "receipt" and d.state in _NOT_FINAL))
                queues[namespace] = staying
        if leaving:
            self._pending[system_id] -= len(leaving)
            assert self.peers is not None
            self.peers.release(system_id, leaving)

    def bound_accounts(self) -> list[str]:
        """The accounts with a bind here that receives."""
        return [system_id for system_id, binds in self._binds.items() if binds]

    def _send_shared(self, system_id: str, namespace: str, queue: deque[DeliveryRecord], now: float) -> None:
        """Send a namespace's shared deliveries round robin to the binds that take them."""
        binds = self._pool(system_id, namespace)
        if not binds:
            return
        key = (system_id, binds[0].namespace)
        turn = self._turn[key]
        idle = 0
        # The timeline's gate, read once: a delivery of a handset it records goes on it as sent.
        timeline = self.timeline
        recording, everyone = timeline.on, timeline.everyone
        while queue and idle < len(binds):
            link = binds[turn % len(binds)].link
            turn += 1
            room = link.window_free if link.can_deliver else 0
            if room <= 0:
                idle += 1
                continue
            idle = 0
            deliver = link.deliver
            for _ in range(min(room, len(queue))):
                delivery = queue.popleft()
                sequence = deliver(delivery.pdu, now, delivery)
                if (delivery.namespace or everyone) and recording:
                    self._record_sent(link, delivery, sequence)
            link.output_ready()
        self._turn[key] = turn

    def _send_own(self, link: AppLink, queue: deque[DeliveryRecord], now: float) -> None:
        room = link.window_free if link.can_deliver else 0
        if room <= 0:
            return
        deliver = link.deliver
        timeline = self.timeline
        recording, everyone = timeline.on, timeline.everyone
        for _ in range(min(room, len(queue))):
            delivery = queue.popleft()
            sequence = deliver(delivery.pdu, now, delivery)
            if (delivery.namespace or everyone) and recording:
                self._record_sent(link, delivery, sequence)
        link.output_ready()

    def _record_sent(self, link: AppLink, delivery: DeliveryRecord, sequence: object) -> None:
        """Record a receipt or an MO of a handset the timeline records as it went out (in the
        words of the link's protocol, under the sequence number it was given)."""
        kind, raw, detail = link.as_sent(delivery.pdu, sequence)
        detail["delivery"] = delivery.kind
        detail["attempt"] = delivery.attempts + 1
        self.timeline.record(
            kind,
            delivery.namespace,
            delivery.msisdn,
            system_id=delivery.system_id,
            message_id=delivery.message_id,
            detail=detail,
            pdu=raw,
        )

    # -- outcomes --------------------------------------------------------------------

    def accepted(self, delivery: DeliveryRecord, now: float) -> None:
        """The application took a delivery."""
        self._wanting.add(delivery.system_id)
        self._finish(delivery, "accepted", now)

    def refused(self, delivery: DeliveryRecord, permanent: bool, now: float) -> None:
        """The application refused a delivery: for good, or for now (retried later)."""
        if permanent:
            self._wanting.add(delivery.system_id)
            self._finish(delivery, "refused", now)
        else:
            self.failed(delivery, now, "refused")

    def failed(self, delivery: DeliveryRecord, now: float, why: str = "failed") -> None:
        """A delivery was refused for now, timed out or lost: retry it later.

        :param why: ``refused``, ``timed_out`` or ``connection_lost``, for the timeline.
        """
        self._wanting.add(delivery.system_id)
        delivery.attempts += 1
        then = now + self.clocks.offset(delivery.namespace)
        delivery.next_attempt_at = then + self.retry.delay(delivery.attempts)
        if delivery.next_attempt_at >= delivery.expires_at:
            self._finish(delivery, "expired", now)
            return
        self._store.report_retry(
            delivery.message, delivery.state, delivery.attempts, delivery.next_attempt_at
        )
        self._retry_later(delivery)
        if self.timeline.wants(delivery.namespace):
            self.timeline.delivery_retry(delivery, why)

    def _finish(self, delivery: DeliveryRecord, outcome: str, now: float) -> None:
        self._pending[delivery.system_id] -= 1
        self.finished[delivery.kind, outcome] += 1
        if delivery.namespace and self.clocks.shifted:
            now += self.clocks.offset(delivery.namespace)
        self.on_done(delivery, outcome, now)

    def tick(self, now: float) -> None:
        """Bring due retries back to the front of their queue; drop expired deliveries."""
        offset = self.clocks.offset
        due: list[DeliveryRecord] = []
        for namespace, retries in list(self._retries.items()):
            then = now + offset(namespace)
            while retries and retries[0][0] <= then:
                due.append(heapq.heappop(retries)[2])
            if not retries:
                del self._retries[namespace]
        for delivery in reversed(due):
            self._enqueue(delivery, front=True)
        for system_id, queues in self._queues.items():
            for namespace, queue in list(queues.items()):
                then = now + offset(namespace)
                while queue and queue[0].expires_at <= then:
                    self._finish(queue.popleft(), "expired", now)
                if not queue and namespace:
                    del queues[namespace]  # namespaces come and go with tests
                elif queue and self._binds.get(system_id):
                    self._wanting.add(system_id)
        for session_id, own in self._own.items():
            self._expire_own(own, now)
            if own:
                self._wanting.add(self._by_session[session_id].account.system_id)

    def _expire_own(self, own: deque[DeliveryRecord], now: float) -> None:
        offset = self.clocks.offset
        while own and own[0].expires_at <= now + offset(own[0].namespace):
            self._finish(own.popleft(), "expired", now)

    def clock_moved(self, now: float) -> None:
        """A namespace's clock jumped: drop what expired behind another namespace's head.

        A session's queue holds many namespaces' deliveries (one transceiver submits for many
        tests). Between jumps they expire in the order they were queued, so :meth:`tick` looks
        at heads only; a jump of one namespace is when one of its deliveries can expire behind
        a head that did not.
        """
        offset = self.clocks.offset
        for own in self._own.values():
            expired = [d for d in own if d.expires_at <= now + offset(d.namespace)]
            for delivery in expired:
                own.remove(delivery)
                self._finish(delivery, "expired", now)
        self.tick(now)

    def drop(self, msisdns: set[str], now: float) -> int:
        """Drop every delivery owed for these handsets that is not in flight (queued, waiting
        for its bind, or waiting to retry): their namespace was reset, its test is over.

        :returns: how many were dropped (each ends with outcome ``dropped``).
        """
        dropped: list[DeliveryRecord] = []

        def keep(queue: deque[DeliveryRecord]) -> deque[DeliveryRecord]:
            kept = deque(d for d in queue if d.msisdn not in msisdns)
            if len(kept) != len(queue):
                dropped.extend(d for d in queue if d.msisdn in msisdns)
            return kept

        for queues in self._queues.values():
            for namespace in list(queues):
                queues[namespace] = keep(queues[namespace])
        for session_id in list(self._own):
            self._own[session_id] = keep(self._own[session_id])
        for namespace, heap in list(self._retries.items()):
            retries = [entry for entry in heap if entry[2].msisdn not in msisdns]
            if len(retries) != len(heap):
                dropped.extend(entry[2] for entry in heap if entry[2].msisdn in msisdns)
                heapq.heapify(retries)
                self._retries[namespace] = retries
        for delivery in dropped:
            self._finish(delivery, "dropped", now)
        return len(dropped)
