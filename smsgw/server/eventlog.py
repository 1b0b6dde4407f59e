"""Logs what the carrier refuses, the faults it injects and the protocol errors clients make,
so a developer sees why their submit failed or their receipt never came.

A client hammering a throttled account would flood the log with one line per submit, one
pipelining submits after an unbind with one line per PDU (and the lines would cost the
reactor more than the answers do), and one inventing a new system_id for every bind would
make every line a new kind. So each log keeps a budget: in each interval (a second) each kind
(account and status, fault rule, session and status) is logged once, and at most ``budget``
lines in all; what is held back is counted by reason (a status or fault rule, a set the
config and the protocol bound) and summed up in one line when the interval ends. Its state is
the interval's kinds (no more than ``budget``) and those counts, whatever the names sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from smsgw.carrier.events import EventBus, FaultInjected, Refused

log = Logger(namespace="smsgw.carrier")


class LogBudget:
    """Which lines of an interval are written: sans-I/O, on the caller's clock.

    :param budget: lines written per interval at most.
    :param what: what the lines are, for the summary ("protocol errors").
    """

    def __init__(self, interval: float = 1.0, budget: int = 20, what: str = "lines") -> None:
        self.interval = interval
        self.budget = budget
        self.what = what
        self._start = float("-inf")
        self._logged: set[tuple[Any, str]] = set()
        self._held: Counter[str] = Counter()

    def admit(self, key: tuple[Any, str], reason: str, now: float) -> tuple[bool, str | None]:
        """Whether to write the line of kind ``key``, and the summary of the interval that
        ended before it (to write first), if any."""
        summary = self.roll(now)
        if key in self._logged or len(self._logged) >= self.budget:
            self._held[reason] += 1
            return False, summary
        self._logged.add(key)
        return True, summary

    def roll(self, now: float) -> str | None:
        """Start a new interval if the current one is over; the summary of what it held back."""
        if now - self._start < self.interval:
            return None
        held, self._held = self._held, Counter()
        self._start, self._logged = now, set()
        if not held:
            return None
        by_reason = ", ".join(f"{reason} {count}" for reason, count in held.most_common())
        return f"… and {held.total()} more {self.what} not logged one by one ({by_reason})"

    @property
    def holding(self) -> bool:
        """Whether this interval held lines back (its summary is due)."""
        return bool(self._held)


class BudgetedLog:
    """Writes the lines a :class:`LogBudget` admits to ``logger``, and each interval's summary.

    :param clock: seconds, for the interval (the reactor's).
    :param call_later: ``reactor.callLater``, to write an interval's summary when no later
        line does; without it the summary waits for the next line.
    """

    def __init__(
        self,
        logger: Logger,
        clock: Callable[[], float],
        what: str,
        interval: float = 1.0,
        budget: int = 20,
        call_later: Callable[..., Any] | None = None,
    ) -> None:
        self._logger = logger
        self._clock = clock
        self.budget = LogBudget(interval, budget, what)
        self._call_later = call_later
        self._pending: Any = None

    def info(self, key: tuple[Any, str], reason: str, format: str, /, **fields: Any) -> None:
        """Log at info level, unless ``key`` or the budget was used up this interval."""
        if self._admit(key, reason):
            self._logger.info(format, **fields)

    def warn(self, key: tuple[Any, str], reason: str, format: str, /, **fields: Any) -> None:
        """Log a warning, unless ``key`` or the budget was used up this interval."""
        if self._admit(key, reason):
            self._logger.warn(format, **fields)

    def _admit(self, key: tuple[Any, str], reason: str) -> bool:
        write, summary = self.budget.admit(key, reason, self._clock())
        if summary is not None:
            self._logger.info("{summary}", summary=summary)
        if self.budget.holding and self._pending is None and self._call_later is not None:
            self._pending = self._call_later(self.budget.interval, self._flush)
        return write

    def _flush(self) -> None:
        self._pending = None
        summary = self.budget.roll(self._clock())
        if summary is not None:
            self._logger.info("{summary}", summary=summary)


class RefusalLog:
    """Subscribes to :class:`Refused` and :class:`FaultInjected` events and logs them, within a budget.

    :param clock: seconds, for the interval (the reactor's).
    :param call_later: ``reactor.callLater``, to write an interval's summary when no later
        event does; without it the summary waits for the next event.
    """

    def __init__(
        self,
        events: EventBus,
        clock: Callable[[], float],
        interval: float = 1.0,
        budget: int = 20,
        call_later: Callable[..., Any] | None = None,
    ) -> None:
        self._log = BudgetedLog(log, clock, "refusals and faults", interval, budget, call_later)
        events.subscribe(self.refused, Refused)
        events.subscribe(self.fault, FaultInjected)

    def refused(self, event: Refused) -> None:
        """Log one refusal, unless its kind or the budget was used up this interval."""
        self._log.info(
            (event.system_id, event.status),
            event.status,
            "session {session_id} ({system_id}): {command} refused with {status}: {reason}",
            session_id=event.session_id if event.session_id is not None else "-",
            system_id=event.system_id or "unbound",
            command=event.command,
            status=event.status,
            reason=event.reason,
        )

    def fault(self, event: FaultInjected) -> None:
        """Log one injected fault, unless its rule or the budget was used up this interval."""
        self._log.info(
            ("fault", event.rule),
            f"fault {event.rule}",
            "injected fault {rule} ({effect}) struck {system_id} -> {msisdn}{message}: {detail}",
            rule=event.rule,
            effect=event.effect,
            system_id=event.system_id or "-",
            msisdn=event.msisdn,
            message=f" message_id {event.message_id}" if event.message_id else "",
            detail=event.detail,
        )
