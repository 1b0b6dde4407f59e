"""What the UI thread hears: key presses, inbox and USSD news, reachability, finished requests, resizes.

Every other thread talks to the UI thread only by posting these immutable values to one queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.handset import Handset, Sms, SmsgwError
from simulators.ussd_screen import UssdScreen

# -- events for the UI thread --------------------------------------------------------------


@dataclass(frozen=True)
class KeyPressed:
    """A key: one character, or a name such as ``enter``, ``esc``, ``up``, ``ctrl-c``."""

    key: str


@dataclass(frozen=True)
class Pasted:
    """Text pasted in one go (bracketed paste), newlines included."""

    text: str


@dataclass(frozen=True)
class InboxArrived:
    """Inbox messages from the server; ``live`` when they may be new to the user.

    :ivar known: for a whole-inbox answer, the messages shown when it was asked for; those
        it lacks are gone (the inbox was cleared). Messages that came later are kept.
    """

    messages: tuple[Sms, ...]
    live: bool
    known: frozenset[int] = frozenset()


@dataclass(frozen=True)
class UssdUpdated:
    """The USSD dialogue as the server last answered (a poll, or a dial/reply/cancel request).

    :ivar initial: the first answer after start-up: a dialogue that already ended is history.
    """

    dialogue: UssdScreen
    initial: bool = False


@dataclass(frozen=True)
class Reachability:
    """Whether the API answers; ``reason`` says why not."""

    online: bool
    reason: str = ""


@dataclass(frozen=True)
class HandsetChanged:
    """The handset's name or state as the server now says."""

    handset: Handset


@dataclass(frozen=True)
class ActionDone:
    """A background request ended; the UI thread calls ``callback(result, error)``."""

    callback: Callable[[Any, SmsgwError | None], None]
    result: Any
    error: SmsgwError | None


@dataclass(frozen=True)
class Resized:
    """The terminal changed size."""


Event = (
    KeyPressed | Pasted | InboxArrived | UssdUpdated | Reachability | HandsetChanged | ActionDone | Resized
)
Post = Callable[[Event], None]
