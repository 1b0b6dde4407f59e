"""The handsets' side of the network: provisioning, power, inboxes, and texts they send."""

from __future__ import annotations

import functools

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clocks
from smsgw.carrier.errors import Refusal, Rejected, UnknownSubscriber
from smsgw.carrier.events import EventBus, HandsetChanged
from smsgw.carrier.freshnumbers import FreshNumbers
from smsgw.carrier.inbox import BoxReader
from smsgw.carrier.limits import Limits
from smsgw.carrier.messagelog import MessageLog
from smsgw.carrier.outbox import Outbox
from smsgw.carrier.subscribers import (
    HandsetState,
    Subscriber,
    SubscriberRegistry,
    in_namespace,
    normalize_msisdn,
)
from smsgw.carrier.texts import HandsetTexts
from smsgw.carrier.ussd import UssdGateway
from smsgw.store.interface import MessageStore


class Handsets:
    """Subscribers' phones as the HTTP API, the console and scenarios hold them."""

    def __init__(
        self,
        subscribers: SubscriberRegistry,
        accounts: AccountRegistry,
        store: MessageStore,
        center: MessageCenter,
        outbox: Outbox,
        ussd: UssdGateway,
        events: EventBus,
        clocks: Clocks,
        limits: Limits,
        messages: MessageLog,
        texts: HandsetTexts,
    ) -> None:
        self.subscribers = subscribers
        self.accounts = accounts
        self.store = store
        self.center = center
        self.outbox = outbox
        self.ussd = ussd
        self.events = events
        self.clocks = clocks
        #: The carrier's clock (what the message center and the outbox take).
        self.clock = clocks.clock
        self.limits = limits
        self.messages = messages
        self.texts = texts
        self.fresh = FreshNumbers(store)

    @property
    def country_code(self) -> str:
        """The network's country code: numbers written without it are national."""
        return self.subscribers.country_code

    def find(self, number: str) -> Subscriber | None:
        """The handset a number (international or national) names, kept or implicit; None
        for no phone number, or one strict provisioning does not know."""
        return self.subscribers.find(number)

    def kept(self, msisdn: str) -> Subscriber | None:
        """The handset if it was provisioned or changed (so it can be deleted), else None."""
        return self.subscribers.get(msisdn)

    def all_kept(self) -> list[Subscriber]:
        """Every provisioned or changed handset."""
        return list(self.subscribers)

    def listed(self, with_messages: list[str]) -> list[Subscriber]:
        """The kept handsets and those of the numbers that have messages, by MSISDN.

        :param with_messages: the numbers that have messages
            (:meth:`~smsgw.carrier.messagelog.MessageLog.with_messages`, a read of the store).
        """
        handsets = {s.msisdn: s for s in self.subscribers}
        for msisdn in with_messages:
            if msisdn not in handsets:
                implicit = self.subscribers.find(msisdn)
                if implicit is not None:
                    handsets[msisdn] = implicit
        return [handsets[m] for m in sorted(handsets)]

    def box(self, handset: Subscriber, direction: str, concat_timeout: float) -> BoxReader:
        """A reader of the phone's inbox (``MT``, from its cleared point) or sent box (``MO``).

        :param concat_timeout: seconds after which a concatenated message missing parts is
            shown incomplete.
        """
        return BoxReader(
            self.store,
            handset.msisdn,
            direction,
            self.messages.text_coding,
            functools.partial(self.clocks.now_for, handset.msisdn),
            concat_timeout,
            handset.inbox_after if direction == "MT" else 0,
        )

    def restore(self) -> None:
        """Merge the stored subscribers (created on first use, or changed through the API) over
        the configured ones, and keep every later change."""
        subscribers, store = self.subscribers, self.store
        stored = {row[0]: row for row in store.subscribers()}
        for msisdn, name, state, inbox_after, namespace in stored.values():
            subscriber = subscribers.get(msisdn)
            if subscriber is None:
                subscribers.add(Subscriber(msisdn, name, HandsetState(state), inbox_after, namespace))
            else:
                subscriber.name, subscriber.state = name, HandsetState(state)
                subscriber.inbox_after, subscriber.namespace = inbox_after, namespace
        save = store.save_subscriber
        for subscriber in subscribers:
            if subscriber.msisdn not in stored:
                save(subscriber.msisdn, subscriber.name, subscriber.state.value, subscriber.inbox_after)
        subscribers.on_change = lambda s: save(s.msisdn, s.name, s.state.value, s.inbox_after, s.namespace)
        # Fresh numbers count on from the last one that has messages, or from the last the
        # store reserved if higher (retention removes messages; read once, here, not a read
        # of the store per number given out).
        pool = self._fresh_pool
        last = store.last_msisdn(pool) or ""
        digits = last[len(pool) : len(pool) + 7]
        self.fresh.start(int(digits) if digits.isdigit() else 0)

    def reload(self, msisdn: str, row: tuple[str, str, str, int, str] | None) -> None:
        """Another node of the cluster changed this handset, or removed it (``row`` None): take
        it as stored, and deliver what waits here for it if its phone is now on."""
        subscriber = self.subscribers.get(msisdn)
        if row is None:
            if subscriber is not None:
                self.subscribers.remove(msisdn)
                self.ussd.forget(msisdn)
            return
        _, name, state, inbox_after, namespace = row
        if subscriber is None:
            subscriber = Subscriber(msisdn, name, HandsetState(state), inbox_after, namespace)
            self.subscribers.put(subscriber)
        else:
            subscriber.name, subscriber.state = name, HandsetState(state)
            subscriber.inbox_after, subscriber.namespace = inbox_after, namespace
        self._changed(subscriber, stored=True)
        if subscriber.state.receives_sms:
            self.center.handset_reachable(msisdn, self.clock.now())

    def deliver_waiting(self) -> None:
        """Deliver what waits for phones that are on (switched on while smsgw was down, or the
        process died before delivering)."""
        now = self.clock.now()
        for subscriber in self.subscribers:
            if subscriber.state.receives_sms:
                self.center.handset_reachable(subscriber.msisdn, now)

    def set_state(self, msisdn: str, state: HandsetState) -> Subscriber:
        """Switch a subscriber's phone on or off; on delivers what waited for it.

        :raises UnknownSubscriber: for a number that is not a subscriber.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.state = state
        self._changed(subscriber)
        if state.receives_sms:
            self.center.handset_reachable(subscriber.msisdn, self.clock.now())
        return subscriber

    def rename(self, msisdn: str, name: str) -> Subscriber:
        """Change a subscriber's display name.

        :raises UnknownSubscriber: for a number that is not a subscriber.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.name = name
        self._changed(subscriber)
        return subscriber

    def create(
        self,
        msisdn: str | None,
        name: str = "",
        state: HandsetState = HandsetState.ON,
        namespace: str = "",
    ) -> Subscriber:
        """Provision a handset explicitly (needed under strict provisioning).

        :param msisdn: the number, or None for a fresh one no handset or message ever used.
        :raises UnknownSubscriber: for a number that is not a phone number.
        :raises Rejected: HANDSET_EXISTS for a number that is already a kept handset.
        """
        if msisdn is None:
            normalized = self._fresh_msisdn()
        else:
            found = normalize_msisdn(msisdn, self.subscribers.country_code)
            if found is None:
                raise UnknownSubscriber(f"{msisdn!r} is not a phone number")
            normalized = found
        if self.subscribers.get(normalized) is not None:
            raise Rejected(Refusal.HANDSET_EXISTS, f"{normalized} already exists")
        # A new phone's inbox starts empty: what an earlier holder of the number (another
        # namespace's test) received is not this test's.
        subscriber = self.subscribers.add(
            Subscriber(normalized, name, state, self.center.last_arrival, namespace=namespace)
        )
        self.ussd.forget(normalized)
        self._changed(subscriber, stored=True)
        if state.receives_sms:
            self.center.handset_reachable(normalized, self.clock.now())
        return subscriber

    @property
    def _fresh_pool(self) -> str:
        return f"{self.subscribers.country_code}1700"

    def _fresh_msisdn(self) -> str:
        """The next number of the pool <country code> 1700 nnnnnnn that nothing has used.

        Counting only upwards (on from the last with messages, after a restart), a number
        given out is not given out again, even after its handset is deleted.

        :raises NoFreshNumber: the pool is used up, or its next block is not reserved yet.
        """
        while True:
            msisdn = f"{self._fresh_pool}{self.fresh.take():07d}"
            if self.subscribers.get(msisdn) is None:
                return msisdn

    def in_namespace(self, namespace: str) -> list[Subscriber]:
        """The kept handsets of a namespace and of the namespaces inside it."""
        return [s for s in self.subscribers if s.namespace and in_namespace(s.namespace, namespace)]

    def delete(self, msisdn: str) -> Subscriber:
        """Forget a kept handset; with auto provisioning its number stays usable (phone on).

        :raises UnknownSubscriber: for a number that is not a kept handset.
        """
        subscriber = self.subscribers.find(msisdn)
        if subscriber is None or self.subscribers.remove(subscriber.msisdn) is None:
            raise UnknownSubscriber(f"{msisdn} is not a provisioned handset")
        self.store.delete_subscriber(subscriber.msisdn)
        self.ussd.forget(subscriber.msisdn)
        if self.events.wants(HandsetChanged):
            self.events.emit(
                HandsetChanged(subscriber.msisdn, subscriber.name, subscriber.state.value, removed=True)
            )
        return subscriber

    def drop_owed(self, msisdns: set[str]) -> int:
        """Drop the MO and receipts still owed for these handsets (their namespace is being
        reset: its test is over, and no other test's bind should get them).

        :returns: how many deliveries were dropped.
        """
        return self.outbox.drop(msisdns, self.clock.now())

    def clear_inbox(self, msisdn: str) -> int:
        """Empty a handset's inbox as the phone shows it (the message log keeps everything).

        :returns: the arrival order the inbox now starts after.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.inbox_after = self.center.last_arrival
        self.subscribers.changed(subscriber)
        return subscriber.inbox_after

    def _changed(self, subscriber: Subscriber, *, stored: bool = False) -> None:
        if not stored:
            self.subscribers.changed(subscriber)
        if self.events.wants(HandsetChanged):
            self.events.emit(HandsetChanged(subscriber.msisdn, subscriber.name, subscriber.state.value))

    def _kept_subscriber(self, msisdn: str) -> Subscriber:
        """The subscriber of an E.164 number, kept (and stored) so that a change to it lasts."""
        subscriber = self.subscribers.of(msisdn)
        if subscriber is None:
            raise UnknownSubscriber(f"{msisdn} is not a subscriber")
        return self.subscribers.keep(subscriber)

    def send_sms(self, msisdn: str, to: str, text: str) -> list[str]:
        """A handset sends a text: to a short code (MO for its account) or to another handset.

        ``to`` is a short code when an account owns it; else it is a phone number when it is
        written as one (a leading ``+``, or 8 digits or more); else it goes to the default
        account, as an MO to an unowned short code does.

        :returns: the message_id of each part (for another handset: the parts it receives).
        :raises Rejected: when nobody takes it (no owner and no default account), or the
            other handset is unknown under strict provisioning.
        """
        now = self.clock.now()
        if self.accounts.owner_of_short_code(to) is None and (to.startswith("+") or len(to) >= 8):
            recipient = self.subscribers.resolve(to)
            return self.texts.accept_p2p(msisdn, recipient, text, now, self.limits.default_validity)
        return self.texts.accept_mo(msisdn, to, text, now)
