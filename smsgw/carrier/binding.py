"""A bound application as the carrier keeps it, and the link the carrier reaches it through.

A front end (the SMPP server today) authenticates a bind through the carrier, which answers
with a :class:`Binding`: the carrier's record of who is bound, kept on the carrier's side and
never written onto the front end's connection object; the binding holds the connection as
an :class:`AppLink`, through which the carrier hands it deliveries already encoded and
learns whether it has room (and, for the timeline, how a delivery went out), and nothing else.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from smsgw.carrier.accounts import Account


@attrs.define(eq=False)
class Binding:
    """One bound session of an account.

    :ivar mode: how it is bound, in the front end's words (``transmitter``, ``receiver``,
        ``transceiver``), for views and metrics.
    :ivar receives: whether deliveries (receipts, MO, USSD) may be sent on it.
    :ivar namespace: the namespace whose handsets' deliveries it takes ("" takes what no
        other bind of the account claims).
    :ivar bound_at: when it bound, on the carrier's clock.
    :ivar link: the connection deliveries go out on.
    """

    session_id: int
    account: Account
    mode: str
    receives: bool
    peer: str
    namespace: str
    bound_at: float
    link: AppLink

    @property
    def system_id(self) -> str:
        return self.account.system_id


class AppLink(Protocol):
    """A bound application's connection, as the carrier sees it."""

    @property
    def can_deliver(self) -> bool:
        """Whether a delivery may be sent now (bound to receive, not paused, not closing)."""

    @property
    def window_free(self) -> int:
        """How many more deliveries may be outstanding before the window is full."""

    def deliver(self, pdu: bytes, now: float, context: object) -> object:
        """Send one encoded delivery; ``context`` comes back with its answer or timeout.
        Returns what the link numbered it (its protocol's sequence number)."""

    def as_sent(self, pdu: bytes, sequence: object) -> tuple[str, bytes, dict[str, object]]:
        """A delivery that :meth:`deliver` numbered ``sequence``, as the timeline records it:
        its kind (``smpp.deliver_sm``), its octets as they went out on this connection, and
        what else the protocol says of it (the sequence number, the connection)."""

    def output_ready(self) -> None:
        """Deliveries were queued on it: have them written at the end of the turn."""

    def drop(self, reason: str) -> None:
        """Cut the connection as a broken network would (what was answered still goes out)."""

    def describe(self) -> dict[str, object]:
        """The session's protocol state and window, for the sessions view."""
