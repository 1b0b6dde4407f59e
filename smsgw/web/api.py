"""The JSON HTTP API under ``/api/``: health, sessions, messages, subscribers.

Every error has one shape, ``{"error": {"code": "...", "message": "..."}}``, with a message
that says what was wrong and how to fix it. Routes are a table of (method, pattern, handler).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from twisted.web import resource, server

from smsgw import __version__
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import Rejected
from smsgw.carrier.subscribers import HandsetState, Subscriber
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.store.records import MessageRecord
from smsgw.text.coding import decode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

MAX_BODY = 64 * 1024


class ApiError(Exception):
    """An HTTP error with the API's JSON envelope."""

    def __init__(self, status: int, code: str, message: str, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.allow = allow


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"


def message_json(record: MessageRecord) -> dict[str, Any]:
    """A message as the API shows it: decoded text plus every SMPP detail."""
    body = record.body
    parts = None
    if record.esm_class & EsmClass.UDHI:
        try:
            udh, body = split_udh(body)
            if udh.concat is not None:
                parts = {"ref": udh.concat.reference, "total": udh.concat.total, "seq": udh.concat.seqnum}
        except InvalidUdh:
            pass
    elif record.sar_ref is not None:
        parts = {"ref": record.sar_ref, "total": record.sar_total, "seq": record.sar_seq}
    return {
        "message_id": record.message_id,
        "direction": record.direction,
        "account": record.system_id,
        "msisdn": record.msisdn,
        "from": record.source_addr,
        "to": record.dest_addr,
        "text": decode_text(body, record.data_coding),
        "data_coding": record.data_coding,
        "esm_class": record.esm_class,
        "registered_delivery": record.registered_delivery,
        "service_type": record.service_type,
        "parts": parts,
        "body_hex": record.body.hex(),
        "state": MessageState(record.state).name,
        "error": record.error,
        "submitted_at": _iso(record.submitted_at),
        "scheduled_at": _iso(record.scheduled_at),
        "expires_at": _iso(record.expires_at),
        "done_at": _iso(record.done_at),
    }


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    """A subscriber as the API shows it."""
    return {"msisdn": subscriber.msisdn, "name": subscriber.name, "state": subscriber.state.value}


class Api(resource.Resource):
    """The ``/api`` resource: routes requests to handlers and renders JSON.

    :param after_change: called after a request that changed the network and before it is
        answered: it commits the change (so an MO's message_id is never answered before the
        MO is durable) and hands out the deliveries it caused.
    """

    isLeaf = True

    def __init__(self, carrier: Carrier, *, info: dict[str, Any], after_change: Callable[[], None]) -> None:
        super().__init__()
        self.carrier = carrier
        self.info = info
        self.after_change = after_change
        self.started_at = time.time()
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"health"), self.health),
            ("GET", re.compile(r"sessions"), self.sessions),
            ("GET", re.compile(r"messages"), self.messages),
            ("GET", re.compile(r"messages/([^/]+)"), self.message),
            ("GET", re.compile(r"subscribers"), self.subscribers),
            ("GET", re.compile(r"subscribers/([^/]+)"), self.subscriber),
            ("PATCH", re.compile(r"subscribers/([^/]+)"), self.update_subscriber),
            ("GET", re.compile(r"subscribers/([^/]+)/inbox"), self.inbox),
            ("POST", re.compile(r"subscribers/([^/]+)/outbox"), self.send),
        ]

    def render(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        path = "/".join(seg.decode("utf-8", "replace") for seg in request.postpath or () if seg)
        method = request.method.decode("ascii", "replace")
        try:
            status, payload = self._route(method, path, request)
        except ApiError as error:
            status, payload = error.status, {"error": {"code": error.code, "message": error.message}}
            if error.allow:
                request.setHeader(b"allow", ", ".join(error.allow).encode())
        request.setResponseCode(status)
        return json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n"

    def _route(self, method: str, path: str, request: server.Request) -> tuple[int, Any]:
        allowed = []
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            result = handler(request, *match.groups())
            return result if isinstance(result, tuple) else (200, result)
        if allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"/api/{path} accepts {', '.join(allowed)}, not {method}",
                allow=tuple(allowed),
            )
        raise ApiError(404, "not_found", f"no API route /api/{path}; see docs/api.md")

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _query(request: server.Request, name: str) -> str | None:
        values = (request.args or {}).get(name.encode())
        return values[0].decode("utf-8", "replace") if values else None

    def _int_query(
        self, request: server.Request, name: str, default: int | None, maximum: int | None = None
    ) -> int | None:
        raw = self._query(request, name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise ApiError(400, "bad_query", f"?{name}={raw!r} is not a non-negative integer")
        value = int(raw)
        if maximum is not None and value > maximum:
            raise ApiError(400, "bad_query", f"?{name}={value} is above the maximum {maximum}")
        return value

    @staticmethod
    def _json_body(request: server.Request) -> dict[str, Any]:
        raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
        if len(raw) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"request body is over {MAX_BODY} bytes")
        try:
            body = json.loads(raw or b"{}")
        except ValueError as error:
            raise ApiError(400, "bad_json", f"request body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_json", "request body must be a JSON object")
        return body

    def _subscriber(self, msisdn: str) -> Subscriber:
        subscriber = self.carrier.subscribers.find(msisdn)
        if subscriber is None:
            raise ApiError(
                404, "unknown_subscriber", f"{msisdn} is not a subscriber; GET /api/subscribers lists them"
            )
        return subscriber

    # -- handlers --------------------------------------------------------------------

    def health(self, request: server.Request) -> dict[str, Any]:
        """Liveness and endpoints."""
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            **self.info,
        }

    def sessions(self, request: server.Request) -> dict[str, Any]:
        """Bound ESME sessions."""
        result = []
        for session_id, link in sorted(self.carrier.links.items()):
            session = link.session
            result.append(
                {
                    "id": session_id,
                    "system_id": link.account.system_id,
                    "bind_type": session.bind_type.value if session.bind_type else None,
                    "peer": link.peer,
                    "state": session.state.value,
                    "window": {"size": session.config.window, "in_flight": session.deliveries_in_flight},
                    "queued_deliveries": self.carrier.outbox.queued(link.account.system_id),
                }
            )
        return {"sessions": result}

    def messages(self, request: server.Request) -> dict[str, Any]:
        """Messages, newest first, filtered by msisdn, account, state and direction."""
        state_name = self._query(request, "state")
        state = None
        if state_name is not None:
            try:
                state = MessageState[state_name.upper()].value
            except KeyError:
                names = ", ".join(s.name for s in MessageState)
                raise ApiError(400, "bad_query", f"?state={state_name!r} is not one of {names}") from None
        direction = self._query(request, "direction")
        if direction is not None and direction.upper() not in ("MT", "MO"):
            raise ApiError(400, "bad_query", f"?direction={direction!r} is not MT or MO")
        msisdn = self._query(request, "msisdn")
        if msisdn is not None:
            msisdn = self._subscriber(msisdn).msisdn
        limit = self._int_query(request, "limit", 100, 1000) or 100
        records = self.carrier.store.find_messages(
            msisdn=msisdn,
            system_id=self._query(request, "account"),
            state=state,
            direction=direction.upper() if direction else None,
            before=self._int_query(request, "before", None),
            limit=limit,
        )
        return {
            "messages": [message_json(r) for r in records],
            "next_before": records[-1].id if len(records) == limit else None,
        }

    def message(self, request: server.Request, message_id: str) -> dict[str, Any]:
        """One message by its message_id."""
        for base in (10, 16):
            try:
                row_id = int(message_id, base)
            except ValueError:
                continue
            record = self.carrier.store.get_message(row_id)
            if record is not None and record.message_id == message_id:
                return message_json(record)
        raise ApiError(404, "unknown_message", f"no message with message_id {message_id!r}")

    def subscribers(self, request: server.Request) -> dict[str, Any]:
        """The configured and changed subscribers, and the numbers that have messages."""
        registry = self.carrier.subscribers
        kept = {s.msisdn: s for s in registry}
        for msisdn in self.carrier.store.msisdns():
            if msisdn not in kept:
                implicit = registry.find(msisdn)
                if implicit is not None:
                    kept[msisdn] = implicit
        return {"subscribers": [subscriber_json(kept[m]) for m in sorted(kept)]}

    def subscriber(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """One subscriber."""
        return subscriber_json(self._subscriber(msisdn))

    def update_subscriber(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """Change a subscriber's name or phone state (``on`` delivers what waited)."""
        subscriber = self._subscriber(msisdn)
        body = self._json_body(request)
        unknown = sorted(set(body) - {"state", "name"})
        if unknown:
            raise ApiError(400, "bad_field", f"unknown field {unknown[0]!r}; allowed: name, state")
        if "name" in body:
            if not isinstance(body["name"], str):
                raise ApiError(400, "bad_field", "name must be a string")
            self.carrier.rename_subscriber(subscriber.msisdn, body["name"])
            self.after_change()
        if "state" in body:
            try:
                state = HandsetState(body["state"])
            except ValueError:
                raise ApiError(400, "bad_field", f"state {body['state']!r} is not 'on' or 'off'") from None
            self.carrier.set_handset_state(subscriber.msisdn, state)
            self.after_change()
        return subscriber_json(subscriber)

    def inbox(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """Messages the subscriber received (MT), newest first."""
        subscriber = self._subscriber(msisdn)
        limit = self._int_query(request, "limit", 100, 1000) or 100
        records = self.carrier.store.find_messages(msisdn=subscriber.msisdn, direction="MT", limit=limit)
        return {"msisdn": subscriber.msisdn, "messages": [message_json(r) for r in records]}

    def send(self, request: server.Request, msisdn: str) -> tuple[int, dict[str, Any]]:
        """The subscriber's phone sends a text (MO) to a short code."""
        subscriber = self._subscriber(msisdn)
        body = self._json_body(request)
        to, text = body.get("to"), body.get("text")
        if not isinstance(to, str) or not to:
            raise ApiError(400, "bad_field", "'to' (the short code, e.g. \"12345\") is required")
        if not isinstance(text, str):
            raise ApiError(400, "bad_field", "'text' (a string) is required")
        try:
            ids = self.carrier.send_mo(subscriber.msisdn, to, text)
        except Rejected as refusal:
            raise ApiError(422, "unroutable", refusal.reason) from None
        except ValueError as error:
            raise ApiError(422, "bad_text", str(error)) from None
        self.after_change()
        return 201, {"message_ids": ids}


class Root(resource.Resource):
    """``/`` with the API under ``/api``."""

    def __init__(self, api: Api) -> None:
        super().__init__()
        self.putChild(b"api", api)

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"smsgw: the API is under /api/ (try /api/health); see docs/api.md\n"
