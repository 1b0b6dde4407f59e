"""Failed binds counted per peer address, so a password cannot be guessed at wire speed.

After ``limit`` failures from one address within ``window`` seconds, that address's binds are
refused unread (ESME_RBINDFAIL) until the oldest failure leaves the window; a bind that
succeeds clears the address's count. A test suite that gets a password wrong a few times is
not held up; a loop trying passwords is.
"""

from __future__ import annotations

from collections import deque


class FailedBinds:
    """Recent failed binds by peer host."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, host: str, now: float) -> deque[float] | None:
        times = self._failures.get(host)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[host]
            return None
        return times

    def blocked(self, host: str, now: float) -> float:
        """Seconds until ``host`` may try again; 0 when it may now."""
        times = self._recent(host, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def failed(self, host: str, now: float) -> None:
        self._failures.setdefault(host, deque()).append(now)

    def succeeded(self, host: str) -> None:
        self._failures.pop(host, None)
