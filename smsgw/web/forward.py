"""An API request answered by another node of the cluster, passed on as it came
(docs/cluster.md): a phone's USSD dialogue lives on one node, and the phone may call any."""

from __future__ import annotations

import json
from typing import Any, Protocol, cast

from twisted.internet import defer
from twisted.web import server
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, _HTTP11ClientFactory, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer

#: Marks a request another node passed on: it is answered where it arrives, never passed again.
FORWARDED_BY = b"x-smsgw-forwarded-by"


class Placement(Protocol):
    """Where a phone's USSD is answered, when another node answers it (smsgw.server.cluster)."""

    def dialogue_node(self, msisdn: str) -> defer.Deferred[str | None]:
        """The HTTP API of the other node holding the phone's latest dialogue, or None."""

    def app_node(self, dialled: str) -> defer.Deferred[str | None]:
        """The HTTP API of the other node bound for the application a dialled string
        reaches, when no bind here takes it; else None."""


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False


class Forwarder:
    """Passes a request on to another node's API and gives back its answer as it is.

    :param node: this node's name, sent along so that the other node answers itself.
    :param token: the API's token (the nodes of a cluster share it), if any.
    """

    def __init__(self, reactor: Any, node: str, token: str | None) -> None:
        pool = HTTPConnectionPool(reactor)
        pool._factory = _QuietFactory  # one log line per connection otherwise
        self._agent = Agent(reactor, connectTimeout=5, pool=pool)
        self.node = node
        self.token = token

    def forward(self, request: server.Request, base_url: str) -> defer.Deferred[tuple[int, bytes]]:
        """Send ``request`` (method, path, query, body) to ``base_url``; fire with (status, body)."""
        headers = Headers({b"content-type": [b"application/json"], FORWARDED_BY: [self.node.encode()]})
        if self.token is not None:
            headers.addRawHeader(b"authorization", b"Bearer " + self.token.encode())
        body: IBodyProducer | None = None
        if request.content is not None and request.method in (b"POST", b"PATCH"):
            request.content.seek(0)  # the handler read it once already
            body = cast(IBodyProducer, FileBodyProducer(request.content))
        sent = self._agent.request(request.method, base_url.encode() + request.uri, headers, body)

        def answered(response: Any) -> defer.Deferred[tuple[int, bytes]]:
            return readBody(response).addCallback(lambda data: (response.code, data))

        def unreachable(failure: Any) -> tuple[int, bytes]:
            message = f"the node at {base_url} that answers this did not: {failure.getErrorMessage()}"
            return 502, (
                json.dumps({"error": {"code": "node_unreachable", "message": message}}) + "\n"
            ).encode()

        return sent.addCallbacks(answered, unreachable)


def forwarded(request: server.Request) -> bool:
    """Whether another node passed this request on (then it is answered here)."""
    return request.getHeader(FORWARDED_BY) is not None
