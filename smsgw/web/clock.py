"""``/api/clock``: read and move the carrier's time, or a namespace's, so expiries run in
milliseconds.

Only the carrier's notion of time moves (validity periods, scheduled delivery, retries,
USSD timeouts, receipt dates); SMPP session timers keep real time, so binds survive a jump.
A namespace's clock moves only what belongs to its handsets (see
:class:`~smsgw.carrier.clock.Clocks`), so tests that each work in their own namespace can
travel in time at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.web import server

from smsgw.carrier.clock import AdvancingClock, Clocks
from smsgw.carrier.subscribers import NAMESPACE_PATTERN, NAMESPACE_RULE
from smsgw.web.api import ApiError, Route, json_body, query
from smsgw.web.render import iso

#: The largest single jump: a year, well past any SMPP validity period.
MAX_ADVANCE = 366 * 86400.0


class ClockRoutes:
    """``GET /api/clock`` and ``POST /api/clock`` ``{"advance_seconds": N, "namespace": NAME}``.

    :param advance: moves a namespace's clock (the carrier's for ``""``) and runs the
        carrier's timers (what fell due by the new time happens; the answer waits until that
        is durable and sent, see :class:`~smsgw.web.api.Api`).
    :param clock: the carrier's clock.
    :ivar on_advance: what else must catch up before the answer, told the namespace moved
        (the built-in merchant's orders, the store's copy of the clocks, a cluster's other
        nodes), called after the carrier's own timers.
    """

    def __init__(self, advance: Callable[[str, float], None], clocks: Clocks, clock: AdvancingClock) -> None:
        self._advance = advance
        self.clocks = clocks
        self.clock = clock
        self.on_advance: list[Callable[[str], None]] = []

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [("GET", r"clock", self.read), ("POST", r"clock", self.advance)]

    def read(self, request: server.Request) -> dict[str, Any]:
        """The time of the carrier, or of ``?namespace=``, and how far it runs ahead of the
        wall clock."""
        return self._reading(_namespace(query(request, "namespace") or "", "?namespace=", "bad_query"))

    def _reading(self, namespace: str) -> dict[str, Any]:
        ahead = self.clocks.offset(namespace)
        now = self.clock.now() + ahead
        reading = {
            "now": iso(now),
            "epoch": round(now, 3),
            "offset_seconds": round(self.clock.offset + ahead, 3),
        }
        if namespace:
            reading["namespace"] = namespace
            reading["ahead_of_carrier_seconds"] = round(ahead, 3)
        return reading

    def advance(self, request: server.Request) -> dict[str, Any]:
        """Move the carrier's time, or a namespace's, forward and let everything due by then
        happen now."""
        body = json_body(request, ("advance_seconds", "namespace"))
        seconds = body.get("advance_seconds")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 0 < seconds <= MAX_ADVANCE
        ):
            raise ApiError(
                400,
                "bad_field",
                f"advance_seconds must be a number of seconds above 0 and at most {MAX_ADVANCE:.0f}"
                f" (time only moves forward), not {seconds!r}",
            )
        namespace = _namespace(body.get("namespace", ""), "namespace ", "bad_field")
        self._advance(namespace, float(seconds))
        for catch_up in self.on_advance:
            catch_up(namespace)
        return self._reading(namespace)


def _namespace(value: object, named: str, code: str) -> str:
    """A namespace as a request gives it ("" for the carrier's own clock).

    :raises ApiError: 400 with ``code`` when it is no namespace name (null is none either).
    """
    if not isinstance(value, str) or not NAMESPACE_PATTERN.fullmatch(value):
        raise ApiError(400, code, f"{named}{json.dumps(value)}: {NAMESPACE_RULE}")
    return value
