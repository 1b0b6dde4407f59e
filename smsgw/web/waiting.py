"""Long polls on handset inboxes: a request waits until a matching message lands.

A waiter is woken when a message is delivered to its handset (checked after the turn's
commit, so what it returns is durable) and, once a second, for messages that only become
visible with time (a concatenated message shown incomplete after its parts time out).
The carrier's delivery events are followed only while someone waits, so the hot path pays
nothing for long polls nobody makes.

A change costs the same however many wait: a handset's *feed* (:class:`smsgw.web.inbox.InboxFeed`)
reads what is new once per change, and each waiter's check only filters that. The read runs
where the store is read without holding up the reactor (:mod:`smsgw.server.reads`); one
feed has one read at a time, and changes during it make one more. The number of
waiters is bounded (``[http] max_waiters``); one more is refused with 429.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsgw.carrier.events import EventBus, MessageStateChanged, UssdChanged
from smsgw.server.reads import Reads, inline_reads
from smsgw.web.api import ApiError
from smsgw.web.inbox import InboxFeed

log = Logger()

Check = Callable[[Any], Any]
"""Given what changed (the feed's news, or None for a handset without a feed): the answer, or None."""


class _Waiter:
    __slots__ = ("msisdn", "check", "deferred", "timer", "fed")

    def __init__(self, msisdn: str, check: Check, deferred: defer.Deferred[Any], fed: bool) -> None:
        self.msisdn = msisdn
        self.check = check
        self.deferred = deferred
        self.timer: Any = None
        self.fed = fed


class InboxWaiters:
    """Requests waiting for a handset's next message.

    :param reactor: for timeouts and the once-a-second re-check.
    :param max_waiters: requests that may wait at once (0: no limit); one more gets 429.
    :param reads: where the feeds read the store.
    """

    def __init__(
        self, reactor: Any, events: EventBus, max_waiters: int = 0, reads: Reads = inline_reads
    ) -> None:
        self._reactor = reactor
        self._reads = reads
        #: Handsets whose feed is being read, and whether a change came meanwhile.
        self._reading: dict[str, bool] = {}
        self._events = events
        self.max_waiters = max_waiters
        self._waiters: dict[str, list[_Waiter]] = {}
        self._feeds: dict[str, Any] = {}
        self._count = 0
        self._due: set[str] = set()
        self._recheck = LoopingCall(self._check_all)
        self._recheck.clock = reactor

    def feed(self, msisdn: str, make: Callable[[], Any]) -> Any:
        """The handset's feed (``make()`` when it has none): it is read once per change, and its
        news handed to every waiter's check. It goes with the last waiter."""
        feed = self._feeds.get(msisdn)
        if feed is None:
            feed = self._feeds[msisdn] = make()
        return feed

    def wait(
        self,
        msisdn: str,
        check: Check,
        timeout: float,
        on_timeout: Callable[[], Any],
        *,
        fed: bool = False,
    ) -> defer.Deferred[Any]:
        """Return ``check(news)``'s result as soon as it is not None, or ``on_timeout()`` after
        ``timeout`` s. The caller has looked once already: nothing is checked before a change.

        :param fed: the check filters the handset's feed news (only called when there is some).

        :raises ApiError: 429 when ``max_waiters`` requests wait already.
        """
        if self.max_waiters and self.waiting >= self.max_waiters:
            if msisdn not in self._waiters:
                self._feeds.pop(msisdn, None)
            raise ApiError(
                429,
                "too_many_requests",
                f"{self.max_waiters} long polls are waiting already (the [http] max_waiters limit); "
                "retry after some have been answered, or wait with fewer requests (one poll can "
                "wait for several messages: filter with from/match, or share a cursor)",
            )
        waiter = _Waiter(msisdn, check, defer.Deferred(lambda d: self._forget(waiter)), fed)
        waiter.timer = self._reactor.callLater(timeout, self._expire, waiter, on_timeout)
        if not self._waiters:
            self._events.subscribe(self._delivered, MessageStateChanged)
            self._events.subscribe(self._ussd_changed, UssdChanged)
            self._recheck.start(1.0, now=False)
        self._waiters.setdefault(msisdn, []).append(waiter)
        self._count += 1
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
        return self._count

    def _delivered(self, event: MessageStateChanged) -> None:
        if event.direction == "MT" and event.state == "DELIVRD" and event.msisdn in self._waiters:
            if not self._due:
                self._reactor.callLater(0, self._wake)
            self._due.add(event.msisdn)

    def _wake(self) -> None:
        due, self._due = self._due, set()
        for msisdn in due:
            self._check(msisdn, tick=False)

    def _check_all(self) -> None:
        for msisdn in list(self._waiters):
            self._check(msisdn, tick=True)

    def _check(self, msisdn: str, *, tick: bool) -> None:
        if msisdn in self._reading:
            self._reading[msisdn] |= not tick
            return
        feed = self._feeds.get(msisdn)
        if feed is None:
            self._offer(msisdn, None, None)
            return
        start = feed.start(tick=tick)
        if start is None:
            feed.answers.clear()
            self._offer(msisdn, feed, [])
            return
        self._reading[msisdn] = False
        read = self._reads(partial(feed.read, start))
        read.addCallbacks(self._read, self._read_failed, callbackArgs=(msisdn, feed), errbackArgs=(msisdn,))

    def _read(self, read: Any, msisdn: str, feed: InboxFeed) -> None:
        again = self._reading.pop(msisdn)
        if self._feeds.get(msisdn) is feed:  # not gone with its last waiter meanwhile
            self._offer(msisdn, feed, feed.took(read))
        if again:
            self._check(msisdn, tick=False)

    def _read_failed(self, failure: Failure, msisdn: str) -> None:
        # The waiters stay: the next change or the once-a-second check reads again, and a
        # waiter nothing reaches times out with its empty answer.
        self._reading.pop(msisdn, None)
        log.failure("reading the inbox of {msisdn} for its long polls failed", failure, msisdn=msisdn)

    def _offer(self, msisdn: str, feed: Any, news: Any) -> None:
        if feed is not None and not news and not self._unfed(msisdn):
            return
        for waiter in list(self._waiters.get(msisdn, ())):
            result = waiter.check(news)
            if result is not None:
                self._forget(waiter)
                waiter.deferred.callback(result)

    def _unfed(self, msisdn: str) -> bool:
        """Whether some waiter of the handset checks by itself (a USSD screen), not from the feed."""
        return any(not waiter.fed for waiter in self._waiters.get(msisdn, ()))

    def _expire(self, waiter: _Waiter, on_timeout: Check) -> None:
        waiter.timer = None
        self._forget(waiter)
        waiter.deferred.callback(on_timeout())

    def _forget(self, waiter: _Waiter) -> None:
        waiters = self._waiters.get(waiter.msisdn, [])
        if waiter in waiters:
            waiters.remove(waiter)
            self._count -= 1
            if not waiters:
                del self._waiters[waiter.msisdn]
                self._feeds.pop(waiter.msisdn, None)
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        waiter.timer = None
        if not self._waiters and self._recheck.running:
            self._recheck.stop()
            self._events.unsubscribe(self._delivered, MessageStateChanged)
            self._events.unsubscribe(self._ussd_changed, UssdChanged)
