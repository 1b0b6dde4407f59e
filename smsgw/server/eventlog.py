"""Logs what the carrier refuses and the faults it injects, so a developer sees why their
submit failed or their receipt never came.

A client hammering a throttled account would flood the log with one line per submit, so
each (account, status) pair, and each fault rule, logs at most once a second and reports how
many it held back.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger

from smsgw.carrier.events import EventBus, FaultInjected, Refused

log = Logger(namespace="smsgw.carrier")


class RefusalLog:
    """Subscribes to :class:`Refused` and :class:`FaultInjected` events and logs them, rate-limited.

    :param clock: seconds, for the rate limit (the reactor's).
    """

    def __init__(self, events: EventBus, clock: Callable[[], float], interval: float = 1.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}
        events.subscribe(self.refused, Refused)
        events.subscribe(self.fault, FaultInjected)

    def refused(self, event: Refused) -> None:
        """Log one refusal, or count it when its kind was logged less than a second ago."""
        more = self._more((event.system_id, event.status))
        if more is None:
            return
        log.info(
            "session {session_id} ({system_id}): {command} refused with {status}: {reason}{more}",
            session_id=event.session_id if event.session_id is not None else "-",
            system_id=event.system_id or "unbound",
            command=event.command,
            status=event.status,
            reason=event.reason,
            more=more,
        )

    def fault(self, event: FaultInjected) -> None:
        """Log one injected fault, or count it when its rule was logged less than a second ago."""
        more = self._more(("fault", event.rule))
        if more is None:
            return
        log.info(
            "injected fault {rule} ({effect}) struck {system_id} -> {msisdn}{message}: {detail}{more}",
            rule=event.rule,
            effect=event.effect,
            system_id=event.system_id or "-",
            msisdn=event.msisdn,
            message=f" message_id {event.message_id}" if event.message_id else "",
            detail=event.detail,
            more=more,
        )

    def _more(self, key: tuple[str, str]) -> str | None:
        """None when ``key`` was logged less than an interval ago (it is counted); else the
        note of how many were held back since."""
        now = self._clock()
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < self._interval:
            self._last[key] = (last, held + 1)
            return None
        self._last[key] = (now, 0)
        return f" (and {held} more like it)" if held else ""
