"""What a front end's link is to the carrier whatever its protocol: an
:class:`~smsgw.carrier.binding.AppLink` over a session that counts its deliveries in flight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsgw.carrier.binding import Binding


class SessionLink:
    """The :class:`~smsgw.carrier.binding.AppLink` part of a link: room for deliveries, the
    cut of a broken network, the sessions view. ``session`` is the protocol's sans-I/O
    session (``can_deliver``, ``window_free``, ``drop``, ``state``, ``config.window``,
    ``deliveries_in_flight``)."""

    session: Any
    binding: Binding | None
    output_ready: Callable[[], None]

    @property
    def can_deliver(self) -> bool:
        return bool(self.session.can_deliver)

    @property
    def window_free(self) -> int:
        return int(self.session.window_free)

    def drop(self, reason: str) -> None:
        self.session.drop(reason)
        self.output_ready()

    def describe(self) -> dict[str, object]:
        session = self.session
        return {
            "state": session.state.value,
            "window": {"size": session.config.window, "in_flight": session.deliveries_in_flight},
        }

    @property
    def system_id(self) -> str:
        """The bound account's system_id, or ``unbound``, for logs."""
        return self.binding.account.system_id if self.binding is not None else "unbound"
