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
class Refused:
    """A request was refused with an SMPP status (the reason names the value)."""

    system_id: str
    command: str
    status: str
    reason: str


Listener = Callable[[Any], None]


class EventBus:
    """Hands every event to every listener; emitting costs nothing when nobody listens."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Follow every later event."""
        self.listeners.append(listener)

    def emit(self, event: Any) -> None:
        """Give an event to the listeners."""
        for listener in self.listeners:
            listener(event)
