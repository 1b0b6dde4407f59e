"""What the carrier answers a request with; a front end encodes it in its own protocol.

A handler returns one of these or raises :class:`~smsgw.carrier.errors.Rejected`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from smsgw.carrier.errors import Rejected
from smsgw.carrier.timeline import Recorded


@attrs.define
class Accepted:
    """The message (or USSD screen) was accepted under this message_id.

    :ivar recorded: set when the timeline records its handset (else None, and the front end
        reads only that): the front end records the request and its response, then the
        steps the carrier held.
    """

    message_id: str
    recorded: Recorded | None = None


@attrs.frozen
class FailedDestination:
    """A destination of a multi-destination submit that was refused, and why (the front end
    answers it with its protocol's status)."""

    ton: int
    npi: int
    address: str
    rejected: Rejected


@attrs.frozen
class AcceptedSome:
    """A multi-destination submit: the id names every destination accepted ("" if none).

    :ivar recorded: the destinations the timeline records, if any (see :class:`Accepted`).
    """

    message_id: str
    failed: tuple[FailedDestination, ...]
    recorded: Recorded | None = None


@attrs.frozen
class QueryAnswer:
    """A submitted message's state.

    :ivar final_at: when it became final (carrier time), None while it is not.
    :ivar error_code: the network error code of a failed message (a receipt's ``err``, 0-999);
        a front end cuts it to what its protocol holds.
    """

    message_id: str
    final_at: float | None
    message_state: int
    error_code: int


@attrs.frozen
class Done:
    """The request was carried out; nothing more to say."""


@attrs.frozen
class Dropped:
    """An injected fault drops the connection instead of answering: nothing was accepted.

    :ivar recorded: set when the timeline records the handset (see :class:`Accepted`): the
        front end records the request, unanswered, then the fault.
    """

    reason: str
    recorded: Recorded | None = None


@attrs.frozen
class Later:
    """The answer needs a read of a store that waits on a database server, which must not
    hold up the thread serving every connection. The front end runs ``read`` elsewhere, then
    ``answer(read's result)`` back on the serving thread: that gives the answer (another
    Later when the read must be done again) or raises :class:`~smsgw.carrier.errors.Rejected`."""

    read: Callable[[], Any]
    answer: Callable[[Any], Answer]


DONE = Done()


@attrs.frozen
class TrafficAnswer:
    """An account's messages in a span, by what became of them.

    :ivar mt_messages: MT the account submitted; ``mt_users`` the numbers they went to.
    :ivar mt_delivered: MT that reached their handset; ``mt_waiting`` those not yet final;
        ``mt_failed`` the rest (expired, undeliverable, rejected, deleted).
    :ivar mo_delivered: MO the account took; ``mo_waiting`` those still owed to it;
        ``mo_failed`` those it never took (refused or expired).
    """

    mt_messages: int
    mt_users: int
    mt_delivered: int
    mt_waiting: int
    mt_failed: int
    mo_delivered: int
    mo_waiting: int
    mo_failed: int


Answer = Accepted | AcceptedSome | QueryAnswer | TrafficAnswer | Done | Dropped | Later
