"""Why the carrier refuses something, in no protocol's vocabulary.

A refusal is a :class:`Refusal` and a sentence; each front end answers it with its own
protocol's status (SMPP's table is :mod:`smsgw.frontend.smpp.statuses`).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations: timeline.py imports this module (through subscribers.py)
    from smsgw.carrier.timeline import Recorded


class Refusal(enum.Enum):
    """Why a bind or a request is refused."""

    UNKNOWN_ACCOUNT = enum.auto()
    BAD_CREDENTIALS = enum.auto()
    #: The account may not bind in that mode (transmitter, receiver, transceiver).
    BIND_NOT_ALLOWED = enum.auto()
    #: The account has max_binds sessions bound already.
    TOO_MANY_BINDS = enum.auto()
    #: Too many failed binds from the host for that system_id (the failed-binds guard).
    LOCKED_OUT = enum.auto()
    #: The bind's address_range says ``ns:`` but names no valid namespace.
    BAD_NAMESPACE = enum.auto()
    #: The account speaks another protocol than the one it binds with.
    WRONG_PROTOCOL = enum.auto()
    #: The server holds as many connections as it may (in all, or from the peer's host).
    TOO_MANY_CONNECTIONS = enum.auto()
    THROTTLED = enum.auto()
    QUEUE_FULL = enum.auto()
    #: Not a phone number or not a subscriber, or a short code or USSD code nobody answers.
    UNKNOWN_DESTINATION = enum.auto()
    #: A handset to be provisioned is provisioned already.
    HANDSET_EXISTS = enum.auto()
    #: No message of the account has that id and source (or destination).
    NO_SUCH_MESSAGE = enum.auto()
    #: The message is final: nothing is left to cancel or replace.
    NOT_PENDING = enum.auto()
    #: A USSD dialogue cannot start or go on (handset busy, no prompt, dialogue over).
    USSD_REFUSED = enum.auto()
    #: An answer or a cancel named a USSD dialogue that is no longer the one on the screen.
    DIALOGUE_CHANGED = enum.auto()
    #: A USSD push to a handset that is off or, by an injected fault, out of reach.
    HANDSET_UNREACHABLE = enum.auto()
    #: A fault rule's ``refuse_submit``; the rule chose the status.
    INJECTED = enum.auto()
    SYSTEM_ERROR = enum.auto()
    #: A field failed the front end's own check; the front end chose the status.
    BAD_FIELD = enum.auto()


class Rejected(Exception):
    """The carrier (or a front end's check) refuses a request.

    :param refusal: why, as every front end maps it.
    :param reason: a sentence for logs and the API, naming the offending value.
    :param status: the protocol status to answer with, only where it was chosen outside the
        carrier's vocabulary (a front end's field check, a fault rule's ``refuse_submit``);
        None lets the front end map ``refusal``.

    :ivar recorded: set by the carrier when it refused a request for a handset the timeline
        records, with what it recorded meanwhile (the front end records the request and its
        refusal first); None for any other.
    """

    def __init__(self, refusal: Refusal, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason
        self.status = status
        self.recorded: Recorded | None = None

    def __str__(self) -> str:
        return f"{self.reason} ({self.refusal.name.lower()})"


class BindRefused(Rejected):
    """A bind is refused: unknown system_id, wrong password, a bind type not allowed, too
    many binds or failed binds, or a bad namespace."""


class Throttled(Rejected):
    """The account submits faster than its configured throughput."""

    def __init__(self, reason: str) -> None:
        super().__init__(Refusal.THROTTLED, reason)


class QueueFull(Rejected):
    """Too many of the account's messages are waiting; the ESME should slow down."""

    def __init__(self, reason: str) -> None:
        super().__init__(Refusal.QUEUE_FULL, reason)


class UnknownSubscriber(Rejected):
    """The destination is not a subscriber of this network (strict provisioning)."""

    def __init__(self, reason: str) -> None:
        super().__init__(Refusal.UNKNOWN_DESTINATION, reason)


class DialogueChanged(Rejected):
    """An answer or a cancel named a USSD dialogue that is no longer the one on the screen."""

    def __init__(self, reason: str) -> None:
        super().__init__(Refusal.DIALOGUE_CHANGED, reason)
