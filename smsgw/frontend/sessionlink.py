"""What a front end's link is to the carrier whatever its protocol: an
:class:`~smsgw.carrier.binding.AppLink` over a session that counts its deliveries in flight."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from smsgw.carrier.answers import Answer, Later
from smsgw.carrier.binding import Binding
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.frontend.later import ReadLater


class SessionLink:
    """The :class:`~smsgw.carrier.binding.AppLink` part of a link: room for deliveries, the
    cut of a broken network, the sessions view. ``session`` is the protocol's sans-I/O
    session (``can_deliver``, ``window_free``, ``drop``, ``state``, ``config.window``,
    ``deliveries_in_flight``)."""

    def __init__(
        self,
        carrier: Carrier,
        session: Any,
        session_id: int,
        peer: str,
        output_ready: Callable[[], None],
        read_later: ReadLater,
    ) -> None:
        self.carrier = carrier
        self.session = session
        self.session_id = session_id
        self.peer = peer
        self.output_ready = output_ready
        self.read_later = read_later
        #: Where requests and deliveries of handsets it records go (read on hot paths).
        self.timeline = carrier.timeline
        #: The connection is gone: an answer that comes later has nobody to go to.
        self.gone = False
        #: The carrier's record of this bind, once it is accepted.
        self.binding: Binding | None = None
        #: The carrier's admission of this bind's submits, set once it is bound.
        self._admit: Callable[[float], None]
        # The outbox sends through this on its hot path: the session's own method, no wrapper.
        self.deliver: Callable[[bytes, float, object], object] = session.send_encoded

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

    # -- answers that wait for a store read ----------------------------------------------

    def answer_later(
        self, later: Later, respond: Callable[[Answer], None], refuse: Callable[[Rejected], None]
    ) -> None:
        """Have ``later``'s read run where waiting holds up no connection, then ``respond``
        with its answer (or ``refuse`` it: a refusal found then, or a read that failed).
        Other requests may be answered meanwhile, as both protocols allow."""
        self.read_later(
            later.read,
            functools.partial(self._read_done, later, respond, refuse),
            functools.partial(self._read_failed, refuse),
        )

    def _read_done(
        self, later: Later, respond: Callable[[Answer], None], refuse: Callable[[Rejected], None], result: Any
    ) -> None:
        if self.gone:
            return
        try:
            answer = later.answer(result)
        except Rejected as rejected:
            refuse(rejected)
        else:
            respond(answer)
        self.output_ready()

    def _read_failed(self, refuse: Callable[[Rejected], None], error: BaseException) -> None:
        """The store could not be read: the request fails, and the session carries on."""
        if self.gone:
            return
        refuse(Rejected(Refusal.SYSTEM_ERROR, f"the store could not be read: {error}"))
        self.output_ready()
