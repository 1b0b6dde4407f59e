"""``GET /api/events``: every network event as server-sent events, for tools and the console.

Each event is ``event: <type>`` and ``data: <one JSON line>``; a comment line every 15 s
keeps proxies from closing an idle stream and lets the server notice a client that left.
While nobody listens, the carrier does not even build the events, and each event is
rendered once for all the streams. In a cluster a stream shows the other nodes' events too
(each with its ``node``), which they publish while some node has a stream open
(docs/cluster.md).

A client that does not read cannot make the server hold its events without end. Once its
connection is backed up, what it has not taken waits, up to ``limit`` bytes (``[http]
stream_buffer``); past that those events and every next one are skipped (not even rendered)
until the client catches up, and then it first gets ``event: lost`` with how many it missed. A client that takes nothing at all for
``stall`` seconds (``[http] idle_timeout``) is dropped: its connection closed, its events freed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import resource, server
from zope.interface import implementer

from smsgw.carrier.events import EventBus
from smsgw.web.render import event_json, iso

log = Logger(namespace="smsgw.api")
_KEEPALIVE = b": keepalive\n\n"


@implementer(IPushProducer)
class _Client:
    """One stream: writes straight through while its connection keeps up, else keeps what
    waits, up to ``limit`` bytes, and past that skips (counting) until the connection drains.

    Registered as the request's producer, so the connection says when its buffer fills
    (``pauseProducing``) and when it has written all of it (``resumeProducing``). One
    reactor turn can fill it many times over (a burst of submits), so a client that reads is
    only ever behind for a moment; one that does not stays paused.
    """

    def __init__(self, request: server.Request, limit: int, stall: float, now: Callable[[], float]) -> None:
        self.request = request
        self.limit = limit
        self.stall = stall
        self.now = now
        self.paused_at: float | None = None
        self.dropped = False
        #: Past the limit: events are only counted (and not even rendered for this client).
        self.skipping = False
        self.waiting: list[bytes] = []
        self.waiting_size = 0
        self.waiting_events = 0
        self.lost = 0

    def send(self, chunk: bytes, events: int = 1) -> None:
        """Write ``chunk`` (holding ``events`` events), or keep it while the connection is full."""
        if self.paused_at is None:
            self.request.write(chunk)
            return
        if self.skipping or self.dropped:
            self.skip(events)
            return
        self.waiting.append(chunk)
        self.waiting_size += len(chunk)
        self.waiting_events += events
        if self.waiting_size > self.limit:
            self.lost += self.waiting_events
            self.waiting, self.waiting_size, self.waiting_events = [], 0, 0
            self.skipping = True

    def skip(self, events: int = 1) -> None:
        """Count events this client misses; drop it once it has taken nothing for ``stall`` s."""
        if self.dropped:
            return
        assert self.paused_at is not None
        if self.now() - self.paused_at > self.stall:
            self._drop()
            return
        self.lost += events

    def _drop(self) -> None:
        log.warn(
            "event stream of {peer} took nothing for {stall:g} s ([http] idle_timeout): dropped it",
            peer=_peer(self.request),
            stall=self.stall,
        )
        self.dropped = True
        self.waiting, self.waiting_size, self.waiting_events = [], 0, 0
        # Not loseConnection: that would wait to write out what the client does not read.
        self.request.channel.transport.abortConnection()

    def pauseProducing(self) -> None:
        if self.paused_at is None:
            self.paused_at = self.now()

    def resumeProducing(self) -> None:
        if self.dropped:
            return
        self.paused_at = None
        self.skipping = False
        chunks = self.waiting
        self.waiting, self.waiting_size, self.waiting_events = [], 0, 0
        if self.lost:
            chunks.insert(0, f'event: lost\ndata: {{"type": "lost", "events": {self.lost}}}\n\n'.encode())
            self.lost = 0
        if chunks:
            self.request.write(b"".join(chunks))

    def stopProducing(self) -> None:
        self.dropped = True
        self.waiting, self.waiting_size, self.waiting_events = [], 0, 0


class EventStream(resource.Resource):
    """One long-lived response per client, fed by the carrier's event bus.

    :param limit: bytes a client may fall behind before events are skipped for it.
    :param stall: seconds a client may take nothing before it is dropped.
    """

    isLeaf = True

    def __init__(
        self,
        events: EventBus,
        reactor: Any,
        keepalive: float = 15.0,
        now: Callable[[], float] = time.time,
        limit: int = 1024 * 1024,
        stall: float = 60.0,
    ) -> None:
        super().__init__()
        self._events = events
        # The carrier's clock, so ``at`` agrees with every other time the API gives.
        self._now = now
        self._reactor = reactor
        self._keepalive = keepalive
        self._limit = limit
        self._stall = stall
        self._clients: dict[_Client, None] = {}
        #: Told when the first stream opens (True) and the last one closes (False): in a
        #: cluster the other nodes publish their events only while some node has a stream.
        self.on_watching: Callable[[bool], None] = lambda watching: None

    @property
    def clients(self) -> int:
        """How many streams are open."""
        return len(self._clients)

    def render_GET(self, request: server.Request) -> int:
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.write(b": smsgw events\n\n")
        client = _Client(request, self._limit, self._stall, self._reactor.seconds)
        request.registerProducer(client, True)
        keepalive = LoopingCall(client.send, _KEEPALIVE, 0)
        keepalive.clock = self._reactor
        keepalive.start(self._keepalive, now=False)
        if not self._clients:
            self._events.subscribe(self._broadcast)
            self.on_watching(True)
        self._clients[client] = None

        def gone(_: Any) -> None:
            keepalive.stop()
            del self._clients[client]
            if not self._clients:
                self._events.unsubscribe(self._broadcast)
                self.on_watching(False)

        request.notifyFinish().addBoth(gone)
        return server.NOT_DONE_YET

    def _broadcast(self, event: Any) -> None:
        self._send(lambda: self._render(event))

    def relay(self, event_type: str, data: str) -> None:
        """Stream an event of another node of the cluster, as that node rendered it."""
        if self._clients:
            self._send(lambda: _chunk(event_type, data))

    def _send(self, render: Callable[[], bytes]) -> None:
        chunk = None
        for client in tuple(self._clients):
            if client.skipping:
                client.skip()
                continue
            if chunk is None:  # rendered once, and not at all while every client is skipping
                chunk = render()
            client.send(chunk)

    def _render(self, event: Any) -> bytes:
        return _chunk(*render_event(event, self._now()))


def render_event(event: Any, at: float, **extra: str) -> tuple[str, str]:
    """An event's type and its data line (one JSON object, with its time ``at`` and ``extra``)."""
    payload = event_json(event)
    payload["at"] = iso(at)
    payload.update(extra)
    return payload["type"], json.dumps(payload, ensure_ascii=False)


def _chunk(event_type: str, data: str) -> bytes:
    # backslashreplace: a lone surrogate becomes its JSON escape instead of failing the emit.
    return f"event: {event_type}\ndata: {data}\n\n".encode("utf-8", "backslashreplace")


def _peer(request: server.Request) -> str:
    address = request.getClientAddress()
    return f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"
