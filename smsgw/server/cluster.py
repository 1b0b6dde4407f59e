"""One node of several on one PostgreSQL database, on the reactor (docs/cluster.md).

:class:`ClusterNode` is the outbox's :class:`~smsgw.carrier.outbox.Peers`: what is owed to an
account with no bind here is released to the database for the nodes bound for it, and a bind
arriving here claims what the others released. Every third of a lease it renews this node's
lease, takes over the pending MTs of nodes whose lease ran out, and claims what is owed to its
bound accounts (which also picks up what a lost node owed them, and any release whose
notification went astray).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from smsgw.carrier.carrier import Carrier
from smsgw.carrier.events import UssdChanged
from smsgw.carrier.faults import FaultRule
from smsgw.carrier.ussd import base_code
from smsgw.server.clockbook import CLOCK, ClockBook
from smsgw.server.flusher import TurnFlusher
from smsgw.store.nodes import CHANGED_CHANNEL, EVENTS_CHANNEL, OWED_CHANNEL, PostgresNodeStore
from smsgw.store.records import DeliveryRecord, MessageRecord
from smsgw.web.events import render_event

log = Logger(namespace="smsgw.cluster")
#: The document kind holding the fault rules put in force through the API (key ``api``).
FAULTS = "carrier.faults"


class ClusterNode:
    """This node's part in the cluster: its lease, its claims, what it hands on."""

    def __init__(
        self,
        store: PostgresNodeStore,
        carrier: Carrier,
        flusher: TurnFlusher,
        reactor: Any,
        clocks: ClockBook,
    ) -> None:
        self.store = store
        self.carrier = carrier
        self.flusher = flusher
        self.clocks = clocks
        self.clock = clocks.clock
        self._ticker = LoopingCall(self.tick)
        self._ticker.clock = reactor
        self._lease_held = True
        self._applying_faults = False
        #: The dialogue (session) last recorded as living here, per phone.
        self._homes: dict[str, int] = {}
        #: Told of an MT another node delivered to a phone (its inbox long polls have news).
        self.on_arrived: Callable[[str], None] = lambda msisdn: None
        #: Told of another node's network event (type, data line), for this node's streams.
        self.on_event: Callable[[str, str], None] = lambda event_type, data: None
        #: This node's events go to the database: some other node has a stream open.
        self._publishing = False
        self._too_large = 0

    def start(self) -> None:
        """Join: take the cluster's clock, hand on and claim from now on, listen, and keep
        the lease."""
        self.clocks.restore()
        self._faults_are(self.store.documents(FAULTS))
        self.carrier.faults.on_change = self._faults_changed
        self.carrier.events.subscribe(self._ussd_changed, UssdChanged)
        self.carrier.outbox.peers = self
        self.store.listen(self._heard)
        self.store.watched(self._publish_events)
        self._ticker.start(self.store.lease / 3, now=True)
        log.info(
            "node {node} joined the cluster (slot {slot}, lease {lease:g} s)",
            node=self.store.node,
            slot=self.store.slot,
            lease=self.store.lease,
        )

    def stop(self) -> None:
        """Stop renewing and claiming (the store's closing ends the listening)."""
        if self._ticker.running:
            self._ticker.stop()

    # -- the outbox's peers ---------------------------------------------------------------

    def release(self, system_id: str, deliveries: list[DeliveryRecord]) -> None:
        """No bind of ``system_id`` here: its deliveries go to the nodes bound for it."""
        self.store.release_owed([delivery.message for delivery in deliveries], system_id)
        log.debug(
            "node {node} hands {count} deliveries for {system_id} to the nodes bound for it",
            node=self.store.node,
            count=len(deliveries),
            system_id=system_id,
        )

    def claim(self, system_id: str) -> None:
        """A bind of ``system_id`` arrived: take what the other nodes released for it (and let
        them know it is bound here, for the USSD of phones that call them)."""
        self.store.claim_owed([system_id], self._adopt_owed)
        self.store.bound_here(self.carrier.outbox.bound_accounts())

    def _heard(self, channel: str, payload: str) -> None:
        if channel == OWED_CHANNEL:
            if payload in self.carrier.outbox.bound_accounts():
                self.claim(payload)
            return
        if channel == EVENTS_CHANNEL:
            node, event_type, data = (payload.split(" ", 2) + ["", ""])[:3]
            if node != self.store.node:
                self.on_event(event_type, data)
            return
        kind, msisdn, node = (payload.split(" ") + ["", "", ""])[:3]
        if channel != CHANGED_CHANNEL or node == self.store.node:
            return  # this node's own change: it knows
        if kind == "arrived":  # a batch: "arrived MSISDN,MSISDN,... NODE"
            for number in msisdn.split(","):
                self.on_arrived(number)
        elif kind == "clock":
            self.store.documents_later(CLOCK, self._clock_moved)
        elif kind == "faults":
            self.store.documents_later(FAULTS, self._faults_are)
        elif kind == "handset":
            self.store.subscriber(msisdn, lambda row: self._reload(msisdn, row))
        elif kind == "watching":
            self.store.watched(self._publish_events)

    # -- event streams across nodes ---------------------------------------------------------

    def watching(self, watching: bool) -> None:
        """The first event stream opened here (True), or the last closed: tell the others."""
        self.store.watch(watching)

    def _publish_events(self, others_watch: bool) -> None:
        if others_watch == self._publishing:
            return
        self._publishing = others_watch
        if others_watch:
            self.carrier.events.subscribe(self._publish)
        else:
            self.carrier.events.unsubscribe(self._publish)

    def _publish(self, event: Any) -> None:
        event_type, data = render_event(event, self.clock.now(), node=self.store.node)
        if self.store.tell_event(event_type, data):
            self.flusher.mark(lazy=True)  # sent with this turn's commit
            return
        self._too_large += 1
        if self._too_large in (1, 10, 100) or self._too_large % 1000 == 0:
            log.warn(
                "node {node}: {count} events too large for a notification were not shown on the other nodes",
                node=self.store.node,
                count=self._too_large,
            )

    # -- USSD: where a phone's dialogue lives -----------------------------------------------

    def publish(self, http_url: str) -> None:
        """Tell the other nodes where this node's API answers (they pass USSD calls on to it)."""
        self.store.publish(http_url)
        log.info("node {node} answers the other nodes at {url}", node=self.store.node, url=http_url)

    def dialogue_node(self, msisdn: str) -> defer.Deferred[str | None]:
        """The other node holding the phone's latest dialogue (None: it is here, or none is)."""
        if self._homes.get(msisdn) is not None and self.carrier.ussd.busy(msisdn):
            return defer.succeed(None)  # open here
        found: defer.Deferred[str | None] = defer.Deferred()
        self.store.ussd_home_of(msisdn, found.callback)
        return found

    def app_node(self, dialled: str) -> defer.Deferred[str | None]:
        """The other node bound for the application ``dialled`` reaches, when no bind here takes
        it (None: it is here, it is an HTTP application, or no node has it)."""
        parsed = base_code(dialled.strip())
        route = self.carrier.ussd.routes.get(parsed[0]) if parsed is not None else None
        if route is None or route.system_id is None or self.carrier.outbox.binds(route.system_id):
            return defer.succeed(None)
        found: defer.Deferred[str | None] = defer.Deferred()
        self.store.node_bound_for(route.system_id, found.callback)
        return found

    def _ussd_changed(self, event: UssdChanged) -> None:
        if self._homes.get(event.msisdn) != event.session:
            self._homes[event.msisdn] = event.session
            self.store.ussd_home_here(event.msisdn)

    # -- the clock ----------------------------------------------------------------------------

    def clock_advanced(self, namespace: str) -> None:
        """A clock was advanced here (``POST /api/clock``; the :class:`ClockBook` has kept it):
        the others follow."""
        self.store.tell("clock")
        self.flusher.mark()

    def _clock_moved(self, documents: list[tuple[str, Any]]) -> None:
        if self.clocks.follow(documents):
            self.carrier.clock_moved()  # what fell due by the new time happens here too
            self.flusher.mark()
            log.info(
                "node {node} follows the cluster's clock: {offset:g} s ahead",
                node=self.store.node,
                offset=self.clock.offset,
            )

    # -- fault rules -----------------------------------------------------------------------

    def _faults_changed(self) -> None:
        """A rule was put in force or taken out here: the API's rules are told to the others."""
        if self._applying_faults:
            return
        rules = [rule.as_mapping() for rule in self.carrier.faults.rules if rule.source == "api"]
        self.store.put_document(FAULTS, "api", rules)
        self.store.tell("faults")
        self.flusher.mark()

    def _faults_are(self, documents: list[tuple[str, Any]]) -> None:
        """Put the cluster's API rules in force here, in place of this node's."""
        faults = self.carrier.faults
        country_code = self.carrier.subscribers.country_code
        self._applying_faults = True
        try:
            faults.remove_from("api")
            for mapping in dict(documents).get("api", []):
                given = {key: value for key, value in mapping.items() if value is not None}
                faults.add(FaultRule.from_mapping(given, source="api", country_code=country_code))
        finally:
            self._applying_faults = False

    def _reload(self, msisdn: str, row: tuple[str, str, str, int, str] | None) -> None:
        self.carrier.handsets.reload(msisdn, row)
        self.flusher.mark()

    # -- every third of a lease -------------------------------------------------------------

    def tick(self) -> None:
        """Renew the lease, take over lost nodes' pending MTs, claim what bound accounts are owed."""
        store = self.store
        store.renew_lease(self._renewed)
        store.watched(self._publish_events)  # a watching node that was lost stops counting
        store.take_over(self._adopt_pending)
        accounts = self.carrier.outbox.bound_accounts()
        store.bound_here(accounts)
        if accounts:
            store.claim_owed(accounts, self._adopt_owed)

    def _renewed(self, held: bool) -> None:
        if held != self._lease_held:
            if held:
                log.info("node {node} holds its lease again", node=self.store.node)
            else:
                log.warn(
                    "node {node} could not renew its lease in time: the other nodes may take its work",
                    node=self.store.node,
                )
        self._lease_held = held

    def _adopt_owed(self, records: list[MessageRecord]) -> None:
        if records:
            self.carrier.adopt(owed=records)
            self.flusher.mark()
            log.info(
                "node {node} took {count} receipts and MO owed to {accounts}",
                node=self.store.node,
                count=len(records),
                accounts=", ".join(sorted({r.system_id for r in records})),
            )

    def _adopt_pending(self, records: list[MessageRecord]) -> None:
        if records:
            self.carrier.adopt(
                pending=records, owed=[record for record in records if record.report is not None]
            )
            self.flusher.mark()
            log.info(
                "node {node} took over {count} pending messages of lost nodes",
                node=self.store.node,
                count=len(records),
            )
