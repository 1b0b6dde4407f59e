"""What happens on the network, as facts other parts (API, console, tests) can follow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class Bound:
    """An ESME bound."""

    session_id: int
    system_id: str
    bind_type: str
    peer: str
    #: The namespace it declared (address_range ``ns:NAME``), or None.
    namespace: str | None = None


@attrs.frozen
class Unbound:
    """An ESME's session ended."""

    session_id: int
    system_id: str
    reason: str


@attrs.frozen
class MessageAccepted:
    """A message was accepted (MT from an ESME, MO from a handset)."""

    message_id: str
    system_id: str
    direction: str
    msisdn: str


@attrs.frozen
class MessageStateChanged:
    """A message reached a new state (delivered, expired, deleted, ...)."""

    message_id: str
    system_id: str
    direction: str
    msisdn: str
    state: str


@attrs.frozen
class DeliveryDone:
    """A receipt or an MO reached its end at the ESME: accepted, refused or expired."""

    message_id: str
    system_id: str
    kind: str
    state: str
    outcome: str
    msisdn: str = ""


@attrs.frozen
class HandsetChanged:
    """A handset was provisioned, changed (state, name) or removed."""

    msisdn: str
    name: str
    state: str
    removed: bool = False


@attrs.frozen
class UssdChanged:
    """A USSD dialogue opened, showed a screen, or ended."""

    msisdn: str
    session: int
    origin: str
    state: str
    screen: str | None
    expects_reply: bool
    end_reason: str | None


@attrs.frozen
class Refused:
    """A request or bind was refused (the reason names the value).

    :ivar status: the status it was answered with, as the front end's protocol names it
        (``ESME_RINVPASWD``).
    """

    session_id: int | None
    system_id: str
    command: str
    status: str
    reason: str


@attrs.frozen
class FaultInjected:
    """A fault rule fired (so a test can tell an injected failure from a bug).

    :ivar message_id: the message it struck; empty where none was accepted (a refused or
        dropped submit, a USSD dialogue).
    """

    rule: str
    effect: str
    system_id: str
    msisdn: str
    detail: str
    message_id: str = ""


Listener = Callable[[Any], None]


class EventBus:
    """Hands events to the listeners that asked for their type.

    Emitting is guarded by :meth:`wants`, so an event nobody follows is never even built:
    the hot path pays nothing for the console and log listeners it does not have. The hot path
    reads :attr:`followed` and :attr:`wanted` itself (``events.followed or X in events.wanted``):
    two attribute reads, not a call, per message.

    :ivar followed: whether anyone follows every event (an /api/events client, such as the console).
    :ivar wanted: the event types someone follows by type.
    """

    def __init__(self) -> None:
        self._every: list[Listener] = []
        self._by_type: dict[type, list[Listener]] = {}
        self.followed = False
        self.wanted: frozenset[type] = frozenset()

    def _listeners_changed(self) -> None:
        self.followed = bool(self._every)
        self.wanted = frozenset(self._by_type)

    def subscribe(self, listener: Listener, *types: type) -> None:
        """Follow the events of the given types (every event when none are given)."""
        if not types:
            self._every.append(listener)
        for event_type in types:
            self._by_type.setdefault(event_type, []).append(listener)
        self._listeners_changed()

    def unsubscribe(self, listener: Listener, *types: type) -> None:
        """Stop following (the same types as given to :meth:`subscribe`)."""
        if not types and listener in self._every:
            self._every.remove(listener)
        for event_type in types:
            listeners = self._by_type.get(event_type, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._by_type.pop(event_type, None)
        self._listeners_changed()

    def wants(self, event_type: type) -> bool:
        """Whether anyone follows events of this type."""
        return self.followed or event_type in self.wanted

    def emit(self, event: Any) -> None:
        """Give an event to the listeners that follow it."""
        for listener in self._every:
            listener(event)
        for listener in self._by_type.get(type(event), ()):
            listener(event)
