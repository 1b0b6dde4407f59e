"""The carrier: what an SMSC does with each SMPP request, and the network around it.

The Twisted adapter hands each bind, request and response of a session to :class:`Carrier`;
the carrier answers through the session, and its effects become durable at :meth:`flush`,
which the adapter calls once per reactor turn before it writes any output. That order is the
durability promise: a submit_sm_resp carrying a message_id leaves only after its message is
committed, and a receipt leaves after that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from smsgw.carrier.accounts import Account, AccountRegistry
from smsgw.carrier.bindguard import UNKNOWN, FailedBinds
from smsgw.carrier.bindrange import bind_namespace
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clock
from smsgw.carrier.errors import BindRefused, Rejected, UnknownSubscriber
from smsgw.carrier.events import Bound, EventBus, HandsetChanged, Refused, Unbound, UssdChanged
from smsgw.carrier.faults import FaultBook
from smsgw.carrier.outbox import Link, Outbox, RetryPolicy
from smsgw.carrier.submitted import SubmittedMessages
from smsgw.carrier.subscribers import (
    HandsetState,
    Subscriber,
    SubscriberRegistry,
    in_namespace,
    normalize_msisdn,
)
from smsgw.carrier.ussd import ABORT_OP, EOS, Dialogue, UssdGateway, UssdLimits, UssdRoute
from smsgw.carrier.validation import (
    Checked,
    Limits,
    check_addresses,
    check_data_sm,
    check_submit,
)
from smsgw.smpp import codec
from smsgw.smpp.constants import (
    BindType,
    CommandId,
    Npi,
    Ton,
    UssdServiceOp,
    command_name,
    status_name,
)
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.session import ANSWER_BUCKETS
from smsgw.smpp.sm import DeliverSm, DistributionList, UnsuccessSme
from smsgw.store.records import DeliveryRecord, MessageRecord
from smsgw.text.coding import decode_text, encode_text

#: The USSD dialect of a dialogue whose account is gone from the config (§5.7 defaults).
_DEFAULT_USSD_PROFILE = Account(system_id="", password="")
#: Bind refusals that count against FailedBinds: what a password guesser gets.
_GUESSES = frozenset({S.ESME_RINVSYSID, S.ESME_RINVPASWD})


class Carrier:
    """The fake network's core: accounts, subscribers, the message center and the outbox.

    :param store: the message store (already open); pending work in it is resumed.
    :param clock: the carrier's time (messages, validity, receipts).
    :param default_system_id: the account that receives MO for unowned short codes.
    :param faults: the injected faults in force (none by default).
    :param failed_binds: how failed binds per address are limited (10 a minute by default).
    """

    def __init__(
        self,
        store: Any,
        accounts: Iterable[Account],
        subscribers: SubscriberRegistry,
        clock: Clock,
        *,
        limits: Limits = Limits(),
        retry: RetryPolicy = RetryPolicy(),
        default_system_id: str | None = None,
        events: EventBus | None = None,
        ussd_routes: Iterable[UssdRoute] = (),
        ussd_limits: UssdLimits = UssdLimits(),
        faults: FaultBook | None = None,
        failed_binds: FailedBinds | None = None,
    ) -> None:
        self.store = store
        self.faults = faults or FaultBook()
        self.clock = clock
        self.limits = limits
        self.events = events or EventBus()
        self.faults.attach(self.events, self._namespace_of)
        self.accounts = AccountRegistry(accounts, clock.now())
        self.subscribers = subscribers
        self._restore_subscribers()
        self._last_fresh = 0
        self.outbox = Outbox(store, retry, self._delivery_done)
        self.outbox.namespace_of = self._namespace_of
        self.center = MessageCenter(
            store,
            self.accounts,
            subscribers,
            self.outbox,
            self.events,
            default_system_id=default_system_id,
            next_id=store.max_id() + 1,
            next_seen=store.max_seen() + 1,
            faults=self.faults,
        )
        self.submitted = SubmittedMessages(self.center, store, limits)
        self.center.restore(store.pending_messages())
        self.center.restore_owed(store.owing(), clock.now())
        # What waited for a phone that is on (it may have been switched on while smsgw was
        # down, or the process died before delivering) goes now.
        for subscriber in subscribers:
            if subscriber.state.receives_sms:
                self.center.handset_reachable(subscriber.msisdn, clock.now())
        #: Bound sessions by session id.
        self.links: dict[int, Link] = {}
        self.failed_binds = failed_binds if failed_binds is not None else FailedBinds()
        #: When each bound session bound (carrier time), for the sessions view.
        self.bound_at: dict[int, float] = {}
        #: PDU counts of sessions that have ended (live ones keep their own), for /metrics.
        self.ended_pdus_in: Counter[int] = Counter()
        self.binds_total: Counter[tuple[str, str]] = Counter()
        self.ended_pdus_out: Counter[int] = Counter()
        self.ended_answer_times = [0] * (len(ANSWER_BUCKETS) + 1)
        self.ended_answer_seconds = 0.0
        self.ussd = UssdGateway(
            list(ussd_routes), ussd_limits, apps=self, on_change=self._ussd_changed, faults=self.faults
        )
        #: Posts to HTTP USSD applications (set by the edge that can make HTTP requests).
        self.post_to_http_app: Callable[[Dialogue, str], None] | None = None
        self._handlers = {
            CommandId.SUBMIT_SM: self._submit_sm,
            CommandId.DATA_SM: self._data_sm,
            CommandId.SUBMIT_MULTI: self._submit_multi,
            CommandId.QUERY_SM: self._query_sm,
            CommandId.CANCEL_SM: self._cancel_sm,
            CommandId.REPLACE_SM: self._replace_sm,
        }

    def _restore_subscribers(self) -> None:
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

    # -- sessions --------------------------------------------------------------------

    def bind(self, link: Any, pdu: Any, bind_type: BindType, session_id: int) -> bool:
        """Authenticate a bind and answer it; return whether it was accepted."""
        session = link.session
        host = link.peer.rpartition(":")[0] or link.peer
        now = self.clock.now()
        guard = self.failed_binds
        # Names of no account share one count per address, so inventing names buys nothing.
        guarded = pdu.system_id if self.accounts.get(pdu.system_id) is not None else UNKNOWN
        wait = guard.blocked(host, guarded, now)
        try:
            if wait:
                name = "unknown system_ids" if guarded is UNKNOWN else f"system_id {pdu.system_id!r}"
                raise BindRefused(
                    S.ESME_RBINDFAIL,
                    f"{guard.limit} failed binds for {name} from {host} within "
                    f"{guard.window:g} s; the next is heard in {wait:.0f} s",
                )
            account = self.accounts.authenticate(pdu.system_id, pdu.password, bind_type)
            namespace = bind_namespace(pdu.address_range)
            self._check_bind_count(account)
        except BindRefused as refusal:
            # Only a wrong name or password counts: a right one over max_binds is no guess.
            if not wait and refusal.command_status in _GUESSES:
                guard.failed(host, guarded, now)
            session.reject_bind(pdu, refusal.command_status)
            self._refused(session_id, pdu.system_id, pdu, refusal)
            return False
        guard.succeeded(host, guarded)
        session.accept_bind(pdu, account.system_id)
        link.account = account
        link.namespace = namespace
        self.links[session_id] = link
        self.bound_at[session_id] = self.clock.now()
        if bind_type.can_receive:
            self.outbox.attach(link)
        self.binds_total[account.system_id, bind_type.value] += 1
        if self.events.wants(Bound):
            self.events.emit(
                Bound(session_id, account.system_id, bind_type.value, link.peer, namespace or None)
            )
        return True

    def _check_bind_count(self, account: Account) -> None:
        if not account.max_binds:
            return
        bound = sum(1 for link in self.links.values() if link.account.system_id == account.system_id)
        if bound >= account.max_binds:
            raise BindRefused(
                S.ESME_RBINDFAIL,
                f"{account.system_id!r} has {bound} sessions bound (max_binds {account.max_binds})",
            )

    def refuse_bind(self, link: Any, pdu: Any, session_id: int, status: int, reason: str) -> None:
        """Refuse a bind for a reason of the edge's (a connection over a limit), and say why."""
        link.session.reject_bind(pdu, status)
        self._refused(session_id, pdu.system_id, pdu, Rejected(status, reason))

    def unbound(self, link: Any, session_id: int, lost: Iterable[Any], reason: str) -> None:
        """A session ended: its unanswered deliveries go back to the queue."""
        now = self.clock.now()
        session = link.session
        self.ended_pdus_in.update(session.pdus_in)
        self.ended_pdus_out.update(session.pdus_out)
        for bucket, count in enumerate(session.answer_times):
            self.ended_answer_times[bucket] += count
        self.ended_answer_seconds += session.answer_seconds
        self.outbox.detach(link)
        for delivery in lost:
            if isinstance(delivery, DeliveryRecord):  # USSD deliveries are live: never resent
                self.outbox.failed(delivery, now)
        self.bound_at.pop(session_id, None)
        if self.links.pop(session_id, None) is not None and self.events.wants(Unbound):
            self.events.emit(Unbound(session_id, link.account.system_id, reason))

    def request(self, link: Any, pdu: Any) -> None:
        """Answer a submit_sm, data_sm, submit_multi, query_sm, cancel_sm or replace_sm.

        Requests that arrive behind one whose connection a fault dropped are never read, as
        on a real connection that broke: they stay unanswered, and nothing of them is stored.
        """
        if link.session.dropped:
            return
        try:
            self._handlers[pdu.command_id](link, pdu, self.clock.now())
        except Rejected as refusal:
            link.session.respond(pdu, refusal.command_status)
            self._refused(link.session_id, link.account.system_id, pdu, refusal)

    def _refused(self, session_id: int | None, system_id: str, pdu: Any, refusal: Rejected) -> None:
        if self.events.wants(Refused):
            self.events.emit(
                Refused(
                    session_id,
                    system_id,
                    command_name(pdu.command_id),
                    status_name(refusal.command_status),
                    refusal.reason,
                )
            )

    def delivery_answered(self, delivery: Any, command_status: int) -> None:
        """An ESME answered a deliver_sm: a USSD one with an error ends its dialogue at once
        (the application will not answer a screen it refused)."""
        if isinstance(delivery, DeliveryRecord):
            self.outbox.answered(delivery, command_status, self.clock.now())
        elif command_status and isinstance(delivery, UssdDelivery):
            reason = f"the application answered the deliver_sm with {status_name(command_status)}"
            self.ussd.app_failed(delivery.session, reason, self.clock.now(), cursor=delivery.cursor)

    def delivery_timed_out(self, delivery: Any) -> None:
        """An ESME did not answer a deliver_sm in time (USSD ones end by the app timeout)."""
        if isinstance(delivery, DeliveryRecord):
            self.outbox.failed(delivery, self.clock.now())

    def _delivery_done(self, delivery: DeliveryRecord, outcome: str) -> None:
        self.center.delivery_done(delivery, outcome, self.clock.now())

    def flush(self) -> None:
        """Make this turn's work durable, then hand queued deliveries to the binds.

        Only writes that gate output force a commit here; lazy ones ride along or wait for
        :meth:`tick`.
        """
        if self.store.urgent:
            self.store.commit()
        self.outbox.dispatch(self.clock.now())

    def tick(self) -> None:
        """Let carrier time pass: schedules, expiries, retries; commit lazy writes."""
        now = self.clock.now()
        self.center.tick(now)
        self.outbox.tick(now)
        self.ussd.tick(now)
        if self.store.dirty and not self.store.urgent:
            self.store.commit()

    # -- submits ---------------------------------------------------------------------

    def _submit_sm(self, link: Any, pdu: Any, now: float) -> None:
        if pdu.ussd_service_op is not None:
            self._ussd_submit(link, pdu, now)
            return
        self._admit(link.account, now)
        check_addresses(pdu)
        self._accept(link, pdu, check_submit(pdu, now, self.limits), now)

    def _data_sm(self, link: Any, pdu: Any, now: float) -> None:
        self._admit(link.account, now)
        check_addresses(pdu)
        self._accept(link, pdu, check_data_sm(pdu, now, self.limits), now)

    def _dropped_by_fault(self, link: Any, pdu: Any, msisdn: str) -> bool:
        """Close the connection without answering when a ``drop_connection`` rule fires.

        The submit is not accepted, so nothing is lost: the ESME must bind again and resend.
        """
        system_id = link.account.system_id
        command = command_name(pdu.command_id)
        detail = f"session {link.session_id} closed at {command} sequence {pdu.sequence_number}"
        rule = self.faults.drops_connection(system_id, msisdn, pdu.source_addr, detail)
        if rule is None:
            return False
        link.session.drop(f"injected fault {rule.name!r}: connection dropped at {command} to {msisdn}")
        link.output_ready()
        return True

    def _admit(self, account: Account, now: float) -> None:
        """The account may submit now: under its throughput, and its queue not full."""
        self.accounts.check_throughput(account, now)
        self.center.check_queue(account)

    def _accept(self, link: Any, pdu: Any, checked: Checked, now: float) -> None:
        """Accept a checked submit_sm or data_sm to its one destination and answer it."""
        subscriber = self.subscribers.resolve(pdu.destination_addr)
        if self.faults.may_strike(subscriber.msisdn):
            if self._dropped_by_fault(link, pdu, subscriber.msisdn):
                return
            self.faults.check_submit(link.account.system_id, subscriber.msisdn, pdu.source_addr)
        message_id = self.center.accept_mt(
            link.account,
            pdu,
            checked,
            subscriber,
            now,
            dest_addr_ton=pdu.dest_addr_ton,
            dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr,
            via=link.session_id,
        )
        link.session.respond(pdu, 0, message_id=message_id)

    def _submit_multi(self, link: Any, pdu: Any, now: float) -> None:
        account = link.account
        if not 1 <= len(pdu.dest_addresses) <= 254:
            raise Rejected(S.ESME_RINVNUMDESTS, f"number_of_dests {len(pdu.dest_addresses)} is not 1-254")
        self._admit(account, now)
        check_addresses(pdu, with_destination=False)
        checked = check_submit(pdu, now, self.limits)
        message_id: str | None = None
        unsuccess = []
        for dest in pdu.dest_addresses:
            if isinstance(dest, DistributionList):
                unsuccess.append(UnsuccessSme(0, 0, dest.dl_name, S.ESME_RINVDLNAME))
                continue
            try:
                check_addresses(_DestView(pdu, dest))
                subscriber = self.subscribers.resolve(dest.destination_addr)
                if self.faults.may_strike(subscriber.msisdn):
                    self.faults.check_submit(account.system_id, subscriber.msisdn, pdu.source_addr)
            except Rejected as refusal:
                unsuccess.append(
                    UnsuccessSme(
                        dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, refusal.command_status
                    )
                )
                continue
            message_id = self.center.accept_mt(
                account,
                pdu,
                checked,
                subscriber,
                now,
                dest_addr_ton=dest.dest_addr_ton,
                dest_addr_npi=dest.dest_addr_npi,
                destination_addr=dest.destination_addr,
                message_id=message_id,
                via=link.session_id,
            )
        link.session.respond(pdu, 0, message_id=message_id or "", unsuccess_smes=tuple(unsuccess))

    # -- USSD ------------------------------------------------------------------------

    def _ussd_submit(self, link: Any, pdu: Any, now: float) -> None:
        """A USSD screen from an ESME: for an open dialogue, or a push to an idle handset."""
        check_addresses(pdu)
        subscriber = self.subscribers.resolve(pdu.destination_addr)
        body = pdu.message_payload if pdu.message_payload is not None else pdu.short_message
        # 0x0F (the CBS DCS some gateways pass on) always means GSM; 0 as the account reads it.
        text = decode_text(body, pdu.data_coding, default_alphabet=link.account.data_coding_0)
        session_info = pdu.its_session_info
        if link.account.ussd_session == "user_message_reference" and pdu.user_message_reference is not None:
            # The reference names the dialogue only; its low bit is no end-of-session flag.
            session_info = pdu.user_message_reference & ~EOS
        dialogue = self.ussd.from_esme(
            link.account.system_id, subscriber, pdu.ussd_service_op, session_info, text, now, pdu.source_addr
        )
        if dialogue.origin == "network" and not dialogue.code:
            dialogue.code = pdu.source_addr  # answers go back to the pushing ESME's address
        # The dialogue goes on with the bind that showed this screen: another bind of the
        # account (another test, another instance of the app) has no part in it.
        dialogue.via = link.session_id
        message_id = self.center.reserve_id(link.account)
        link.session.respond(pdu, 0, message_id=message_id)

    def send_to_esme(self, system_id: str, dialogue: Dialogue, op: int, text: str, end: bool) -> bool:
        """Deliver a USSD screen event to one of the account's receivers, in its dialect (§5.5)."""
        account = self.accounts.get(system_id)
        profile = account if account is not None else _DEFAULT_USSD_PROFILE
        if op == ABORT_OP and profile.ussd_network_end == "eos":
            op, text = UssdServiceOp.USSR_CONFIRM, ""  # VUMI's "Tata": the EOS bit alone says it
        data_coding, encoded = encode_text(text, profile.data_coding_0)
        if data_coding == 0 and profile.ussd_data_coding == "cbs":
            data_coding = 0x0F
        session_info = dialogue.its_session_info | (EOS if end else 0)
        pdu = codec.encode(
            DeliverSm(
                service_type=profile.ussd_service_type,
                source_addr_ton=Ton.INTERNATIONAL,
                source_addr_npi=Npi.ISDN,
                source_addr=dialogue.msisdn,
                destination_addr=dialogue.code,
                data_coding=data_coding,
                short_message=encoded,
                ussd_service_op=op,
                its_session_info=session_info if profile.ussd_session == "its_session_info" else None,
                user_message_reference=(
                    dialogue.its_session_info if profile.ussd_session == "user_message_reference" else None
                ),
            )
        )
        context = UssdDelivery(dialogue.session, dialogue.cursor)
        namespace = self._namespace_of(dialogue.msisdn)
        return self.outbox.send_now(
            system_id, pdu, self.clock.now(), context, namespace=namespace, prefer=dialogue.via
        )

    def post_to_http(self, dialogue: Dialogue, text: str) -> None:
        """Call an HTTP USSD application through the edge's HTTP client."""
        if self.post_to_http_app is None:
            self.ussd.app_failed(dialogue.session, "no HTTP client for USSD applications", self.clock.now())
        else:
            self.post_to_http_app(dialogue, text)

    def _ussd_changed(self, dialogue: Dialogue) -> None:
        if self.events.wants(UssdChanged):
            screen = dialogue.screen
            self.events.emit(
                UssdChanged(
                    dialogue.msisdn,
                    dialogue.session,
                    dialogue.origin,
                    dialogue.phase.value,
                    screen.text if screen else None,
                    bool(screen and screen.expects_reply and dialogue.phase.value == "waiting_user"),
                    dialogue.end_reason,
                )
            )

    def dial_ussd(self, msisdn: str, dialled: str) -> Dialogue:
        """A handset dials a USSD string.

        :raises Rejected: saying why the dialogue cannot start.
        """
        subscriber = self.subscribers.find(msisdn)
        if subscriber is None:
            raise UnknownSubscriber(f"{msisdn} is not a subscriber")
        return self.ussd.dial(subscriber, dialled, self.clock.now())

    # -- query, cancel, replace ------------------------------------------------------

    def _query_sm(self, link: Any, pdu: Any, now: float) -> None:
        answer = self.submitted.query(link.account, pdu)
        link.session.respond(
            pdu,
            0,
            message_id=answer.message_id,
            final_date=answer.final_date,
            message_state=answer.message_state,
            error_code=answer.error_code,
        )

    def _cancel_sm(self, link: Any, pdu: Any, now: float) -> None:
        self.submitted.cancel(link.account, pdu, now)
        link.session.respond(pdu, 0)

    def _replace_sm(self, link: Any, pdu: Any, now: float) -> None:
        self.submitted.replace(link.account, pdu, now)
        link.session.respond(pdu, 0)

    # -- the handset side (used by the HTTP API) -------------------------------------

    def set_handset_state(self, msisdn: str, state: HandsetState) -> Subscriber:
        """Switch a subscriber's phone on or off; on delivers what waited for it.

        :raises UnknownSubscriber: for a number that is not a subscriber.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.state = state
        self._handset_changed(subscriber)
        if state.receives_sms:
            self.center.handset_reachable(subscriber.msisdn, self.clock.now())
        return subscriber

    def rename_subscriber(self, msisdn: str, name: str) -> Subscriber:
        """Change a subscriber's display name.

        :raises UnknownSubscriber: for a number that is not a subscriber.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.name = name
        self._handset_changed(subscriber)
        return subscriber

    def create_handset(
        self,
        msisdn: str | None,
        name: str = "",
        state: HandsetState = HandsetState.ON,
        namespace: str = "",
    ) -> Subscriber:
        """Provision a handset explicitly (needed under strict provisioning).

        :param msisdn: the number, or None for a fresh one no handset or message ever used.
        :raises Rejected: ESME_RINVDSTADR for a number that is not a phone number, or that is
            already a kept handset.
        """
        if msisdn is None:
            normalized = self._fresh_msisdn()
        else:
            found = normalize_msisdn(msisdn, self.subscribers.country_code)
            if found is None:
                raise UnknownSubscriber(f"{msisdn!r} is not a phone number")
            normalized = found
        if self.subscribers.get(normalized) is not None:
            raise Rejected(S.ESME_RINVDSTADR, f"{normalized} already exists")
        # A new phone's inbox starts empty: what an earlier holder of the number (another
        # namespace's test) received is not this test's.
        subscriber = self.subscribers.add(
            Subscriber(normalized, name, state, self.center.last_arrival, namespace=namespace)
        )
        self.ussd.forget(normalized)
        self._handset_changed(subscriber, stored=True)
        if not state.receives_sms:
            return subscriber
        self.center.handset_reachable(normalized, self.clock.now())
        return subscriber

    def _fresh_msisdn(self) -> str:
        """The next number of the pool <country code> 1700 nnnnnnn that nothing has used.

        Counting only upwards, a number given out is not given out again while the carrier
        runs, even after its handset is deleted; the store check covers restarts.
        """
        while True:
            self._last_fresh += 1
            msisdn = f"{self.subscribers.country_code}1700{self._last_fresh:07d}"
            if self.subscribers.get(msisdn) is None and not self.store.has_messages_for(msisdn):
                return msisdn

    def _namespace_of(self, msisdn: str) -> str:
        subscriber = self.subscribers.get(msisdn)
        return subscriber.namespace if subscriber is not None else ""

    def handsets_in(self, namespace: str) -> list[Subscriber]:
        """The kept handsets of a namespace and of the namespaces inside it."""
        return [s for s in self.subscribers if s.namespace and in_namespace(s.namespace, namespace)]

    def delete_handset(self, msisdn: str) -> Subscriber:
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
        return self.outbox.drop(msisdns)

    def clear_inbox(self, msisdn: str) -> int:
        """Empty a handset's inbox as the phone shows it (the message log keeps everything).

        :returns: the arrival order the inbox now starts after.
        """
        subscriber = self._kept_subscriber(msisdn)
        subscriber.inbox_after = self.center.last_arrival
        self.subscribers.changed(subscriber)
        return subscriber.inbox_after

    def _handset_changed(self, subscriber: Subscriber, *, stored: bool = False) -> None:
        if not stored:
            self.subscribers.changed(subscriber)
        if self.events.wants(HandsetChanged):
            self.events.emit(HandsetChanged(subscriber.msisdn, subscriber.name, subscriber.state.value))

    def text_coding(self, record: MessageRecord) -> int:
        """The data_coding to read a stored message's text with: data_coding 0 from an
        account whose ESME means Latin-1 by it reads as Latin-1 (3)."""
        if record.data_coding == 0 and record.direction == "MT":
            account = self.accounts.get(record.system_id)
            if account is not None and account.data_coding_0 == "latin-1":
                return 0x03
        return record.data_coding

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
            return self.center.accept_p2p(msisdn, recipient, text, now, self.limits.default_validity)
        return self.center.accept_mo(msisdn, to, text, now)


@attrs.frozen
class UssdDelivery:
    """The context of a USSD deliver_sm: live, never queued or resent.

    :ivar cursor: the dialogue's cursor when it was sent: an answer to it speaks for the
        dialogue only while the dialogue has not moved on.
    """

    session: int
    cursor: int


class _DestView:
    """A submit_multi destination seen with the submit's source, for the address checks."""

    def __init__(self, pdu: Any, dest: Any) -> None:
        self.source_addr_ton = pdu.source_addr_ton
        self.source_addr_npi = pdu.source_addr_npi
        self.dest_addr_ton = dest.dest_addr_ton
        self.dest_addr_npi = dest.dest_addr_npi
        self.destination_addr = dest.destination_addr
