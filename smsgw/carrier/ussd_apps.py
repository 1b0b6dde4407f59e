"""USSD between the gateway and the applications: screens from ESMEs, screens to them.

The :class:`~smsgw.carrier.ussd.UssdGateway` keeps the dialogues; this module is its link to
the applications on the other side: a screen an ESME submits (an answer in a dialogue, or a
push to an idle phone), a screen the gateway sends an ESME in its account's USSD dialect
(live: never queued or resent), and HTTP applications reached through the edge's client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from smsgw.carrier.accounts import Account, AccountRegistry
from smsgw.carrier.answers import Accepted
from smsgw.carrier.binding import Binding
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clock
from smsgw.carrier.errors import UnknownSubscriber
from smsgw.carrier.events import EventBus, UssdChanged
from smsgw.carrier.outbox import Outbox
from smsgw.carrier.subscribers import SubscriberRegistry
from smsgw.carrier.ussd import ABORT_OP, EOS, Dialogue, UssdGateway
from smsgw.carrier.validation import check_addresses
from smsgw.smpp import codec
from smsgw.smpp.constants import Npi, Ton, UssdServiceOp
from smsgw.smpp.sm import DeliverSm
from smsgw.text.coding import decode_text, encode_text

#: The USSD dialect of a dialogue whose account is gone from the config (the defaults).
_DEFAULT_USSD_PROFILE = Account(system_id="", password="")


@attrs.frozen
class UssdDelivery:
    """The context of a USSD deliver_sm: live, never queued or resent.

    :ivar cursor: the dialogue's cursor when it was sent: an answer to it speaks for the
        dialogue only while the dialogue has not moved on.
    """

    session: int
    cursor: int


class UssdApps:
    """The USSD gateway's applications: ESMEs over the carrier's binds, and HTTP ones."""

    def __init__(
        self,
        accounts: AccountRegistry,
        subscribers: SubscriberRegistry,
        center: MessageCenter,
        outbox: Outbox,
        events: EventBus,
        clock: Clock,
        namespace_of: Callable[[str], str],
    ) -> None:
        self.accounts = accounts
        self.subscribers = subscribers
        self.center = center
        self.outbox = outbox
        self.events = events
        self.clock = clock
        self.namespace_of = namespace_of
        #: The gateway these applications serve (set once it is built: each needs the other).
        self.gateway: UssdGateway
        #: Posts to HTTP USSD applications (set by the edge that can make HTTP requests).
        self.post_to_http_app: Callable[[Dialogue, str], None] | None = None

    def from_esme(self, binding: Binding, pdu: Any, now: float) -> Accepted:
        """A USSD screen from an ESME: for an open dialogue, or a push to an idle handset."""
        check_addresses(pdu)
        account = binding.account
        subscriber = self.subscribers.resolve(pdu.destination_addr)
        body = pdu.message_payload if pdu.message_payload is not None else pdu.short_message
        # 0x0F (the CBS DCS some gateways pass on) always means GSM; 0 as the account reads it.
        text = decode_text(body, pdu.data_coding, default_alphabet=account.data_coding_0)
        session_info = pdu.its_session_info
        if account.ussd_session == "user_message_reference" and pdu.user_message_reference is not None:
            # The reference names the dialogue only; its low bit is no end-of-session flag.
            session_info = pdu.user_message_reference & ~EOS
        dialogue = self.gateway.from_esme(
            account.system_id, subscriber, pdu.ussd_service_op, session_info, text, now, pdu.source_addr
        )
        if dialogue.origin == "network" and not dialogue.code:
            dialogue.code = pdu.source_addr  # answers go back to the pushing ESME's address
        # The dialogue goes on with the bind that showed this screen: another bind of the
        # account (another test, another instance of the app) has no part in it.
        dialogue.via = binding.session_id
        return Accepted(self.center.reserve_id(account))

    def send_to_esme(self, system_id: str, dialogue: Dialogue, op: int, text: str, end: bool) -> bool:
        """Deliver a USSD screen event to one of the account's receivers, in its dialect."""
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
        namespace = self.namespace_of(dialogue.msisdn)
        return self.outbox.send_now(
            system_id, pdu, self.clock.now(), context, namespace=namespace, prefer=dialogue.via
        )

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

    def dial(self, msisdn: str, dialled: str) -> Dialogue:
        """A handset dials a USSD string.

        :raises Rejected: saying why the dialogue cannot start.
        """
        subscriber = self.subscribers.find(msisdn)
        if subscriber is None:
            raise UnknownSubscriber(f"{msisdn} is not a subscriber")
        return self.gateway.dial(subscriber, dialled, self.clock.now())
