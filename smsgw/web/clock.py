"""``/api/clock``: read and move the carrier's time, so expiries run in milliseconds.

Only the carrier's notion of time moves (validity periods, scheduled delivery, retries,
USSD timeouts, receipt dates); SMPP session timers keep real time, so binds survive a jump.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.web import server

from smsgw.web.api import ApiError, Route, json_body
from smsgw.web.render import iso

#: The largest single jump: a year, well past any SMPP validity period.
MAX_ADVANCE = 366 * 86400.0


class AdvancingClock(Protocol):
    offset: float

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class ClockRoutes:
    """``GET /api/clock`` and ``POST /api/clock`` ``{"advance_seconds": N}``.

    :param tick: runs the carrier's timers (what fell due by the new time happens; the
        answer waits until that is durable and sent, see :class:`~smsgw.web.api.Api`).
    :ivar on_advance: what else keeps this clock's time and must catch up before the answer
        (the built-in merchant's ``tick``), called after the carrier's own timers.
    """

    def __init__(self, tick: Callable[[], None], clock: AdvancingClock) -> None:
        self.tick = tick
        self.clock = clock
        self.on_advance: list[Callable[[], None]] = []

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [("GET", r"clock", self.read), ("POST", r"clock", self.advance)]

    def read(self, request: server.Request) -> dict[str, Any]:
        """The carrier's time and how far it runs ahead of the wall clock."""
        now = self.clock.now()
        return {"now": iso(now), "epoch": round(now, 3), "offset_seconds": round(self.clock.offset, 3)}

    def advance(self, request: server.Request) -> dict[str, Any]:
        """Move the carrier's time forward and let everything due by then happen now."""
        body = json_body(request, ("advance_seconds",))
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
        self.clock.advance(float(seconds))
        self.tick()
        for catch_up in self.on_advance:
            catch_up()
        return self.read(request)
