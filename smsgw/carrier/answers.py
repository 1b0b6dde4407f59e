"""What the carrier answers a request with; a front end encodes it in its own protocol.

A handler returns one of these or raises :class:`~smsgw.carrier.errors.Rejected`.
"""

from __future__ import annotations

import attrs


@attrs.define
class Accepted:
    """The message (or USSD screen) was accepted under this message_id."""

    message_id: str


@attrs.frozen
class FailedDestination:
    """A destination of a multi-destination submit that was refused, and why."""

    ton: int
    npi: int
    address: str
    status: int


@attrs.frozen
class AcceptedSome:
    """A multi-destination submit: the id names every destination accepted ("" if none)."""

    message_id: str
    failed: tuple[FailedDestination, ...]


@attrs.frozen
class QueryAnswer:
    """A submitted message's state.

    :ivar final_at: when it became final (carrier time), None while it is not.
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
    """An injected fault drops the connection instead of answering: nothing was accepted."""

    reason: str


DONE = Done()

Answer = Accepted | AcceptedSome | QueryAnswer | Done | Dropped
