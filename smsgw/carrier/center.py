"""The message center: stores messages, delivers them to handsets, and reports back.

An MT (ESME to handset) is delivered at once when its phone is on and it is not scheduled
for later; otherwise it waits, in memory and in the store, until its phone comes on, its
schedule comes, or its validity ends. A final state (and an intermediate one, when asked for)
produces a receipt for the submitting account, queued in the :class:`Outbox`.

An MO (handset to short code) is stored and queued for the account that owns the short code,
one deliver_sm per part.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping

from smsgw.carrier.accounts import Account, AccountRegistry
from smsgw.carrier.clock import Clocks
from smsgw.carrier.encoding import DeliveryEncoder
from smsgw.carrier.errors import QueueFull
from smsgw.carrier.events import DeliveryDone, EventBus, MessageAccepted, MessageStateChanged
from smsgw.carrier.faults import NO_FAULTS, FaultBook, FaultPlan
from smsgw.carrier.outbox import Outbox
from smsgw.carrier.reports import wants_intermediate, wants_receipt
from smsgw.carrier.requests import Destination, ShortMessage
from smsgw.carrier.subscribers import HandsetState, Subscriber, SubscriberRegistry
from smsgw.carrier.timeline import Timeline
from smsgw.digits import ascii_int
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.store.interface import MessageStore
from smsgw.store.records import DeliveryRecord, MessageRecord
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

# Plain ints, not the enum: they go into stored rows, and sqlite3 binds an int as it is but
# an IntEnum through its adapter lookup (see smsgw.store.sqlite).
ENROUTE = int(MessageState.ENROUTE)
#: GSM MAP errors a receipt's err field reports (3GPP TS 29.002 MAP error codes).
ERROR_ABSENT_SUBSCRIBER = 27  # the phone stayed off until the validity ended
ERROR_MEMORY_CAPACITY_EXCEEDED = 32  # SM delivery failure: the phone's inbox stayed full
DELIVRD = int(MessageState.DELIVRD)


def concat_of(record: MessageRecord) -> tuple[int, int] | None:
    """The (reference, total) of the long message a part belongs to (SAR TLVs or a UDH), or
    None for a message of its own."""
    if record.sar_ref is not None and record.sar_total is not None:
        return record.sar_ref, record.sar_total
    if record.esm_class & EsmClass.UDHI:
        try:
            concat = split_udh(record.body)[0].concat
        except InvalidUdh:  # refused on submit; a stored one is read, not trusted
            return None
        if concat is not None:
            return concat.reference, concat.total
    return None


#: A ``cmpp`` id keeps the row id in its low 38 bits, where a CMPP Msg_Id has its gateway
#: code and sequence: a group send's rows then give Msg_Id, Msg_Id + 1, ... as CMPP requires.
_CMPP_ROW_BITS = 38
_CMPP_ROW_MASK = (1 << _CMPP_ROW_BITS) - 1
_MSG_ID_MAX = (1 << 64) - 1


def format_message_id(row_id: int, style: str, now: float = 0.0) -> str:
    """The message_id string for a row id, in an account's chosen format.

    :param now: when the message was accepted (a ``cmpp`` id carries it).
    """
    if style == "hex":
        return f"{row_id:X}"
    if style == "decimal10":
        return f"{row_id:010d}"
    if style == "cmpp":
        return str(cmpp_msg_id(row_id, now))
    return str(row_id)


def cmpp_msg_id(row_id: int, now: float) -> int:
    """A 64-bit CMPP Msg_Id: month, day, hour, minute and second (UTC) in the top 26 bits, as
    the specification lays them out, and the row id below them."""
    moment = time.gmtime(now)
    return (
        moment.tm_mon << 60
        | moment.tm_mday << 55
        | moment.tm_hour << 50
        | moment.tm_min << 44
        | min(moment.tm_sec, 59) << 38
        | row_id & _CMPP_ROW_MASK
    )


def parse_message_id(message_id: str, style: str) -> int | None:
    """The row id a message_id names in that format, or ``None`` if it cannot be one."""
    if style == "cmpp":  # 64 bits: above what SQLite holds, which the row id below it is not
        msg_id = ascii_int(message_id, _MSG_ID_MAX)
        return msg_id & _CMPP_ROW_MASK if msg_id is not None else None
    return ascii_int(message_id, base=16 if style == "hex" else 10)


class MessageCenter:
    """Store-and-forward of MT messages, and the deliveries owed to applications (receipts, MO).

    :param store: where messages and deliveries are kept (see :mod:`smsgw.store.sqlite`).
    :param timeline: where the messages of recorded handsets are recorded as they are
        accepted, change state and are delivered to applications (nothing is, by default).
    """

    def __init__(
        self,
        store: MessageStore,
        accounts: AccountRegistry,
        subscribers: SubscriberRegistry,
        outbox: Outbox,
        events: EventBus,
        encoders: Mapping[str, DeliveryEncoder],
        clocks: Clocks,
        *,
        next_id: int,
        next_seen: int = 1,
        faults: FaultBook | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        self.store = store
        self.faults = faults or FaultBook()
        self.timeline = timeline or Timeline()
        #: The front ends' encoders, by the protocol of the account a delivery is for.
        self.encoders = encoders
        #: Messages accepted by direction, and state changes by (direction, state), for /metrics.
        self.accepted: defaultdict[str, int] = defaultdict(int)
        #: Keyed ``state`` for an MT, ``0x100 | state`` for an MO: an int is the cheapest key.
        self.final_states: defaultdict[int, int] = defaultdict(int)
        self.accounts = accounts
        self.subscribers = subscribers
        self.outbox = outbox
        self.events = events
        self.clocks = clocks
        self._next_id = next_id
        self._next_seen = next_seen
        self._pending: dict[int, MessageRecord] = {}
        self._waiting_for: defaultdict[str, set[int]] = defaultdict(set)
        #: Due, expiry and release times of held MTs, a heap per namespace: each runs on its
        #: namespace's clock, so one heap would stop at a top whose clock did not move.
        self._timers: dict[str, list[tuple[float, int, str]]] = {}
        #: Held MTs kept from their phone by an injected delay: row id -> when it ends.
        self._delayed: dict[int, float] = {}
        # Not a Counter: its missing key is a Python call, asked on every submit.
        self._per_account: defaultdict[str, int] = defaultdict(int)
        #: Held parts accepted with replace_if_present_flag -> their (reference, total), so
        #: the later parts of the same long message do not replace them.
        self._replacing: dict[int, tuple[int, int]] = {}

    # -- MT --------------------------------------------------------------------------

    def resume_numbering(self, next_id: int, next_seen: int) -> None:
        """Go on numbering rows and arrivals after what the store already holds."""
        self._next_id = max(self._next_id, next_id)
        self._next_seen = max(self._next_seen, next_seen)

    def check_queue(self, account: Account) -> None:
        """Refuse a submit when the account already has ``max_queue`` messages waiting.

        :raises QueueFull: saying how many wait.
        """
        waiting = self._per_account[account.system_id] + self.outbox.pending(account.system_id)
        if waiting >= account.max_queue:
            raise QueueFull(
                f"{waiting} messages of {account.system_id!r} are waiting (max_queue {account.max_queue})"
            )

    def accept_mt(
        self,
        account: Account,
        message: ShortMessage,
        destination: Destination,
        subscriber: Subscriber,
        now: float,
        *,
        message_id: str | None = None,
        via: int | None = None,
        may_fault: bool = True,
    ) -> str:
        """Store an MT and deliver it now or later; return its message_id.

        :param now: the carrier's time: the message is kept on its handset's clock from here on.
        :param via: the session that submitted it, where its receipts go while it is bound.
        :param may_fault: False when the caller found that no fault rule can strike the
            handset (:meth:`FaultBook.may_strike`): its delivery is not planned again.
        """
        row_id = self._next_id  # next_row(), written out: one call less per message
        self._next_id += 1
        if message_id is None:
            message_id = format_message_id(row_id, account.message_id_format, now)
        sar = message.sar or (None, None, None)
        record = MessageRecord(
            row_id, message_id, account.system_id, "MT", subscriber.msisdn, message.service_type,
            message.source_ton, message.source_npi, message.source_addr,
            destination.ton, destination.npi, destination.address,
            message.esm_class, message.protocol_id, message.priority,
            message.registered_delivery, message.data_coding, message.body, sar[0], sar[1], sar[2],
            now, message.scheduled_at, message.expires_at, ENROUTE, None, 0,
        )  # fmt: skip
        record.via = via
        record.namespace = namespace = subscriber.namespace
        if namespace and self.clocks.shifted:
            now = self._into_frame(record, now)
        concat = None
        if message.replace_if_present:
            concat = concat_of(record)
            self._replace_pending(record, concat, now)
        self._deliver_or_hold(record, subscriber, now, may_fault)
        if concat is not None and row_id in self._pending:
            self._replacing[row_id] = concat
        return message_id

    def _replace_pending(self, new: MessageRecord, concat: tuple[int, int] | None, now: float) -> None:
        """replace_if_present_flag (SMPP v3.4 §5.2.18): the account's messages still pending
        for the same handset, from the same source_addr and with the same service_type, end
        DELETED (3.4 has no REPLACED state), with their receipt if one was asked for; the new
        one takes their place with its own message_id."""
        for row_id in sorted(self._waiting_for.get(new.msisdn, ())):
            old = self._pending[row_id]
            if (
                old.system_id == new.system_id
                and old.source_addr == new.source_addr
                and old.service_type == new.service_type
                and (concat is None or self._replacing.get(row_id) != concat)
            ):
                self._end(row_id, MessageState.DELETED, now)

    def reserve_id(self, account: Account) -> str:
        """A message_id for something answered but not stored (a USSD screen)."""
        return format_message_id(self.next_row(), account.message_id_format)

    def next_row(self) -> int:
        """A row id for a new message (what its message_id is made from)."""
        row_id = self._next_id
        self._next_id += 1
        return row_id

    def into_frame(self, record: MessageRecord, now: float) -> float:
        """Move a new message's times (stamped on the carrier's clock) onto the clock of its
        handset's namespace (:attr:`MessageRecord.namespace`); return ``now`` on that clock."""
        return self._into_frame(record, now) if record.namespace and self.clocks.shifted else now

    def _into_frame(self, record: MessageRecord, now: float) -> float:
        offset = self.clocks.offset(record.namespace)
        record.submitted_at += offset
        record.expires_at += offset
        if record.scheduled_at is not None:
            record.scheduled_at += offset
        return now + offset

    def deliver_or_hold(self, record: MessageRecord, subscriber: Subscriber, now: float) -> None:
        """Store a new MT (its times on its handset's clock, see :meth:`into_frame`): delivered
        now when its phone takes SMS and it is due (unless a fault holds it), else held.

        :param now: the time on the handset's clock.
        """
        self._deliver_or_hold(record, subscriber, now)

    def _deliver_or_hold(
        self, record: MessageRecord, subscriber: Subscriber, now: float, may_fault: bool = True
    ) -> None:
        due = record.scheduled_at is None or record.scheduled_at <= now
        plan = NO_FAULTS
        if due and subscriber.state.receives_sms:
            if may_fault:
                plan = self.faults.plan_delivery(record, now)
            if not plan.holds:
                self._deliver_new(record, now, plan)
                return
        intermediate = due and wants_intermediate(record.registered_delivery)
        if intermediate:
            record.report = ENROUTE
        self.store.insert_message(record.as_row())
        self.announce(record)
        self._hold(record)
        if plan.delayed_until is not None:
            self._delay(record.id, plan.delayed_until)
        if intermediate:
            self._queue_receipt(record, now)

    def _deliver_new(self, record: MessageRecord, now: float, plan: FaultPlan) -> None:
        """Store a new MT that reaches its phone now (or fails there by an injected fault)."""
        if plan.fail_state is not None:
            record.state = plan.fail_state
            record.error = plan.fail_error
        else:
            record.state = DELIVRD
            record.seen = self._arrival()
            if plan.garbled is not None:
                record.body = plan.garbled
        record.done_at = now
        record.report = self._owed_report(record, record.state, plan)
        self.store.insert_message(record.as_row())
        self.announce(record)
        if record.report is not None:
            self._queue_receipt(record, now, plan)

    def _delay(self, row_id: int, release: float) -> None:
        self._delayed[row_id] = release
        self._push_timer(self._pending[row_id].namespace, release, row_id, "release")

    def _owed_report(self, record: MessageRecord, state: int, plan: FaultPlan) -> int | None:
        """The final state whose receipt the message owes, or None (not asked for, or withheld
        by a ``no_receipt`` fault, which leaves the message itself final and queryable)."""
        if plan.receipt_withheld or not wants_receipt(record.registered_delivery, state):
            return None
        return state

    def _arrival(self) -> int:
        """The next arrival order at a phone (what inbox cursors count)."""
        seen = self._next_seen
        self._next_seen += 1
        return seen

    @property
    def newest_id(self) -> int:
        """The row id of the newest message (0 before any)."""
        return self._next_id - 1

    @property
    def last_arrival(self) -> int:
        """The arrival order of the latest message that reached a phone."""
        return self._next_seen - 1

    def announce(self, record: MessageRecord) -> None:
        """Count a new message and tell who follows (and the timeline, for its handset)."""
        self.accepted[record.direction] += 1
        if self.events.followed or MessageAccepted in self.events.wanted:
            self.events.emit(
                MessageAccepted(record.message_id, record.system_id, record.direction, record.msisdn)
            )
        timeline = self.timeline
        # Attribute reads only: a handset in no namespace costs no call (the default mode).
        if (record.namespace or timeline.everyone) and timeline.on:
            timeline.message_accepted(record)
        if record.state != ENROUTE:
            self._announce_state(record)

    def _announce_state(self, record: MessageRecord) -> None:
        self.final_states[record.state if record.direction == "MT" else 0x100 | record.state] += 1
        timeline = self.timeline
        if (record.namespace or timeline.everyone) and timeline.on:
            timeline.message_state(
                record.namespace, record.msisdn, record.system_id, record.message_id,
                record.direction, record.state, record.error,
            )  # fmt: skip
        if self.events.followed or MessageStateChanged in self.events.wanted:
            self.events.emit(
                MessageStateChanged(
                    record.message_id,
                    record.system_id,
                    record.direction,
                    record.msisdn,
                    MessageState(record.state).name,
                )
            )

    def _hold(self, record: MessageRecord) -> None:
        self._pending[record.id] = record
        self._waiting_for[record.msisdn].add(record.id)
        self._per_account[record.system_id] += 1
        self._arm(record)

    def _arm(self, record: MessageRecord) -> None:
        if record.scheduled_at is not None:
            self._push_timer(record.namespace, record.scheduled_at, record.id, "due")
        self._push_timer(record.namespace, record.expires_at, record.id, "expire")

    def _push_timer(self, namespace: str, when: float, row_id: int, kind: str) -> None:
        heap = self._timers.get(namespace)
        if heap is None:
            heap = self._timers[namespace] = []
        heapq.heappush(heap, (when, row_id, kind))

    def _queue_receipt(self, record: MessageRecord, now: float, plan: FaultPlan = NO_FAULTS) -> None:
        """Queue the receipt of the message's current state (recorded as owed by the caller);
        a final one twice when its plan says so."""
        pdu = self._receipt_pdu(record, now)
        self.outbox.add(record, "receipt", pdu, now)
        if plan.duplicate_receipt is not None:
            self.faults.announce_duplicate_receipt(plan, record)
            self.outbox.add(record, "receipt", pdu, now)

    def _receipt_pdu(self, record: MessageRecord, now: float) -> bytes:
        account = self.accounts.get(record.system_id)
        # The encoder picked inline, not by encoder_for: one call less per receipt.
        encoder = self.encoders[account.protocol if account is not None else "smpp"]
        return encoder.receipt(record, account, now)

    def encoder_for(self, account: Account | None) -> DeliveryEncoder:
        """The encoder of the account's protocol (SMPP's for an account gone from the config)."""
        return self.encoders[account.protocol if account is not None else "smpp"]

    def finish(self, row_id: int, state: int, now: float) -> MessageRecord | None:
        """Move a pending MT to a final state, store it, and queue its receipt if asked for.

        :param now: the carrier's time (the message ends on its handset's clock).
        """
        record = self._pending.get(row_id)
        if record is None:
            return None
        return self._end(row_id, state, now + self.clocks.offset(record.namespace))

    def _end(
        self, row_id: int, state: int, now: float, error: int = 0, *, plan: FaultPlan | None = None
    ) -> MessageRecord | None:
        """:meth:`finish` with ``now`` on the handset's clock.

        :param plan: what the faults do to it, when already decided (else decided here).
        """
        record = self._pending.pop(row_id, None)
        if record is None:
            return None
        waiting = self._waiting_for[record.msisdn]
        waiting.discard(row_id)
        if not waiting:
            del self._waiting_for[record.msisdn]
        self._per_account[record.system_id] -= 1
        self._delayed.pop(row_id, None)
        self._replacing.pop(row_id, None)
        if plan is None:
            plan = self.faults.plan_end(record, state)
        if plan.fail_state is not None:
            state, error = plan.fail_state, plan.fail_error
        record.state = state
        record.done_at = now
        record.error = error
        # A final receipt supersedes an intermediate one still owed.
        record.report = self._owed_report(record, state, plan)
        if state == DELIVRD:
            record.seen = self._arrival()
            if plan.garbled is not None:
                record.body = plan.garbled
                self.store.replace_message(
                    row_id, record.body, record.scheduled_at, record.expires_at, record.registered_delivery
                )
        self.store.update_state(row_id, state, now, error, record.report, record.seen)
        self._announce_state(record)
        if record.report is not None:
            self._queue_receipt(record, now, plan)
        return record

    @property
    def held(self) -> int:
        """MT messages waiting for their phone (off, out of reach, scheduled, delayed)."""
        return len(self._pending)

    def pending(self, row_id: int) -> MessageRecord | None:
        """A message still waiting for its handset, if it is one."""
        return self._pending.get(row_id)

    def pending_between(self, source_addr: str, destination_addr: str, system_id: str) -> list[MessageRecord]:
        """Pending MTs of an account from one address to another (cancel_sm without an id)."""
        return [
            r
            for r in self._pending.values()
            if r.system_id == system_id
            and r.source_addr == source_addr
            and (not destination_addr or r.dest_addr == destination_addr)
        ]

    def reschedule(self, record: MessageRecord) -> None:
        """Re-arm a pending message's timers after replace_sm changed its times (on its
        handset's clock, see :meth:`into_frame`)."""
        self._arm(record)

    def handset_reachable(self, msisdn: str, now: float) -> None:
        """A phone came on: deliver what waits for it and is due (but what an injected delay
        still keeps).

        :param now: the carrier's time.
        """
        for row_id in sorted(self._waiting_for.get(msisdn, ())):
            record = self._pending[row_id]
            then = now + self.clocks.offset(record.namespace)
            if (record.scheduled_at is None or record.scheduled_at <= then) and row_id not in self._delayed:
                self._attempt(record, then)

    def _attempt(self, record: MessageRecord, now: float) -> None:
        """Deliver a held MT that is due to a phone that takes SMS, unless a fault keeps it."""
        plan = self.faults.plan_delivery(record, now)
        if plan.delayed_until is not None:
            self._delay(record.id, plan.delayed_until)
        if not plan.holds:
            self._end(record.id, DELIVRD, now, plan=plan)

    def tick(self, now: float) -> None:
        """Deliver scheduled messages that came due; expire those past their validity.

        :param now: the carrier's time (each namespace's heap runs on its own clock).
        """
        for namespace, timers in list(self._timers.items()):
            self._tick_heap(timers, now + self.clocks.offset(namespace))
            if not timers and namespace:
                del self._timers[namespace]  # namespaces come and go with tests

    def _tick_heap(self, timers: list[tuple[float, int, str]], now: float) -> None:
        while timers and timers[0][0] <= now:
            when, row_id, kind = heapq.heappop(timers)
            record = self._pending.get(row_id)
            if record is None:
                continue
            if kind == "release":
                self._released(record, when, now)
            elif kind == "expire":
                if record.expires_at <= now:
                    subscriber = self.subscribers.get(record.msisdn)
                    if subscriber is not None and subscriber.state is HandsetState.INBOX_FULL:
                        self._end(row_id, MessageState.UNDELIV, now, ERROR_MEMORY_CAPACITY_EXCEEDED)
                    else:
                        self._end(row_id, MessageState.EXPIRED, now, ERROR_ABSENT_SUBSCRIBER)
            elif record.scheduled_at is not None and record.scheduled_at <= now:
                subscriber = self.subscribers.get(record.msisdn)
                if subscriber is None or subscriber.state.receives_sms:
                    self._attempt(record, now)
                elif wants_intermediate(record.registered_delivery):
                    record.report = ENROUTE
                    self.store.owe_report(row_id, ENROUTE)
                    self._queue_receipt(record, now)

    def _released(self, record: MessageRecord, when: float, now: float) -> None:
        """An injected delay ended: the MT reaches its phone if it takes SMS now (not asking
        unreachable or delay again), else it waits for the phone like any other."""
        if self._delayed.get(record.id) != when:
            return  # an older delay's timer
        del self._delayed[record.id]
        subscriber = self.subscribers.get(record.msisdn)
        if subscriber is None or subscriber.state.receives_sms:
            self._end(record.id, DELIVRD, now)

    def restore(self, records: Iterable[MessageRecord]) -> None:
        """Resume waiting for MTs read back from the store after a restart (their handsets
        restored first: a message's namespace is its handset's)."""
        namespace_of = self.clocks.namespace_of
        for record in records:
            record.namespace = namespace_of(record.msisdn)
            self._hold(record)

    def restore_owed(self, records: Iterable[MessageRecord], now: float) -> None:
        """Queue again the receipts and MO that messages still owe their ESMEs after a restart.

        :param now: the carrier's time.
        """
        validity = self.outbox.retry.validity
        clock_now, clocks = now, self.clocks
        for record in records:
            assert record.report is not None
            now = clock_now + clocks.offset_for(record.msisdn)
            if record.direction == "MO":
                pdu, kind = self.encoder_for(self.accounts.get(record.system_id)).mo(record, now), "mo"
            else:
                pdu, kind = self._receipt_pdu(record, now), "receipt"
            since = record.done_at if record.done_at is not None else record.submitted_at
            self.outbox.restore(
                DeliveryRecord(
                    record.id,
                    record.message_id,
                    record.msisdn,
                    record.system_id,
                    kind,
                    record.report,
                    pdu,
                    since + validity,
                    record.report_attempts,
                    record.report_next_at,
                )
            )

    def delivery_done(self, delivery: DeliveryRecord, outcome: str, now: float) -> None:
        """An ESME accepted, refused or never took a delivery: it is no longer owed.

        :param now: the time on the delivery's handset's clock.
        """
        state = delivery.state  # a receipt: the state it reports
        if delivery.kind == "mo":
            outcomes = {"accepted": DELIVRD, "refused": MessageState.REJECTD, "dropped": MessageState.DELETED}
            state = outcomes.get(outcome, MessageState.EXPIRED)
            self.store.mo_done(delivery.message, state, now)
            if self.timeline.wants(delivery.namespace):
                self.timeline.message_state(
                    delivery.namespace, delivery.msisdn, delivery.system_id, delivery.message_id, "MO", state
                )
            if self.events.followed or MessageStateChanged in self.events.wanted:
                self.events.emit(
                    MessageStateChanged(
                        delivery.message_id,
                        delivery.system_id,
                        "MO",
                        delivery.msisdn,
                        MessageState(state).name,
                    )
                )
        else:
            self.store.report_done(delivery.message, delivery.state)
        timeline = self.timeline
        if (delivery.namespace or timeline.everyone) and timeline.on:
            timeline.delivery_done(delivery, outcome, state)
        if self.events.followed or DeliveryDone in self.events.wanted:
            self.events.emit(
                DeliveryDone(
                    delivery.message_id,
                    delivery.system_id,
                    delivery.kind,
                    MessageState(state).name,
                    outcome,
                    delivery.msisdn,
                )
            )
