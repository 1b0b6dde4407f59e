"""What every HTTP request passes before it reaches the API, the console or the metrics.

- Safe headers on every answer (no sniffing, no framing, no referrer; a strict CSP for the
  console's own files).
- A Host check while smsgw listens on loopback: a web page that rebinds its own name to
  127.0.0.1 (DNS rebinding) cannot talk to it.
- No cross-origin writes: a POST, PATCH or DELETE that a browser sends from another origin is
  refused, so a page on the web cannot drive the carrier on a developer's laptop.
- At most ``max_open`` requests at once (long polls and event streams hold theirs, and a
  request counts from its first byte): one more gets 429, so a client that opens streams in a
  loop cannot exhaust the carrier. The health check is never refused for it (it is answered
  at once). A request must arrive whole within ``request_timeout`` (see
  :mod:`smsgw.web.channel`), and an idle kept-alive connection closes after ``idle_timeout``.
- A token when one is set (``[http] token`` or ``$SMSGW_TOKEN``; smsgw makes one up when it
  listens beyond loopback): ``Authorization: Bearer <token>``, or the cookie a browser gets by
  opening ``/?token=<token>`` once.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from twisted.logger import Logger
from twisted.web import resource, server

from smsgw.web.channel import TimedChannel

#: One line per request, at debug only: scripts and the console long-poll the API many times
#: a second, and at info those lines would bury the ones that matter (``--log-level debug``).
access_log = Logger(namespace="smsgw.http")

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
COOKIE = b"smsgw_token"
_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
)


class Refusal(resource.Resource):
    """An error in the API's envelope, for a request the guard stops."""

    isLeaf = True

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__()
        self.status, self.code, self.message = status, code, message

    def render(self, request: server.Request) -> bytes:
        request.setResponseCode(self.status)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        body = {"error": {"code": self.code, "message": self.message}}
        return json.dumps(body).encode() + b"\n"


class _TokenCookie(resource.Resource):
    """``/?token=…`` with the right token: keep it in a cookie and go to the console."""

    isLeaf = True

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def render(self, request: server.Request) -> bytes:
        request.addCookie(COOKIE, self.token.encode(), path=b"/", httpOnly=True, sameSite="strict")
        request.redirect(b"/")
        return b""


class GuardedSite(server.Site):
    """A Site whose every request passes :func:`check` first.

    :param token: required on every request when set.
    :param loopback: whether smsgw listens on loopback only (then the Host header must name it).
    :param max_open: requests open at once, from their first byte to the end of their answer
        (0: no limit); beyond, 429 for all but ``health`` paths.
    :param request_timeout: seconds a request has to arrive whole.
    :param idle_timeout: seconds a kept-alive connection may wait for its next request.
    :param health: paths answered whatever the number of open requests (cheap, and what a
        supervisor asks when the server is busiest).
    """

    protocol = TimedChannel

    def __init__(
        self,
        root: resource.Resource,
        *,
        token: str | None,
        loopback: bool,
        max_open: int = 1000,
        request_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        health: tuple[bytes, ...] = (b"/api/health", b"/health"),
        **kwargs: Any,
    ) -> None:
        super().__init__(root, timeout=idle_timeout, **kwargs)
        self.token = token
        self.loopback = loopback
        #: Requests open at once (long polls and event streams stay open); beyond, 429.
        self.max_open = max_open
        self.open = 0
        self.request_timeout = request_timeout
        self.health = frozenset(health)

    def log(self, request: server.Request) -> None:
        """The access log line of an answered request, at debug (the token never in it)."""
        uri = request.uri
        if b"token=" in uri:
            uri = request.path + b"?(query with a token)"
        access_log.debug(
            "{client} {method} {uri} -> {code} ({length} bytes)",
            client=getattr(request.getClientAddress(), "host", "-"),
            method=request.method.decode("ascii", "replace"),
            uri=uri.decode("ascii", "replace"),
            code=request.code,
            length=request.sentLength,
        )

    def request_began(self) -> None:
        """A request's first byte arrived (:class:`~smsgw.web.channel.TimedChannel`)."""
        self.open += 1

    def request_ended(self) -> None:
        """A request was answered, or its connection closed before."""
        self.open -= 1

    def getResourceFor(self, request: server.Request) -> resource.Resource:  # noqa: N802 - Twisted's name
        for name, value in _HEADERS:
            request.setHeader(name, value)
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        # This request is one of the open ones already.
        if self.max_open and self.open > self.max_open and request.path not in self.health:
            return Refusal(
                429,
                "too_many_requests",
                f"{self.open - 1} other requests are open (long polls and event streams count until "
                f"they end, requests still arriving until they are answered; [http] max_open_requests "
                f"{self.max_open}); try again when some have ended",
            )
        return super().getResourceFor(request)

    def check(self, request: server.Request) -> resource.Resource | None:
        host = _hostname(request.getHeader(b"host") or b"")
        if self.loopback and host not in LOOPBACK_NAMES:
            return Refusal(
                421,
                "wrong_host",
                f"smsgw listens on loopback and answers only to 127.0.0.1 or localhost, not {host!r}",
            )
        if request.method not in _SAFE_METHODS and _cross_origin(request):
            return Refusal(
                403, "cross_origin", "writes from another origin (a web page elsewhere) are refused"
            )
        if self.token is not None:
            return self._check_token(request)
        return None

    def _check_token(self, request: server.Request) -> resource.Resource | None:
        assert self.token is not None
        given = _bearer(request) or (request.getCookie(COOKIE) or b"").decode("ascii", "replace")
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        in_query = (request.args.get(b"token") or [b""])[0].decode("ascii", "replace")
        if request.path == b"/" and in_query and hmac.compare_digest(in_query.encode(), self.token.encode()):
            return _TokenCookie(self.token)
        return Refusal(
            401,
            "unauthorized",
            "this smsgw wants its token: send Authorization: Bearer <token>, or open /?token=<token> "
            "in the browser (the token is in the start-up banner, the ports file, or [http] token)",
        )


def _hostname(header: bytes) -> str:
    text = header.decode("ascii", "replace").strip().lower()
    try:
        return (urlsplit(f"//{text}").hostname or "") if text else ""
    except ValueError:  # "[::1" and the like: no host name, so none of ours
        return text


_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What Sec-Fetch-Site says of a request the page's own origin (or the user) made.
_OWN_SITE = frozenset({b"same-origin", b"none"})


def _origin(scheme: str, authority: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port filled in; None when malformed."""
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in _DEFAULT_PORTS:
        return None
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS[scheme]


def _cross_origin(request: server.Request) -> bool:
    """Whether a browser sent the request from a page of another origin (or one it hides)."""
    fetch_site = request.getHeader(b"sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _OWN_SITE:
        return True  # same-site is another origin too: another port, or a sibling subdomain
    origin = request.getHeader(b"origin")
    if not origin:
        return False  # not a browser's cross-origin request (they always send Origin)
    if origin == b"null":
        return True
    scheme, _, authority = origin.decode("ascii", "replace").strip().lower().partition("://")
    theirs = _origin(scheme, authority)
    ours = _origin(
        "https" if request.isSecure() else "http",
        (request.getHeader(b"host") or b"").decode("ascii", "replace").strip().lower(),
    )
    return theirs is None or theirs != ours


def _bearer(request: server.Request) -> str:
    header = (request.getHeader(b"authorization") or b"").decode("ascii", "replace")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
