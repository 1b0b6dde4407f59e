"""The carrier's clock: wall time that tests and scenarios can move forward."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where the carrier reads the time (epoch seconds)."""

    def now(self) -> float:
        """The current moment."""
        ...


class SystemClock:
    """Wall-clock time plus an offset that :meth:`advance` grows (to expire things early)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """The current moment, shifted by every advance so far."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the carrier's time forward."""
        self.offset += seconds


class FakeClock:
    """A clock that only moves when told to (unit tests)."""

    def __init__(self, start: float = 1_764_072_000.0) -> None:
        self.current = start

    def now(self) -> float:
        """The current moment."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.current += seconds
