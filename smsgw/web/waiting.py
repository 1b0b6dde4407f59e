"""Long polls on handset inboxes: a request waits until a matching message lands.

A waiter is woken when a message is delivered to its handset (checked after the turn's
commit, so what it returns is durable) and, once a second, for messages that only become
visible with time (a concatenated message shown incomplete after its parts time out).
The carrier's delivery events are followed only while someone waits, so the hot path pays
nothing for long polls nobody makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.task import LoopingCall

from smsgw.carrier.events import EventBus, MessageStateChanged, UssdChanged

Check = Callable[[], Any]


class _Waiter:
    __slots__ = ("msisdn", "check", "deferred", "timer")

    def __init__(self, msisdn: str, check: Check, deferred: defer.Deferred[Any]) -> None:
        self.msisdn = msisdn
        self.check = check
        self.deferred = deferred
        self.timer: Any = None


class InboxWaiters:
    """Requests waiting for a handset's next message.

    :param reactor: for timeouts and the once-a-second re-check.
    """

    def __init__(self, reactor: Any, events: EventBus) -> None:
        self._reactor = reactor
        self._events = events
        self._waiters: dict[str, list[_Waiter]] = {}
        self._due: set[str] = set()
        self._recheck = LoopingCall(self._check_all)
        self._recheck.clock = reactor

    def wait(self, msisdn: str, check: Check, timeout: float, on_timeout: Check) -> defer.Deferred[Any]:
        """Return ``check()``'s result as soon as it is not None, or ``on_timeout()`` after ``timeout`` s.

        :param check: reads the inbox; returns the answer, or None to keep waiting.
        """
        result = check()
        if result is not None or timeout <= 0:
            return defer.succeed(result if result is not None else on_timeout())
        waiter = _Waiter(msisdn, check, defer.Deferred(lambda d: self._forget(waiter)))
        waiter.timer = self._reactor.callLater(timeout, self._expire, waiter, on_timeout)
        if not self._waiters:
            self._events.subscribe(self._delivered, MessageStateChanged)
            self._events.subscribe(self._ussd_changed, UssdChanged)
            self._recheck.start(1.0, now=False)
        self._waiters.setdefault(msisdn, []).append(waiter)
        return waiter.deferred

    def _ussd_changed(self, event: UssdChanged) -> None:
        self.poke(event.msisdn)

    def poke(self, msisdn: str) -> None:
        """Something a waiter of this handset may want happened: check after this turn."""
        if msisdn in self._waiters:
            if not self._due:
                self._reactor.callLater(0, self._wake)
            self._due.add(msisdn)

    @property
    def waiting(self) -> int:
        """How many requests wait."""
        return sum(len(w) for w in self._waiters.values())

    def _delivered(self, event: MessageStateChanged) -> None:
        if event.direction == "MT" and event.state == "DELIVRD" and event.msisdn in self._waiters:
            if not self._due:
                self._reactor.callLater(0, self._wake)
            self._due.add(event.msisdn)

    def _wake(self) -> None:
        due, self._due = self._due, set()
        for msisdn in due:
            self._check(msisdn)

    def _check_all(self) -> None:
        for msisdn in list(self._waiters):
            self._check(msisdn)

    def _check(self, msisdn: str) -> None:
        for waiter in list(self._waiters.get(msisdn, ())):
            result = waiter.check()
            if result is not None:
                self._forget(waiter)
                waiter.deferred.callback(result)

    def _expire(self, waiter: _Waiter, on_timeout: Check) -> None:
        waiter.timer = None
        self._forget(waiter)
        waiter.deferred.callback(on_timeout())

    def _forget(self, waiter: _Waiter) -> None:
        waiters = self._waiters.get(waiter.msisdn, [])
        if waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[waiter.msisdn]
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        waiter.timer = None
        if not self._waiters and self._recheck.running:
            self._recheck.stop()
            self._events.unsubscribe(self._delivered, MessageStateChanged)
            self._events.unsubscribe(self._ussd_changed, UssdChanged)
