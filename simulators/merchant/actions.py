"""What the merchant core asks its edges to do.

Every input method of :class:`~simulators.merchant.service.Merchant` returns these values in
the order they should be carried out. They are facts about intent, not I/O: the SMPP edge
turns :class:`SendSms`, :class:`PushUssd`, :class:`ShowUssd` and :class:`EndUssd` into
submit_sm PDUs, and the HTTP edge turns :class:`Webhook` into a POST.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

#: The longest USSD screen in GSM 7-bit characters (160 octets, GSM 04.80); UCS2 screens hold 80.
MAX_SCREEN = 182


def _order_id() -> str | None:
    """Which order a USSD screen or an SMS belongs to, or None (a menu screen, a HELP text).

    The edge names it in its logs and on the carrier's timeline and, when the network refuses
    a screen, tells the core which push failed. It labels the action without changing what
    is sent, so actions compare without it.
    """
    return attrs.field(default=None, eq=False, kw_only=True)


#: Values a webhook payload carries (all JSON-serialisable).
PayloadValue = str | int | float | None


def _screen(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    # A screen longer than the air interface allows would be cut by the gateway and lose its
    # options; building one is a bug in the texts, so fail where it is made.
    if not value or len(value) > MAX_SCREEN:
        raise ValueError(f"{attribute.name} must be 1..{MAX_SCREEN} characters, got {len(value)}")


@attrs.frozen
class SendSms:
    """Send an SMS (submit_sm from the merchant's short code) to a handset.

    :ivar msisdn: the handset, E.164 digits without ``+``.
    :ivar text: the whole text; the edge splits it if it is long.
    :ivar order_id: the order it is about (see :func:`_order_id`).
    """

    msisdn: str
    text: str
    order_id: str | None = _order_id()


@attrs.frozen
class PushUssd:
    """Open a network-initiated USSD dialogue: a prompt that expects a reply (USSR request, op 2).

    The answer comes back through :meth:`Merchant.ussd_push_answer`; a refusal or a timeout
    through :meth:`Merchant.ussd_push_failed`.

    :ivar order_id: the order the prompt asks to pay (see :func:`_order_id`).
    """

    msisdn: str
    text: str = attrs.field(validator=_screen)
    order_id: str | None = _order_id()


@attrs.frozen
class ShowUssd:
    """Answer one step of a USSD dialogue.

    :ivar session_key: the key the edge gave for the dialogue (for pushes, the MSISDN unless
        the edge passed its own key).
    :ivar end: False shows the text and waits for input (USSR request, ``CON``); True shows
        it and releases the dialogue (PSSR response, ``END``).
    """

    session_key: str
    text: str = attrs.field(validator=_screen)
    end: bool = False
    order_id: str | None = _order_id()


@attrs.frozen
class EndUssd:
    """End a USSD dialogue with a last screen (PSSR response / USSN with EOS, or ``END``).

    The dialogue may already be gone at the gateway (the user hung up, the gateway timed
    out); the edge then drops this action.
    """

    session_key: str
    text: str = attrs.field(validator=_screen)
    order_id: str | None = _order_id()


@attrs.frozen
class Webhook:
    """POST a JSON payload to the shop's callback URL.

    :ivar payload: ``order_id``, ``status``, ``reason``, ``amount`` (minor units),
        ``currency``, ``msisdn``, ``method``, ``reference`` and ``at`` (the core's clock).
        A dict, so this value compares by content but is not hashable.
    """

    url: str
    payload: Mapping[str, PayloadValue]


#: Any action.
Action = SendSms | PushUssd | ShowUssd | EndUssd | Webhook
