"""How late the reactor runs, and which request held it.

Everything of the carrier runs on one thread: a request that takes 230 ms delays every bind,
submit_sm_resp and API answer by as much. :class:`LagMonitor` asks to be called every
``interval`` and measures how late it is called (``smsgw_reactor_lag_seconds`` in /metrics);
:func:`timed` wraps the entry points where a client's input is handled (an API request; the
SMPP adapter times each connection's reads itself with the clock read it makes anyway) and
:func:`slow_turn` names the one that took over :data:`SLOW_TURN`, so the warning says whose
request to look at. A late tick that no timed call explains is warned of
too, without a name.

The cost is two clock reads per wrapped call (one more per SMPP read) and one timer every 50 ms.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.logger import Logger

log = Logger(namespace="smsgw.reactor")

#: One turn of the reactor longer than this is warned of.
SLOW_TURN = 0.1
#: Upper bounds (seconds) of the lag histogram.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Seconds between warnings of stalls no timed call explains.
_UNNAMED_EVERY = 5.0

#: The clock of both halves (a test may replace it).
clock: Callable[[], float] = time.perf_counter
#: When (``clock``) a slow timed call was last warned of: the monitor does not warn again.
_last_named = float("-inf")

F = TypeVar("F", bound=Callable[..., Any])


def timed(describe: Callable[[Any, Any], str]) -> Callable[[F], F]:
    """Decorate a method taking one argument; warn, naming the call with
    ``describe(self, argument)``, when it holds the reactor longer than :data:`SLOW_TURN`."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def timed_method(self: Any, argument: Any) -> Any:
            start = clock()
            try:
                return method(self, argument)
            finally:
                took = clock() - start
                if took > SLOW_TURN:
                    slow_turn(describe(self, argument), took)

        return timed_method  # type: ignore[return-value]

    return wrap


def slow_turn(what: str, seconds: float) -> None:
    """Warn that ``what`` held the reactor ``seconds`` (over :data:`SLOW_TURN`)."""
    global _last_named
    _last_named = clock()
    log.warn("{what} took {ms:.0f} ms on the reactor", what=what, ms=seconds * 1000)


_TOKEN = re.compile(r"(?i)(token=)[^&]*")


def request_name(resource: Any, request: Any) -> str:
    """``GET /api/...?...`` of an HTTP request, for :func:`timed` (a token in it is hidden)."""
    method = request.method.decode("ascii", "replace")
    uri = _TOKEN.sub(r"\1…", request.uri.decode("utf-8", "replace"))
    return f"{method} {uri if len(uri) <= 200 else uri[:200] + '…'}"


class LagMonitor:
    """Asks the reactor for a call every ``interval`` s and keeps a histogram of its lateness
    (measured on the module's :data:`clock`)."""

    def __init__(self, reactor: Any, *, interval: float = 0.05) -> None:
        self._reactor = reactor
        self.interval = interval
        #: Counts per bucket of :data:`LAG_BUCKETS`, and the +Inf one.
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.sum = 0.0
        self._at = 0.0
        self._call: Any = None
        self._warned_at = float("-inf")

    def start(self) -> None:
        """Start measuring."""
        self._at = clock()
        self._call = self._reactor.callLater(self.interval, self._tick)

    def stop(self) -> None:
        """Stop measuring (at shutdown)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def buckets(self) -> list[tuple[str, int]]:
        """(upper bound, cumulative count) pairs, as Prometheus wants them."""
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, LAG_BUCKETS), "+Inf"], self.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        return buckets

    def _tick(self) -> None:
        now = clock()
        previous, self._at = self._at, now
        lag = max(0.0, now - previous - self.interval)
        self.sum += lag
        for i, bound in enumerate(LAG_BUCKETS):
            if lag <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        if lag > SLOW_TURN and _last_named <= previous and now - self._warned_at >= _UNNAMED_EVERY:
            self._warned_at = now
            log.warn(
                "the reactor was held {ms:.0f} ms outside any API request or SMPP input "
                "(store commit, timers, event streams?)",
                ms=lag * 1000,
            )
        self._call = self._reactor.callLater(self.interval, self._tick)
