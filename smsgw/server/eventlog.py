"""Logs what the carrier refuses, so a developer sees why their submit failed.

A client hammering a throttled account would flood the log with one line per submit, so
each (account, status) pair logs at most once a second and reports how many it held back.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger

from smsgw.carrier.events import EventBus, Refused

log = Logger(namespace="smsgw.carrier")


class RefusalLog:
    """Subscribes to :class:`Refused` events and logs them, rate-limited.

    :param clock: seconds, for the rate limit (the reactor's).
    """

    def __init__(self, events: EventBus, clock: Callable[[], float], interval: float = 1.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}
        events.subscribe(self.refused, Refused)

    def refused(self, event: Refused) -> None:
        """Log one refusal, or count it when its kind was logged less than a second ago."""
        key = (event.system_id, event.status)
        now = self._clock()
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < self._interval:
            self._last[key] = (last, held + 1)
            return
        self._last[key] = (now, 0)
        more = f" (and {held} more like it)" if held else ""
        log.info(
            "session {session_id} ({system_id}): {command} refused with {status}: {reason}{more}",
            session_id=event.session_id if event.session_id is not None else "-",
            system_id=event.system_id or "unbound",
            command=event.command,
            status=event.status,
            reason=event.reason,
            more=more,
        )
