"""An HTTP answer's body read up to a limit, for the HTTP clients smsgw runs.

Twisted's ``readBody`` keeps whatever the server sends. smsgw calls servers it does not
control (a USSD application's URL, a shop's webhook); one that answers with gigabytes, or
never stops, must cost a bounded amount of memory, not the carrier.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, protocol
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss


class BodyTooLarge(Exception):
    """The answer's body is longer than the reader takes."""


class _Capped(protocol.Protocol):
    def __init__(self, limit: int, done: defer.Deferred[bytes]) -> None:
        self.limit = limit
        self.done = done
        self.chunks: list[bytes] = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.done.called:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.done.errback(BodyTooLarge(f"the answer is longer than {self.limit} bytes"))
            self.transport.stopProducing()  # type: ignore[union-attr]
            return
        self.chunks.append(data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802 - Twisted's name
        if self.done.called:
            return
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.chunks))
        else:
            self.done.errback(reason)


def read_body(response: Any, limit: int) -> defer.Deferred[bytes]:
    """The body of ``response`` (an :class:`~twisted.web.iweb.IResponse`), at most ``limit`` bytes.

    :raises BodyTooLarge: (through the Deferred) when the body is longer; the connection is dropped.
    """
    done: defer.Deferred[bytes] = defer.Deferred()
    response.deliverBody(_Capped(limit, done))
    return done
