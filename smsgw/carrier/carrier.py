"""The carrier: the fake network's services, built and started in one place.

A front end (the SMPP server today) binds its connections through :attr:`Carrier.binds`,
hands their requests to :attr:`Carrier.smsc` and the answers to its deliveries to
:meth:`Carrier.delivery_accepted` and :meth:`Carrier.delivery_refused`; the HTTP API holds the handsets through
:attr:`Carrier.handsets` and USSD through :attr:`Carrier.ussd`. Effects become durable at
:meth:`flush`, which the front end calls once per reactor turn before it writes any output.
That order is the durability promise: a submit_sm_resp carrying a message_id leaves only
after its message is committed, and a receipt leaves after that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from smsgw.carrier.accounts import Account, AccountRegistry
from smsgw.carrier.bindguard import FailedBinds
from smsgw.carrier.binding import Binding
from smsgw.carrier.binds import BindDesk
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clock, Clocks
from smsgw.carrier.encoding import DeliveryEncoder
from smsgw.carrier.events import EventBus
from smsgw.carrier.faults import FaultBook
from smsgw.carrier.handset_ussd import HandsetUssd
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.limits import Limits
from smsgw.carrier.messagelog import MessageLog
from smsgw.carrier.outbox import Outbox, RetryPolicy
from smsgw.carrier.retention import Keep, Retention
from smsgw.carrier.smsc import Smsc
from smsgw.carrier.submitted import SubmittedMessages
from smsgw.carrier.subscribers import SubscriberRegistry
from smsgw.carrier.texts import HandsetTexts
from smsgw.carrier.timeline import Timeline
from smsgw.carrier.ussd import UssdGateway, UssdLimits, UssdRoute
from smsgw.carrier.ussd_apps import UssdApps, UssdDelivery
from smsgw.store.interface import MessageStore
from smsgw.store.records import DeliveryRecord, MessageRecord


class Carrier:
    """The fake network: accounts, subscribers, the message center, binds and USSD.

    Construction builds the services and reads nothing; :meth:`start` resumes what the store
    holds, so that whoever watches the carrier's events can subscribe in between.

    :param store: the message store (already open).
    :param encoders: how each front end writes receipts, MO and USSD screens, by the
        protocol its accounts bind with (``smpp``, ``cmpp``).
    :param events: where the carrier announces what happens (the encoder may watch it too).
    :param clock: the carrier's time (messages, validity, receipts).
    :param default_system_id: the account that receives MO for unowned short codes.
    :param faults: the injected faults in force (none by default).
    :param failed_binds: how failed binds per address are limited (10 a minute by default).
    :param keep: what the store keeps of final messages (everything by default).
    :param wall: the wall clock, which tests do not move: how old a final message is.
    :param timeline: where the steps of payments are recorded (nothing, by default).
    """

    def __init__(
        self,
        store: MessageStore,
        accounts: Iterable[Account],
        subscribers: SubscriberRegistry,
        clock: Clock,
        *,
        encoders: Mapping[str, DeliveryEncoder],
        events: EventBus,
        limits: Limits = Limits(),
        retry: RetryPolicy = RetryPolicy(),
        default_system_id: str | None = None,
        ussd_routes: Iterable[UssdRoute] = (),
        ussd_limits: UssdLimits = UssdLimits(),
        faults: FaultBook | None = None,
        failed_binds: FailedBinds | None = None,
        link_clock: Callable[[], float] | None = None,
        timeline: Timeline | None = None,
        keep: Keep = Keep(),
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock
        #: The time the links' sessions keep (the reactor's): what a delivery's response
        #: deadline is set on, so that moving the carrier's clock moves no session's timers.
        self.link_clock = link_clock if link_clock is not None else clock.now
        self.limits = limits
        self.events = events
        self.faults = faults or FaultBook()
        self.faults.attach(events, subscribers.namespace_of)
        self.accounts = AccountRegistry(accounts, clock.now())
        self.subscribers = subscribers
        #: The carrier's clock and the namespaces' clocks that run ahead of it.
        self.clocks = Clocks(clock, subscribers.namespace_of)
        self.timeline = timeline or Timeline()
        self.timeline.attach(store, self.clocks, events)
        self.outbox = Outbox(store, retry, self.clocks, self.timeline)
        self.center = MessageCenter(
            store,
            self.accounts,
            subscribers,
            self.outbox,
            self.events,
            encoders,
            self.clocks,
            next_id=1,
            faults=self.faults,
            timeline=self.timeline,
        )
        self.outbox.on_done = self.center.delivery_done
        self.binds = BindDesk(self.accounts, self.outbox, self.events, clock, failed_binds)
        self.ussd_apps = UssdApps(
            self.accounts,
            subscribers,
            self.center,
            self.outbox,
            self.events,
            clock,
            subscribers.namespace_of,
            self.timeline,
        )
        self.ussd = UssdGateway(
            list(ussd_routes),
            ussd_limits,
            apps=self.ussd_apps,
            on_change=self.ussd_apps.changed,
            faults=self.faults,
            clocks=self.clocks,
            timeline=self.timeline,
        )
        self.ussd_apps.gateway = self.ussd
        self.ussd_apps.link_clock = self.link_clock
        self.submitted = SubmittedMessages(self.center, store)
        self.smsc = Smsc(
            self.accounts,
            subscribers,
            self.center,
            self.submitted,
            self.binds,
            self.faults,
            self.ussd_apps.from_esme,
            self.timeline,
        )
        self.messages = MessageLog(store, self.accounts)
        self.handsets = Handsets(
            subscribers,
            self.accounts,
            store,
            self.center,
            self.outbox,
            self.ussd,
            self.events,
            self.clocks,
            limits,
            self.messages,
            HandsetTexts(store, self.accounts, self.center, self.outbox, default_system_id),
        )
        self.handset_ussd = HandsetUssd(subscribers, self.ussd, clock)
        center = self.center
        self.retention = Retention(
            store,
            keep_days=keep.days,
            keep_messages=keep.messages,
            newest=lambda: center.newest_id,
            last_arrival=lambda: center.last_arrival,
            wall=wall,
            timeline=self.timeline,
        )

    def start(self) -> None:
        """Resume what the store holds: kept subscribers, messages still waiting for their
        phone, receipts and MO still owed; then deliver what waits for phones that are on."""
        store, now = self.store, self.clock.now()
        self.handsets.restore()
        self.center.resume_numbering(store.max_id() + 1, store.max_seen() + 1)
        self.retention.stored_at_start = store.count_messages()
        self.center.restore(store.pending_messages())
        self.center.restore_owed(store.owing(), now)
        self.handsets.deliver_waiting()

    def adopt(self, pending: Iterable[MessageRecord] = (), owed: Iterable[MessageRecord] = ()) -> None:
        """Take on work another node of the cluster left: MTs still pending (delivered now to
        phones that are on, or held), and receipts and MO owed to accounts bound here."""
        now = self.clock.now()
        pending = list(pending)
        self.center.restore(pending)
        for msisdn in sorted({record.msisdn for record in pending}):
            subscriber = self.subscribers.get(msisdn)
            if subscriber is None or subscriber.state.receives_sms:  # None: an implicit one, on
                self.center.handset_reachable(msisdn, now)
        self.center.restore_owed(owed, now)

    # -- deliveries to applications ----------------------------------------------------

    def unbound(self, binding: Binding, lost: Iterable[object], reason: str) -> None:
        """A session ended: its unanswered deliveries go back to the queue."""
        now = self.clock.now()
        self.binds.unbound(binding, reason)
        for delivery in lost:
            if isinstance(delivery, DeliveryRecord):  # USSD deliveries are live: never resent
                self.outbox.failed(delivery, now, "connection_lost")

    def delivery_accepted(self, delivery: object) -> None:
        """An application took a delivery (a receipt or an MO is done with)."""
        if isinstance(delivery, DeliveryRecord):
            self.outbox.accepted(delivery, self.clock.now())

    def delivery_refused(self, delivery: object, *, permanent: bool, detail: str) -> None:
        """An application refused a delivery, for now (it is retried) or for good; a USSD one
        ends its dialogue at once (the application will not answer a screen it refused).

        :param detail: how it refused, in its protocol's words (for the dialogue's reason).
        """
        if isinstance(delivery, DeliveryRecord):
            self.outbox.refused(delivery, permanent, self.clock.now())
        elif isinstance(delivery, UssdDelivery):
            reason = f"the application {detail}"
            self.ussd.app_failed(delivery.session, reason, self.clock.now(), cursor=delivery.cursor)

    def delivery_timed_out(self, delivery: object) -> None:
        """An application did not answer a delivery in time (USSD ones end by the app timeout)."""
        if isinstance(delivery, DeliveryRecord):
            self.outbox.failed(delivery, self.clock.now(), "timed_out")

    # -- time and durability -----------------------------------------------------------

    def dispatch(self) -> None:
        """Hand queued deliveries to the binds that take them. What they send must wait for
        the commit of the writes queued so far (the server's flusher sees to it)."""
        self.outbox.dispatch(self.link_clock())

    def flush(self) -> None:
        """Make this turn's work durable, then dispatch: a turn's end, for a caller that has
        no reactor (tests, tools). Only writes that gate output force a commit; lazy ones
        ride along or wait for the periodic commit."""
        if self.store.urgent:
            self.store.commit()
        self.dispatch()

    def tick(self) -> None:
        """Let carrier time pass: schedules, expiries, retries; and what is kept of old
        messages and steps."""
        now = self.clock.now()
        self.retention.tick()  # first: what the others change gates answers (see Retention.tick)
        self.center.tick(now)
        self.outbox.tick(now)
        self.ussd.tick(now)

    def advance(self, namespace: str, seconds: float) -> None:
        """Move a namespace's clock forward (the carrier's, and so every namespace's, for
        ``""``), and let what fell due by then happen now."""
        self.clocks.advance(namespace, seconds)
        self.timeline.clock_advanced(namespace, seconds)
        self.clock_moved()

    def clock_moved(self) -> None:
        """Some clock jumped (here, or on another node of a cluster): what fell due by the
        new time happens now, wherever it waits."""
        now = self.clock.now()
        self.center.tick(now)
        self.outbox.clock_moved(now)
        self.ussd.tick(now)
