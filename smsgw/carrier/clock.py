"""The carrier's clock (wall time that tests and scenarios can move forward) and the
namespaces' clocks that run ahead of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from smsgw.carrier.subscribers import in_namespace, namespace_and_parents


class Clock(Protocol):
    """Where the carrier reads the time (epoch seconds)."""

    def now(self) -> float:
        """The current moment."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time forward (``POST /api/clock``)."""
        ...


class AdvancingClock(Clock, Protocol):
    """A clock that says how far :meth:`advance` has moved it ahead of the wall clock."""

    offset: float


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


class Clocks:
    """The carrier's clock, and a clock per namespace that runs ahead of it.

    A namespace's time is the carrier's plus what that namespace, and each namespace it sits
    in, was advanced on its own: advancing ``run-1`` moves ``run-1.7`` too, and advancing the
    carrier's clock moves every namespace. So a test that jumps its own namespace a day ahead
    expires its own messages and nobody else's. Every time kept on a handset's messages,
    deliveries and dialogues is on its namespace's clock; the keepers of deadlines (the message
    center, the outbox, the USSD gateway) take the carrier's time and move it by
    :meth:`offset`. Offsets only grow, like the carrier's clock.

    :param clock: the carrier's clock (``advance`` of the namespace ``""`` moves it).
    :param namespace_of: a handset's namespace ("" for none).
    """

    def __init__(self, clock: Clock, namespace_of: Callable[[str], str]) -> None:
        self.clock = clock
        self.namespace_of = namespace_of
        #: Some namespace was advanced on its own: read on hot paths before asking :meth:`offset`.
        self.shifted = False
        self._own: dict[str, float] = {}
        self._summed: dict[str, float] = {}

    def offset(self, namespace: str) -> float:
        """How far the namespace's clock runs ahead of the carrier's."""
        if not self.shifted or not namespace:
            return 0.0
        summed = self._summed.get(namespace)
        if summed is None:
            own = self._own
            summed = self._summed[namespace] = sum(own.get(n, 0.0) for n in namespace_and_parents(namespace))
        return summed

    def offset_for(self, msisdn: str) -> float:
        """How far the clock of the handset's namespace runs ahead of the carrier's."""
        return self.offset(self.namespace_of(msisdn)) if self.shifted else 0.0

    def now_in(self, namespace: str) -> float:
        """The time on the namespace's clock (the carrier's for ``""``)."""
        return self.clock.now() + self.offset(namespace)

    def now_for(self, msisdn: str) -> float:
        """The time on the clock of the handset's namespace."""
        return self.clock.now() + self.offset_for(msisdn)

    def advance(self, namespace: str, seconds: float) -> None:
        """Move a namespace's clock forward (the carrier's, and so every one, for ``""``)."""
        if not namespace:
            self.clock.advance(seconds)
            return
        self._own[namespace] = self._own.get(namespace, 0.0) + seconds
        self._summed.clear()
        self.shifted = True

    def forget(self, namespace: str) -> list[str]:
        """Drop the clocks of a namespace and of those inside it (its test is over).

        :returns: the namespaces whose clock was dropped.
        """
        gone = [name for name in self._own if in_namespace(name, namespace)]
        for name in gone:
            del self._own[name]
        self._summed.clear()
        self.shifted = bool(self._own)
        return gone

    def advanced(self) -> dict[str, float]:
        """Each namespace advanced on its own, and by how much (not counting the ones around it)."""
        return dict(self._own)

    def follow(self, advanced: Mapping[str, float]) -> list[str]:
        """Take the advances another holder of these clocks made (the store after a restart,
        another node of a cluster): each namespace's clock only ever moves forward.

        :returns: the namespaces whose clock moved.
        """
        moved = [name for name, seconds in advanced.items() if seconds > self._own.get(name, 0.0)]
        for name in moved:
            self._own[name] = advanced[name]
        if moved:
            self._summed.clear()
            self.shifted = True
        return moved
