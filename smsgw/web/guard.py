"""What every HTTP request passes before it reaches the API, the console or the metrics.

- Safe headers on every answer (no sniffing, no framing, no referrer; a strict CSP for the
  console's own files).
- A Host check while smsgw listens on loopback: a web page that rebinds its own name to
  127.0.0.1 (DNS rebinding) cannot talk to it.
- No cross-origin writes: a POST, PATCH or DELETE that a browser sends from another origin is
  refused, so a page on the web cannot drive the carrier on a developer's laptop.
- At most ``max_open`` requests at once (long polls and event streams hold theirs): one more
  gets 429, so a client that opens streams in a loop cannot exhaust the carrier.
- A token when one is set (``[http] token`` or ``$SMSGW_TOKEN``; smsgw makes one up when it
  listens beyond loopback): ``Authorization: Bearer <token>``, or the cookie a browser gets by
  opening ``/?token=<token>`` once.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from twisted.web import resource, server

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
    """

    def __init__(
        self,
        root: resource.Resource,
        *,
        token: str | None,
        loopback: bool,
        max_open: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.token = token
        self.loopback = loopback
        #: Requests being answered at once (long polls and event streams stay open); beyond, 429.
        self.max_open = max_open
        self.open = 0

    def getResourceFor(self, request: server.Request) -> resource.Resource:  # noqa: N802 - Twisted's name
        for name, value in _HEADERS:
            request.setHeader(name, value)
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        if self.max_open and self.open >= self.max_open:
            return Refusal(
                429,
                "too_many_requests",
                f"{self.open} requests are open (long polls and event streams count until they end; "
                f"[http] max_open_requests {self.max_open}); try again when some have ended",
            )
        self.open += 1
        request.notifyFinish().addBoth(self._finished)
        return super().getResourceFor(request)

    def _finished(self, result: Any) -> None:
        self.open -= 1

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
    return (urlsplit(f"//{text}").hostname or "") if text else ""


def _cross_origin(request: server.Request) -> bool:
    if (request.getHeader(b"sec-fetch-site") or b"").lower() == b"cross-site":
        return True
    origin = request.getHeader(b"origin")
    if not origin or origin == b"null":
        return origin == b"null"
    parts = urlsplit(origin.decode("ascii", "replace"))
    return parts.netloc.lower() != (request.getHeader(b"host") or b"").decode("ascii", "replace").lower()


def _bearer(request: server.Request) -> str:
    header = (request.getHeader(b"authorization") or b"").decode("ascii", "replace")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
