"""HTTP connections that cannot hold the server with requests that never finish arriving.

Twisted's :class:`~twisted.web.http.HTTPChannel` times out a connection only when it is idle,
so a client that sends one header byte every few seconds (slowloris) keeps it forever. Here
a request must arrive whole (headers and body) within the site's ``request_timeout`` of its
first byte, and a fresh connection must bring one within as long; a slower one gets 408 and
is closed. Twisted's own idle timeout (the site's ``timeOut``) closes a kept-alive connection
that sits between requests. A request counts as open on the site (``request_began`` /
``request_ended``) from its first byte to the end of its answer, so requests still arriving
count against the open-request limit like long polls do.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IDelayedCall
from twisted.web import http

_TIMED_OUT_BODY = (
    b'{"error": {"code": "request_timeout", "message": "the request did not arrive whole in time; '
    b'send the headers and body at once"}}\n'
)
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(_TIMED_OUT_BODY)
) + _TIMED_OUT_BODY


class TimedChannel(http.HTTPChannel):
    """An HTTP/1.1 connection whose requests must arrive whole in time.

    ``site`` (set by :meth:`~twisted.web.server.Site.buildProtocol`) gives
    ``request_timeout`` and is told when a request begins and ends.
    """

    site: Any
    _open = False
    _deadline: IDelayedCall | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._start_deadline()

    def dataReceived(self, data: bytes) -> None:
        # Bytes while no request is open begin one; while one is answered, they are the next
        # (pipelined) request, which Twisted holds until the answer ends and then replays here.
        if not self._open:
            self._open = True
            self.site.request_began()
            self._start_deadline()
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._stop_deadline()
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        # Before Twisted replays pipelined bytes, which begin the next request.
        self._close_request()
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:
        self._stop_deadline()
        self._close_request()
        super().connectionLost(reason)

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.callLater(self.site.request_timeout, self._too_slow)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _close_request(self) -> None:
        if self._open:
            self._open = False
            self.site.request_ended()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._open:  # something arrived: say why it ends
            self.transport.write(_TIMED_OUT)  # type: ignore[union-attr]
        self.loseConnection()
        # A client that does not read either cannot keep the connection open by that.
        self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
