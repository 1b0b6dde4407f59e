"""USSD as the handset's user works it: dial a string, answer a prompt, press cancel.

The :class:`~smsgw.carrier.ussd.UssdGateway` keeps the dialogues and talks to the
applications; this is its other side, the phone's keypad and screen, with the carrier's
clock.
"""

from __future__ import annotations

from smsgw.carrier.clock import Clock
from smsgw.carrier.errors import UnknownSubscriber
from smsgw.carrier.subscribers import SubscriberRegistry
from smsgw.carrier.ussd import Dialogue, UssdGateway


class HandsetUssd:
    """A handset's USSD keypad and screen."""

    def __init__(self, subscribers: SubscriberRegistry, gateway: UssdGateway, clock: Clock) -> None:
        self.subscribers = subscribers
        self.gateway = gateway
        self.clock = clock

    def screen(self, msisdn: str) -> Dialogue | None:
        """The handset's open dialogue, or else its last one; None if it never had one."""
        return self.gateway.current(msisdn)

    def dial(self, msisdn: str, dialled: str) -> Dialogue:
        """The handset dials a USSD string.

        :raises UnknownSubscriber: for a number that is no subscriber.
        :raises Rejected: saying why the dialogue cannot start.
        """
        subscriber = self.subscribers.find(msisdn)
        if subscriber is None:
            raise UnknownSubscriber(f"{msisdn} is not a subscriber")
        return self.gateway.dial(subscriber, dialled, self.clock.now())

    def reply(self, msisdn: str, text: str, *, session: int | None = None) -> Dialogue:
        """The user answers the prompt on the screen.

        :param session: the dialogue the answer is meant for (None: whichever shows).
        :raises DialogueChanged: ``session`` is no longer the dialogue shown.
        :raises Rejected: no prompt is waiting for an answer.
        """
        return self.gateway.reply(msisdn, text, self.clock.now(), session=session)

    def cancel(self, msisdn: str, *, session: int | None = None) -> Dialogue:
        """The user presses cancel.

        :param session: the dialogue meant (None: whichever shows).
        :raises DialogueChanged: ``session`` is no longer the dialogue shown.
        :raises Rejected: no dialogue is open.
        """
        return self.gateway.cancel(msisdn, self.clock.now(), session=session)
