"""The JSON HTTP API under ``/api/``: a table of routes, one error envelope.

Every error has one shape, ``{"error": {"code": "...", "message": "..."}}``, with a message
that says what was wrong and how to fix it. Handlers return a JSON value, a ``(status,
value)`` pair, or a Deferred of either (long polls); the routes live with their handlers in
:mod:`smsgw.web.network` and :mod:`smsgw.web.handsets`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server

from smsgw.digits import MAX_INTEGER, ascii_int, is_digits
from smsgw.server.lag import request_name, timed

MAX_BODY = 64 * 1024
log = Logger(namespace="smsgw.api")

Route = tuple[str, str, Callable[..., Any]]


class ApiError(Exception):
    """An HTTP error with the API's JSON envelope."""

    def __init__(self, status: int, code: str, message: str, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.allow = allow


def query(request: server.Request, name: str) -> str | None:
    """A query parameter as text, or None."""
    values = (request.args or {}).get(name.encode())
    return values[0].decode("utf-8", "replace") if values else None


#: How deep a request body's arrays and objects may nest (the API's bodies are flat).
MAX_DEPTH = 32


def int_query(
    request: server.Request,
    name: str,
    default: int | None,
    maximum: int | None = None,
    *,
    minimum: int = 0,
) -> int | None:
    """An integer query parameter within ``minimum``..``maximum`` (at most :data:`MAX_INTEGER`).

    :raises ApiError: 400 naming the parameter when it is not one, or out of range.
    """
    raw = query(request, name)
    if raw is None:
        return default
    top = MAX_INTEGER if maximum is None else maximum
    shown = raw if len(raw) <= 40 else f"{raw[:20]}…({len(raw)} characters)"
    if not is_digits(raw):
        raise ApiError(400, "bad_query", f"?{name}={shown!r} is not a non-negative integer")
    value = ascii_int(raw, top)
    if value is None or value < minimum:
        raise ApiError(400, "bad_query", f"?{name}={shown} is outside {minimum}..{top}")
    return value


def json_body(request: server.Request, allowed: Iterable[str]) -> dict[str, Any]:
    """The request's JSON object body, with only the allowed fields.

    :raises ApiError: 413 for a body over 64 KiB, 400 for bytes that are not UTF-8, bad JSON,
        an unknown field, or a field holding text that cannot be stored.
    """
    raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"request body is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except RecursionError:
        raise ApiError(400, "bad_json", f"request body nests deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as error:  # a ValueError too, but the JSON may be fine: say which
        raise ApiError(
            400,
            "bad_json",
            f"request body is not UTF-8: byte 0x{raw[error.start]:02x} at offset {error.start}; "
            "send JSON encoded as UTF-8",
        ) from None
    except ValueError as error:
        raise ApiError(400, "bad_json", f"request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "request body must be a JSON object")
    allowed = sorted(allowed)
    unknown = sorted(set(body) - set(allowed), key=repr)
    if unknown:
        raise ApiError(400, "bad_field", f"unknown field {unknown[0]!r}; allowed: {', '.join(allowed)}")
    _check_text(body)
    return body


def _check_text(body: dict[str, Any]) -> None:
    """Refuse a body whose text could not be stored or sent on: JSON's ``\\udfff`` escapes
    give lone surrogates, which UTF-8 (the store, every answer) cannot encode.

    :raises ApiError: 400 naming the first such field, or for nesting deeper than MAX_DEPTH.
    """
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                raise ApiError(
                    400,
                    "bad_field",
                    f"field {where!r} holds a lone surrogate (a \\ud800-\\udfff escape without its "
                    "pair), which is not text; send UTF-8 text",
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise ApiError(400, "bad_json", f"field {where!r} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            stack.extend((item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value))
            continue
        for key, item in value.items():
            field = f"{where}.{key}" if where else key
            if not _encodable(key):
                raise ApiError(
                    400, "bad_field", f"field name {field!r} holds a lone surrogate; send UTF-8 text"
                )
            stack.append((item, field, depth + 1))


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Api(resource.Resource):
    """The ``/api`` resource: routes requests to handlers and renders JSON.

    :param routes: (method, path pattern relative to ``/api/``, handler) triples; a handler
        gets the request and the pattern's groups.
    :param streams: path -> resource for routes that are not JSON (server-sent events).
    :param settle: makes everything done so far durable and sent; the answer to any request
        but a GET waits for it, so a change is answered only once it is stored (an MO's
        message_id), and what it set off (a receipt, a dropped session) is on its way.
    """

    isLeaf = True

    def __init__(
        self,
        routes: Iterable[Route],
        streams: dict[str, resource.Resource] | None = None,
        settle: Callable[[], defer.Deferred[None]] | None = None,
    ) -> None:
        super().__init__()
        self.routes = [(method, re.compile(pattern), handler) for method, pattern, handler in routes]
        self.streams = streams or {}
        self.settle = settle

    @timed(request_name)
    def render(self, request: server.Request) -> bytes | int:
        path = "/".join(seg.decode("utf-8", "replace") for seg in request.postpath or () if seg)
        method = request.method.decode("ascii", "replace")
        stream = self.streams.get(path)
        if stream is not None and method == "GET":
            return stream.render(request)  # type: ignore[no-any-return]
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if stream is not None:
            error = ApiError(
                405, "method_not_allowed", f"/api/{path} accepts GET, not {method}", allow=("GET",)
            )
            return self._error(request, error)
        try:
            result = self._route(method, path, request)
        except ApiError as error:
            return self._error(request, error)
        except Exception:
            log.failure("API {method} /api/{path} failed", method=method, path=path)
            return self._error(request, ApiError(500, "internal", "internal error; see the smsgw log"))
        if self.settle is not None and method != "GET":
            result = self._settled(result)
        if isinstance(result, defer.Deferred):
            result.addCallbacks(
                lambda value: self._finish(request, self._encode(request, value)),
                lambda failure: self._finish(request, self._failed(request, failure)),
            )
            return server.NOT_DONE_YET
        return self._encode(request, result)

    def _settled(self, result: Any) -> defer.Deferred[Any]:
        settle = self.settle
        assert settle is not None
        return defer.maybeDeferred(lambda: result).addCallback(
            lambda value: settle().addCallback(lambda _: value)
        )

    def _route(self, method: str, path: str, request: server.Request) -> Any:
        handler, arguments = route(self.routes, method, path, "/api/", "; see docs/api.md")
        return handler(request, *arguments)

    @staticmethod
    def _encode(request: server.Request, result: Any) -> bytes:
        status, payload = result if isinstance(result, tuple) else (200, result)
        request.setResponseCode(status)
        if isinstance(payload, bytes):  # encoded once for many long polls (smsgw.web.inbox)
            return payload
        return json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n"

    def _error(self, request: server.Request, error: ApiError) -> bytes:
        if error.allow:
            request.setHeader(b"allow", ", ".join(error.allow).encode())
        return self._encode(
            request, (error.status, {"error": {"code": error.code, "message": error.message}})
        )

    def _failed(self, request: server.Request, failure: Failure) -> bytes:
        if failure.check(ApiError):
            return self._error(request, failure.value)
        if failure.check(defer.CancelledError):  # the client left a long poll: nothing to answer
            return b""
        log.failure("API request failed", failure=failure)
        return self._error(request, ApiError(500, "internal", "internal error; see the smsgw log"))

    @staticmethod
    def _finish(request: server.Request, body: bytes) -> None:
        if request.finished or request._disconnected:  # the client gave up on a long poll
            return
        request.write(body)
        request.finish()


def route(
    routes: Iterable[tuple[str, re.Pattern[str], Callable[..., Any]]],
    method: str,
    path: str,
    prefix: str = "/",
    hint: str = "",
) -> tuple[Any, tuple[str, ...]]:
    """The handler of ``method path`` among ``routes`` and the path's captured parts.

    :raises ApiError: 405 (with the methods the path accepts, for the Allow header) or 404.
    """
    allowed = []
    for route_method, pattern, handler in routes:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method != method:
            allowed.append(route_method)
            continue
        return handler, match.groups()
    if allowed:
        raise ApiError(
            405,
            "method_not_allowed",
            f"{prefix}{path} accepts {', '.join(allowed)}, not {method}",
            allow=tuple(allowed),
        )
    raise ApiError(404, "not_found", f"no route {prefix}{path}{hint}")


class Root(resource.Resource):
    """``/``: the web console (static files in the package), the API under ``/api``, and
    the mock merchant's API under ``/merchant`` when it runs here (so the console reaches it
    from the same origin)."""

    def __init__(self, api: Api) -> None:
        super().__init__()
        self.putChild(b"api", api)
        console = resources.files("smsgw.web") / "console"
        self._index = (console / "index.html").read_bytes()
        for name in CONSOLE_FILES:
            self.putChild(name.encode(), _Asset((console / name).read_bytes(), name))

    def mount(self, path: bytes, child: resource.Resource) -> None:
        """Serve another resource under ``/path`` (the mock merchant's API)."""
        self.putChild(path, child)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        return self._index


#: The console's files besides index.html, served at the root.
CONSOLE_FILES = ("console.js", "console.css")
_TYPES = {".js": b"text/javascript; charset=utf-8", ".css": b"text/css; charset=utf-8"}


class _Asset(resource.Resource):
    """One static file, read once at start-up (the console is a few small files)."""

    isLeaf = True

    def __init__(self, body: bytes, name: str) -> None:
        super().__init__()
        self.body = body
        self.content_type = _TYPES[name[name.rindex(".") :]]

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", b"no-cache")
        return self.body
