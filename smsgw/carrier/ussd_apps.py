"""USSD between the gateway and the applications: screens from ESMEs, screens to them.

The :class:`~smsgw.carrier.ussd.UssdGateway` keeps the dialogues; this module is its link to
the applications on the other side: a screen an ESME submits (an answer in a dialogue, or a
push to an idle phone), a screen the gateway sends an ESME (live: never queued or resent;
the front end writes it in the account's USSD dialect), and HTTP applications reached through the edge's client.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.answers import Accepted
from smsgw.carrier.binding import Binding
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clock
from smsgw.carrier.encoding import UssdScreenOut
from smsgw.carrier.errors import Rejected
from smsgw.carrier.events import EventBus, UssdChanged
from smsgw.carrier.outbox import Outbox
from smsgw.carrier.requests import UssdScreenIn
from smsgw.carrier.subscribers import Subscriber, SubscriberRegistry
from smsgw.carrier.timeline import Recorded, Timeline
from smsgw.carrier.ussd import Dialogue, UssdGateway, shown_input
from smsgw.smpp.constants import UssdServiceOp


@attrs.frozen
class UssdDelivery:
    """The context of a USSD deliver_sm: live, never queued or resent.

    :ivar cursor: the dialogue's cursor when it was sent: an answer to it speaks for the
        dialogue only while the dialogue has not moved on.
    :ivar msisdn: the handset; ``namespace`` its namespace, when the timeline records it
        (None: it does not, and the answer is not recorded either).
    """

    session: int
    cursor: int
    msisdn: str = ""
    namespace: str | None = None


class UssdApps:
    """The USSD gateway's applications: ESMEs over the carrier's binds, and HTTP ones.

    :param timeline: where the screens of handsets it records are recorded as they go to and
        come from ESMEs (nothing is, by default).
    """

    def __init__(
        self,
        accounts: AccountRegistry,
        subscribers: SubscriberRegistry,
        center: MessageCenter,
        outbox: Outbox,
        events: EventBus,
        clock: Clock,
        namespace_of: Callable[[str], str],
        timeline: Timeline | None = None,
    ) -> None:
        self.accounts = accounts
        self.timeline = timeline or Timeline()
        self.subscribers = subscribers
        self.center = center
        self.outbox = outbox
        self.events = events
        self.clock = clock
        #: The time the links' sessions keep (the carrier sets it): a screen's response deadline.
        self.link_clock: Callable[[], float] = clock.now
        self.namespace_of = namespace_of
        #: The gateway these applications serve (set once it is built: each needs the other).
        self.gateway: UssdGateway
        #: Posts to HTTP USSD applications (set by the edge that can make HTTP requests).
        self.post_to_http_app: Callable[[Dialogue, str], None] | None = None

    def from_esme(self, binding: Binding, screen: UssdScreenIn, now: float) -> Accepted:
        """A USSD screen from an ESME: for an open dialogue, or a push to an idle handset.

        For a handset the timeline records, what the gateway records meanwhile is held and
        handed back with the answer (or the refusal), for the front end to record after the
        submit and its response.
        """
        subscriber = self.subscribers.resolve(screen.destination.address)
        timeline = self.timeline
        if not timeline.wants(subscriber.namespace):
            return self._from_esme(binding, screen, subscriber, now)[0]
        handsets = ((subscriber.namespace, subscriber.msisdn),)
        outer = timeline.hold()
        try:
            accepted, dialogue = self._from_esme(binding, screen, subscriber, now)
        except Rejected as refusal:
            refusal.recorded = Recorded(handsets, timeline.release(outer))
            raise
        except BaseException:
            timeline.add(timeline.release(outer))
            raise
        accepted.recorded = Recorded(handsets, timeline.release(outer), dialogue.session)
        return accepted

    def _from_esme(
        self, binding: Binding, screen: UssdScreenIn, subscriber: Subscriber, now: float
    ) -> tuple[Accepted, Dialogue]:
        account = binding.account
        dialogue = self.gateway.from_esme(
            account.system_id,
            subscriber,
            screen.op,
            screen.session_info,
            screen.text,
            now,
            screen.source_addr,
        )
        if dialogue.origin == "network" and not dialogue.code:
            dialogue.code = screen.source_addr  # answers go back to the pushing ESME's address
        # The dialogue goes on with the bind that showed this screen: another bind of the
        # account (another test, another instance of the app) has no part in it.
        dialogue.via = binding.session_id
        return Accepted(self.center.reserve_id(account)), dialogue

    def send_to_esme(self, system_id: str, dialogue: Dialogue, op: int, text: str, end: bool) -> bool:
        """Deliver a USSD screen event to one of the account's receivers, live (never queued)."""
        screen = UssdScreenOut(dialogue.msisdn, dialogue.code, op, text, dialogue.its_session_info, end)
        account = self.accounts.get(system_id)
        encoder = self.center.encoder_for(account)
        pdu = encoder.ussd(screen, account)
        namespace = self.namespace_of(dialogue.msisdn)
        recorded = namespace if self.timeline.wants(namespace) else None
        context = UssdDelivery(dialogue.session, dialogue.cursor, dialogue.msisdn, recorded)
        sent = self.outbox.send_now(
            system_id, pdu, self.link_clock(), context, namespace=namespace, prefer=dialogue.via
        )
        if sent is None:
            return False
        if recorded is not None:
            # What the user typed at a PIN prompt goes to the application in clear; the
            # timeline keeps it as the screen showed it (masked), in the PDU's octets too.
            prompt = dialogue.screen
            shown = shown_input(prompt.text if prompt is not None else None, text)
            if op == UssdServiceOp.USSR_CONFIRM and shown != text:
                pdu = encoder.ussd(attrs.evolve(screen, text=shown), account)
            link, sequence = sent
            kind, raw, detail = link.as_sent(pdu, sequence)
            detail["delivery"] = "ussd"
            self.timeline.record(
                kind, recorded, dialogue.msisdn, system_id=system_id, session=dialogue.session,
                detail=detail, pdu=raw,
            )  # fmt: skip
        return True

    def post_to_http(self, dialogue: Dialogue, text: str) -> None:
        """Call an HTTP USSD application through the edge's HTTP client."""
        if self.post_to_http_app is None:
            self.gateway.app_failed(
                dialogue.session, "no HTTP client for USSD applications", self.clock.now()
            )
        else:
            self.post_to_http_app(dialogue, text)

    def changed(self, dialogue: Dialogue) -> None:
        """Announce a dialogue's new screen or end."""
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
