"""Failed binds counted per (peer address, system_id), so a password cannot be guessed at
wire speed while nobody else is locked out.

After ``limit`` failures for one system_id from one address within ``window`` seconds, that
pair's binds are refused unread (LOCKED_OUT) until the oldest failure leaves the window;
a bind that succeeds clears the pair. Another system_id from the same address is not held
up: on loopback every client shares 127.0.0.1, and one misconfigured test suite must not stop
the others. The caller counts every unknown system_id of an address under one key, so a
client inventing names fills one entry, not one per name.

Some system_ids are never locked out (the built-in merchant's, whose password smsgw makes
up): a payment flow must not stop because something else on the machine tried its name.

The table holds at most ``max_entries`` pairs whatever the peers send: the pair whose last
failure is oldest goes first (one whose failures all left the window is forgotten anyway).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable

#: What the caller passes as the system_id of a bind naming no account.
UNKNOWN = "\0unknown"


class FailedBinds:
    """Recent failed binds by (peer host, system_id).

    :param limit: failures allowed in ``window`` seconds; one more and the pair waits (0: no limit).
    :param exempt: system_ids never counted nor refused.
    :param max_entries: pairs remembered at most.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        exempt: Iterable[str] = (),
        max_entries: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.exempt = frozenset(exempt)
        self.max_entries = max_entries
        # Ordered by last failure, oldest first: what expires or is evicted is at the front.
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, host: str, system_id: str, now: float) -> float:
        """Seconds until ``system_id`` may try again from ``host``; 0 when it may now."""
        if not self.limit or system_id in self.exempt:
            return 0.0
        times = self._recent((host, system_id), now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def failed(self, host: str, system_id: str, now: float) -> None:
        """Count a failed bind."""
        if not self.limit or system_id in self.exempt:
            return
        key = (host, system_id)
        times = self._failures.get(key)
        if times is None:
            self._make_room(now)
            times = self._failures[key] = deque(maxlen=self.limit)
        else:
            self._failures.move_to_end(key)
        times.append(now)

    def succeeded(self, host: str, system_id: str) -> None:
        """Forget the pair's failures: its client has the right password now."""
        self._failures.pop((host, system_id), None)

    def _make_room(self, now: float) -> None:
        failures = self._failures
        while failures:
            key, times = next(iter(failures.items()))
            if times[-1] > now - self.window and len(failures) < self.max_entries:
                return
            del failures[key]  # every failure expired, or the table is full: the oldest goes
