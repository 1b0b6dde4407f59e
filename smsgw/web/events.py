"""``GET /api/events``: every network event as server-sent events, for tools and the console.

Each event is ``event: <type>`` and ``data: <one JSON line>``; a comment line every 15 s
keeps proxies from closing an idle stream and lets the server notice a client that left.
While nobody listens, the carrier does not even build the events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.web import resource, server

from smsgw.carrier.events import EventBus
from smsgw.web.render import event_json, iso


class EventStream(resource.Resource):
    """One long-lived response per client, fed by the carrier's event bus."""

    isLeaf = True

    def __init__(
        self,
        events: EventBus,
        reactor: Any,
        keepalive: float = 15.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._events = events
        # The carrier's clock, so ``at`` agrees with every other time the API gives.
        self._now = now
        self._reactor = reactor
        self._keepalive = keepalive
        self.clients = 0

    def render_GET(self, request: server.Request) -> int:
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.write(b": smsgw events\n\n")

        def send(event: Any) -> None:
            payload = event_json(event)
            payload["at"] = iso(self._now())
            data = json.dumps(payload, ensure_ascii=False)
            request.write(f"event: {payload['type']}\ndata: {data}\n\n".encode())

        keepalive = LoopingCall(request.write, b": keepalive\n\n")
        keepalive.clock = self._reactor
        keepalive.start(self._keepalive, now=False)
        self._events.subscribe(send)
        self.clients += 1

        def gone(_: Any) -> None:
            self._events.unsubscribe(send)
            keepalive.stop()
            self.clients -= 1

        request.notifyFinish().addBoth(gone)
        return server.NOT_DONE_YET
