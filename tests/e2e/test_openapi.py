"""The OpenAPI document (``smsgw/web/openapi.json``, served at ``/api/openapi.json``) against the real server.

Every route is exercised over real HTTP and every answer's body is validated against the schema
the document gives for that path, method and status (``additionalProperties: false`` throughout,
so a field added or dropped on either side fails). Every route of the server must be documented,
and every documented status (but 500) must be seen here.
"""

from __future__ import annotations

import http.client
import importlib.resources
import inspect
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import smpplib.command
import smpplib.gsm

from smsgw.carrier.faults import Effect
from smsgw.web.clock import ClockRoutes
from smsgw.web.faults import FaultRoutes
from smsgw.web.handsets import HandsetRoutes
from smsgw.web.namespaces import NamespaceRoutes
from smsgw.web.network import NetworkRoutes
from smsgw.web.openapi import OpenApiRoutes
from smsgw.web.timeline import TimelineRoutes
from tests.e2e.cmppclient import CmppClient
from tests.e2e.conftest import DEMO, HEX_ACCOUNT_TOML, SHORT_CODE, Smsgw, call_json, wait_until
from tests.e2e.test_prune import racing_prunes

# The fixtures server, start_server and connect come from tests/e2e/conftest.py.

pytestmark = pytest.mark.e2e

# smpplib cannot parse a deliver_sm with ussd_service_op without this (docs/ussd.md).
if "ussd_service_op" not in smpplib.command.DeliverSM.params:
    smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)
    smpplib.command.DeliverSM.params_order += ("ussd_service_op",)

DOC_URI = "urn:smsgw:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Routes that are not in a route provider: Api(streams={"events": EventStream(...)}) in smsgw/app.py.
STREAM_ROUTES = [("GET", "events")]
NEW_PHONE = "8613800000009"
LONG_TEXT = "".join(f"Part text {i:03d}. " for i in range(27))[:400]
CHINESE_TEXT = "你好，世界！短信网关测试"


def file_document() -> dict[str, Any]:
    text = importlib.resources.files("smsgw.web").joinpath("openapi.json").read_text(encoding="utf-8")
    return json.loads(text)


def server_routes() -> list[tuple[str, str, Any]]:
    """(method, pattern relative to /api/, handler or None) for every route smsgw serves."""
    providers = [
        NetworkRoutes(None, None, None, {}, None),
        HandsetRoutes(None, None, None),
        ClockRoutes(None, None, None),
        NamespaceRoutes(None, None, None),
        FaultRoutes(None, None, ""),
        TimelineRoutes(None, ""),
        OpenApiRoutes(),
    ]  # type: ignore[arg-type]
    routes = [route for provider in providers for route in provider.routes()]
    return routes + [(method, pattern, None) for method, pattern in STREAM_ROUTES]


def pattern_of(template: str) -> str:
    """The route pattern a documented path stands for: ``/api/messages/{id}`` -> ``messages/([^/]+)``."""
    assert template.startswith("/api/"), template
    pieces = re.split(r"\{[^}/]+\}", template[len("/api/") :])
    return "([^/]+)".join(re.escape(piece) for piece in pieces)


def pointer(*tokens: str) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


class Contract:
    """The document, with its $refs resolvable, and what this module's requests have covered."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = referencing.Resource.from_contents(
            document, default_specification=referencing.jsonschema.DRAFT202012
        )
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(DOC_URI, resource)
        self.seen: set[tuple[str, str, str]] = set()

    def lookup(self, ref: str) -> Any:
        assert ref.startswith("#/"), f"only local $refs are used, not {ref!r}"
        node: Any = self.document
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and token in node, f"$ref {ref!r} does not resolve"
            node = node[token]
        return node

    def response(self, template: str, method: str, status: int) -> tuple[str, dict[str, Any]]:
        """(JSON pointer, Response Object) the document gives, following a $ref."""
        operation = self.document["paths"].get(template, {}).get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        response = operation["responses"].get(str(status))
        assert response is not None, (
            f"{method} {template} answered {status}, which the document does not list "
            f"(it lists {sorted(operation['responses'])})"
        )
        where = pointer("paths", template, method.lower(), "responses", str(status))
        if "$ref" in response:
            where = response["$ref"][1:]
            response = self.lookup(response["$ref"])
        return where, response

    def validate_at(self, where: str, instance: Any, what: str) -> None:
        validator = jsonschema.Draft202012Validator({"$ref": f"{DOC_URI}#{where}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            details = "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10]
            )
            raise AssertionError(f"{what} does not match the document:\n{details}\nbody: {instance!r}"[:4000])

    def assert_every_answer_seen(self) -> None:
        """Every documented (path, method, status) but 500 was answered by a request checked here."""
        documented = {
            (template, method, status)
            for template, item in self.document["paths"].items()
            for method in item
            if method in METHODS
            for status in item[method]["responses"]
            if status != "500"
        }
        assert not documented - self.seen, f"documented answers never seen: {sorted(documented - self.seen)}"

    def check(self, template: str, method: str, status: int, headers: Any, body: Any) -> None:
        """Validate one JSON answer of a documented operation and note it as covered."""
        where, response = self.response(template, method, status)
        self.check_response(where, response, headers, body, f"{method} {template} -> {status}")
        self.seen.add((template, method.lower(), str(status)))

    def check_response(
        self, where: str, response: dict[str, Any], headers: Any, body: Any, what: str
    ) -> None:
        media = (headers.get("Content-Type") or "").split(";")[0].strip()
        assert media in response.get("content", {}), f"{what}: content-type {media!r} is not documented"
        for name, header in response.get("headers", {}).items():
            if header.get("required"):
                assert headers.get(name), f"{what}: the documented header {name} is missing"
        self.validate_at(where + pointer("content", media, "schema"), body, what)


# -- HTTP --------------------------------------------------------------------------------


def request(
    smsgw: Smsgw, method: str, path: str, body: Any = None, *, raw: bytes | None = None
) -> tuple[int, Any, Any]:
    """(status, headers, decoded JSON body) of one API call; errors are answers too."""
    return call_json(smsgw.ports["http_url"] + path, method, body, raw=raw, timeout=10)


class Client:
    """Calls documented operations under ``base_url`` and checks every answer against the document."""

    def __init__(self, base_url: str, contract: Contract) -> None:
        self.base_url = base_url
        self.contract = contract

    def __call__(
        self,
        method: str,
        template: str,
        expect: int,
        body: Any = None,
        *,
        query: str = "",
        raw: bytes | None = None,
        code: str | None = None,
        **params: str,
    ) -> Any:
        path = template.format(**{k: urllib.parse.quote(v, safe="") for k, v in params.items()})
        path += f"?{query}" if query else ""
        status, headers, payload = call_json(self.base_url + path, method, body, raw=raw, timeout=10)
        assert status == expect, (method, path, status, payload)
        self.contract.check(template, method, status, headers, payload)
        if code is not None:
            assert payload["error"]["code"] == code, (method, path, payload)
        return payload


@pytest.fixture(scope="module")
def contract(server: Smsgw) -> Contract:
    """The document as the server serves it (it must be the packaged file)."""
    status, _, served = request(server, "GET", "/api/openapi.json")
    if status == 404:
        pytest.fail(
            "GET /api/openapi.json answers 404: OpenApiRoutes (smsgw/web/openapi.py) is not wired into "
            "smsgw/app.py yet; add OpenApiRoutes().routes() to the routes given to Api(...)"
        )
    assert status == 200, (status, served)
    assert served == file_document(), "/api/openapi.json differs from smsgw/web/openapi.json"
    return Contract(served)


@pytest.fixture
def api(server: Smsgw, contract: Contract) -> Client:
    return Client(server.ports["http_url"], contract)


# -- the document itself -----------------------------------------------------------------


def all_refs(node: Any, at: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield at, value
            else:
                yield from all_refs(value, at + pointer(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from all_refs(value, at + pointer(str(index)))


def test_document_is_well_formed_openapi_3_1() -> None:
    """The packaged document is structurally OpenAPI 3.1: its $refs resolve and its schemas are 2020-12 schemas."""
    document = file_document()
    contract = Contract(document)
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"] and document["components"]["schemas"]
    for at, ref in all_refs(document):
        contract.lookup(ref)  # raises with the broken ref
        assert ref.startswith("#/components/"), f"{at}: $ref {ref!r} should point into components"
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise AssertionError(
                f"components/schemas/{name} is not a valid schema: {error.message}"
            ) from None
    operation_ids = []
    for template, item in document["paths"].items():
        names = set(re.findall(r"\{([^}/]+)\}", template))
        for method in set(item) & set(METHODS):
            operation = item[method]
            operation_ids.append(operation["operationId"])
            params = [
                contract.lookup(p["$ref"]) if "$ref" in p else p
                for p in item.get("parameters", []) + operation.get("parameters", [])
            ]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == names, f"{method} {template}: path parameters {declared} != {names}"
            assert all(p["required"] for p in params if p["in"] == "path")
            assert operation["responses"], f"{method} {template} has no responses"
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), f"{method} {template}: status {status!r}"
                response = contract.lookup(response["$ref"]) if "$ref" in response else response
                assert response["description"], f"{method} {template} {status}: no description"
                for media in response.get("content", {}).values():
                    jsonschema.Draft202012Validator.check_schema(media["schema"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    """The routes of the route providers and the document's paths are the same, method by method."""
    document = file_document()
    served = {(method, pattern) for method, pattern, _ in server_routes()}
    documented = {
        (method.upper(), pattern_of(template))
        for template, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert not served - documented, f"routes without documentation: {sorted(served - documented)}"
    assert not documented - served, (
        f"documented routes the server does not have: {sorted(documented - served)}"
    )


def test_every_fault_effect_is_documented_and_every_documented_one_exists() -> None:
    """A fault effect added to the carrier (or one taken away) is added to (or taken from)
    each schema that names effects: a rule, a new rule and the fault event."""
    schemas = file_document()["components"]["schemas"]
    effects = sorted(effect.value for effect in Effect)
    for name in ("FaultRule", "NewFault", "FaultInjectedEvent"):
        assert sorted(schemas[name]["properties"]["effect"]["enum"]) == effects, name


def test_query_parameters_and_body_fields_match_the_handlers() -> None:
    """The query parameters a handler reads and the body fields it allows are the documented ones."""
    document = file_document()
    contract = Contract(document)
    by_pattern = {
        (method.upper(), pattern_of(template)): item[method]
        for template, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    for method, pattern, handler in server_routes():
        if handler is None:
            continue
        operation = by_pattern[(method, pattern)]
        source = inspect.getsource(handler)
        read = set(re.findall(r"query\(request, \"(\w+)\"", source))
        params = [contract.lookup(p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])]
        documented = {p["name"] for p in params if p["in"] == "query"}
        assert read == documented, (
            f"{method} {pattern}: reads ?{sorted(read)}, documents ?{sorted(documented)}"
        )
        allowed = re.search(r"json_body\(request, \(([^)]*)\)\)", source)
        named = re.search(r"json_body\(request, ([A-Z_]+)\)", source)  # a module's tuple of keys
        body = operation.get("requestBody")
        if allowed is None and named is None:
            assert body is None, f"{method} {pattern} documents a body it does not read"
            continue
        if named is not None:
            fields = set(handler.__globals__[named.group(1)])
        else:
            assert allowed is not None
            fields = set(re.findall(r"\"(\w+)\"", allowed.group(1)))
        assert body is not None, f"{method} {pattern} reads a body it does not document"
        schema = body["content"]["application/json"]["schema"]
        schema = contract.lookup(schema["$ref"]) if "$ref" in schema else schema
        assert set(schema["properties"]) == fields, f"{method} {pattern}: allows {fields}"
        assert schema.get("additionalProperties") is False, f"{method} {pattern}: unknown fields are refused"


# -- the real server -----------------------------------------------------------------------


class EventReader:
    """A /api/events client reading server-sent events with deadlines."""

    def __init__(self, smsgw: Smsgw) -> None:
        host, port = urllib.parse.urlsplit(smsgw.ports["http_url"]).netloc.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=5)
        self.connection.request("GET", "/api/events")
        self.response = self.connection.getresponse()
        self.events: list[tuple[str, Any]] = []

    def read_until(self, kinds: set[str], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        name, data = None, None
        while not kinds <= {kind for kind, _ in self.events}:
            assert time.monotonic() < deadline, f"events seen: {[k for k, _ in self.events]}; wanted {kinds}"
            line = self.response.readline().decode("utf-8").rstrip("\n")
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
            elif line == "" and name is not None:
                self.events.append((name, data))
                name, data = None, None

    def close(self) -> None:
        self.connection.close()


# Each phase below calls documented operations through ``api`` (which validates every answer);
# test_every_answer_matches_the_document runs them in order on one server.


def bind(server: Smsgw, connect: Any, api: Client) -> Any:
    """A refused bind (for the refused event), then a transceiver and a CMPP SP listed in
    /api/sessions."""
    refused = connect(server, raw=True)
    assert refused.bind(password="wrong").command_status != 0
    doomed = connect(server)
    doomed.bind("receiver")
    esme = connect(server)
    esme.bind("transceiver")
    sp = CmppClient((server.ports["cmpp_host"], server.ports["cmpp"]))
    assert sp.connect("901234", "smsgw").status == 0
    sessions = api("GET", "/api/sessions", 200)["sessions"]
    sp.close()
    assert any(s["bind_type"] == "transceiver" and s["since"] and s["protocol"] == "smpp" for s in sessions)
    assert any(s["protocol"] == "cmpp" and s["state"] == "connected" for s in sessions)
    (receiver,) = [s["id"] for s in sessions if s["bind_type"] == "receiver"]
    dropped = api("DELETE", "/api/sessions/{session_id}", 200, session_id=str(receiver))
    assert dropped == {"id": receiver, "system_id": "smsgw", "dropped": True}
    wait_until(lambda: receiver not in {s["id"] for s in api("GET", "/api/sessions", 200)["sessions"]})
    api("DELETE", "/api/sessions/{session_id}", 404, session_id=str(receiver), code="unknown_session")
    api("DELETE", "/api/sessions/{session_id}", 404, session_id="x", code="unknown_session")
    return esme


def mt_messages(api: Client, esme: Any) -> str:
    """GSM, UCS2, concatenated (UDH, smpplib's make_parts) and flash MTs in the log and the inboxes."""
    gsm_id = esme.submit_ok(DEMO[0], "Hello from the OpenAPI test")
    ucs2_id = esme.submit_ok(DEMO[1], CHINESE_TEXT.encode("utf-16-be"), data_coding=8)
    parts, coding, esm_class = smpplib.gsm.make_parts(LONG_TEXT)
    assert len(parts) == 3
    concat_ids = [esme.submit_ok(DEMO[2], p, data_coding=coding, esm_class=esm_class) for p in parts]
    flash_id = esme.submit_ok(DEMO[3], "flash!", data_coding=0x10)
    esme.wait_deliveries(6)  # the receipts: every message is delivered

    everything = api("GET", "/api/messages", 200)["messages"]
    assert {gsm_id, ucs2_id, flash_id, *concat_ids} <= {m["message_id"] for m in everything}
    query = f"msisdn=%2B{DEMO[2]}&direction=mt&state=delivrd&account=smsgw&limit=2"
    page = api("GET", "/api/messages", 200, query=query)
    assert len(page["messages"]) == 2 and isinstance(page["next_before"], int)
    rest = api("GET", "/api/messages", 200, query=f"msisdn={DEMO[2]}&before={page['next_before']}")
    assert [m["message_id"] for m in rest["messages"]] == concat_ids[:1] and rest["next_before"] is None
    one = "/api/messages/{message_id}"
    for message_id in (gsm_id, flash_id, concat_ids[0], concat_ids[2]):
        api("GET", one, 200, message_id=message_id)
    parts_info = api("GET", one, 200, message_id=concat_ids[1])["parts"]
    assert (parts_info["total"], parts_info["seq"]) == (3, 2)
    assert api("GET", one, 200, message_id=ucs2_id)["text"] == CHINESE_TEXT
    received, receipt = api("GET", one + "/pdus", 200, message_id=gsm_id)["pdus"]
    assert (received["direction"], received["command"], receipt["command"]) == (
        "received",
        "submit_sm",
        "deliver_sm",
    )
    assert b"Hello from the OpenAPI test" in bytes.fromhex(received["hex"])
    api("GET", one + "/pdus", 404, message_id="999999", code="unknown_message")

    (joined,) = api("GET", "/api/handsets/{msisdn}/inbox", 200, msisdn=DEMO[2])["messages"]
    shown = (joined["text"], joined["concat"], joined["total_parts"], joined["complete"])
    assert shown == (LONG_TEXT, "udh8", 3, True)
    (flash,) = api("GET", "/api/handsets/{msisdn}/inbox", 200, msisdn=DEMO[3])["messages"]
    assert flash["flash"] is True and flash["message_class"] == 0
    return gsm_id


def long_polls(api: Client, esme: Any) -> None:
    """A long poll that runs out (wait=1), and one answered as soon as its message lands."""
    inbox = "/api/handsets/{msisdn}/inbox"
    cursor = api("GET", inbox, 200, msisdn=DEMO[4])["cursor"]
    started = time.monotonic()
    empty = api("GET", inbox, 200, query=f"after={cursor}&wait=1", msisdn=DEMO[4])
    assert empty == {"msisdn": DEMO[4], "messages": [], "cursor": cursor, "more": False}
    assert time.monotonic() - started >= 0.9
    answers: list[Any] = []
    query = f"after={cursor}&wait=5&from={SHORT_CODE}&match=" + urllib.parse.quote("code is [0-9]{6}")
    poll = threading.Thread(
        target=lambda: answers.append(api("GET", inbox, 200, query=query, msisdn=DEMO[4]))
    )
    poll.start()
    time.sleep(0.2)
    esme.submit_ok(DEMO[4], "Your code is 482913")
    poll.join(5)
    assert answers and [m["text"] for m in answers[0]["messages"]] == ["Your code is 482913"]


def mo_messages(api: Client, esme: Any) -> None:
    """A short GSM MO and a two-part UCS2 one, delivered to the ESME and shown in the sent box."""
    sms = "/api/handsets/{msisdn}/sms"
    (mo_id,) = api("POST", sms, 201, {"to": SHORT_CODE, "text": "YES 123456"}, msisdn=DEMO[0])["message_ids"]
    mo_ids = api("POST", sms, 201, {"to": SHORT_CODE, "text": "确认" * 50}, msisdn=DEMO[0])["message_ids"]
    assert len(mo_ids) == 2
    esme.wait_deliveries(7 + 3)  # 7 receipts so far, and the 3 MO parts
    assert api("GET", "/api/messages/{message_id}", 200, message_id=mo_id)["direction"] == "MO"
    sent = api("GET", "/api/handsets/{msisdn}/sent", 200, msisdn=DEMO[0])["messages"]
    shown = [(m["to"], m["concat"], m["data_coding"]) for m in sent]
    assert shown == [(SHORT_CODE, None, 0), (SHORT_CODE, "udh8", 8)]
    api("GET", "/api/handsets/{msisdn}/sent", 400, query="after=soon", msisdn=DEMO[0], code="bad_query")
    api("GET", "/api/messages", 200, query="direction=MO&state=DELIVRD")


def handsets(server: Smsgw, api: Client, esme: Any) -> None:
    """List, get in other notations, switch off and on (delivering what was held), create, delete, clear."""
    listed = api("GET", "/api/handsets", 200)["handsets"]
    assert set(DEMO) <= {h["msisdn"] for h in listed}
    one = "/api/handsets/{msisdn}"
    api("GET", one, 200, msisdn="+" + DEMO[0])
    api("GET", one, 200, msisdn="13800000002")
    assert api("PATCH", one, 200, {"state": "off"}, msisdn=DEMO[3])["state"] == "off"
    held_id = esme.submit_ok(DEMO[3], "held while off")
    assert server.message(held_id)["state"] == "ENROUTE"
    on = api("PATCH", one, 200, {"state": "on", "name": "Chen"}, msisdn=DEMO[3])
    assert on == {"msisdn": DEMO[3], "name": "Chen", "state": "on", "namespace": ""}
    wait_until(lambda: server.message(held_id)["state"] == "DELIVRD", what="the held message")
    api("PATCH", one, 200, raw=b"", msisdn=DEMO[3])

    new = {"msisdn": "+" + NEW_PHONE, "name": "Test buyer", "state": "busy"}
    assert api("POST", "/api/handsets", 201, new) == {
        "msisdn": NEW_PHONE,
        "name": "Test buyer",
        "state": "busy",
        "namespace": "",
    }
    api("POST", "/api/handsets", 409, {"msisdn": NEW_PHONE}, code="exists")
    api("POST", "/api/handsets", 409, {"msisdn": "+" + NEW_PHONE}, code="exists")
    assert api("DELETE", one, 200, msisdn=NEW_PHONE) == {"msisdn": NEW_PHONE, "deleted": True}
    api("DELETE", one, 404, msisdn=NEW_PHONE, code="unknown_handset")

    assert api("DELETE", one + "/inbox", 200, msisdn=DEMO[2])["cleared"] is True
    assert api("GET", one + "/inbox", 200, msisdn=DEMO[2])["messages"] == []
    namespaces(api, esme)


def namespaces(api: Client, esme: Any) -> None:
    """Fresh numbers in a namespace, its handsets and messages alone, and its reset."""
    fresh = [api("POST", "/api/handsets", 201, {"namespace": "qa-1"}) for _ in range(2)]
    assert all(h["namespace"] == "qa-1" and h["msisdn"].startswith("861700") for h in fresh)
    assert fresh[0]["msisdn"] != fresh[1]["msisdn"]
    esme.submit_ok(fresh[0]["msisdn"], "in qa-1")
    listed = api("GET", "/api/handsets", 200, query="namespace=qa-1")["handsets"]
    assert sorted(h["msisdn"] for h in listed) == sorted(h["msisdn"] for h in fresh)
    (message,) = api("GET", "/api/messages", 200, query="namespace=qa-1")["messages"]
    assert message["msisdn"] == fresh[0]["msisdn"]
    assert api("GET", "/api/messages", 200, query="namespace=nobody")["messages"] == []
    rule = {"name": "qa-1:slow", "effect": "delay_delivery", "delay": 5, "namespace": "qa-1"}
    assert api("POST", "/api/faults", 201, rule)["namespace"] == "qa-1"
    api("POST", "/api/clock", 200, {"advance_seconds": 5, "namespace": "qa-1.inner"})
    assert api("GET", "/api/clock", 200, query="namespace=qa-1.inner")["ahead_of_carrier_seconds"] == 5
    summary = {"name": "qa-1", "handsets": 2, "faults": 1, "ahead_of_carrier_seconds": 0}
    assert summary in api("GET", "/api/namespaces", 200)["namespaces"]
    assert api("GET", "/api/namespaces/{name}", 200, name="qa-1")["faults"] == ["qa-1:slow"]
    removed = api("DELETE", "/api/namespaces/{name}", 200, name="qa-1")
    assert sorted(removed["removed_handsets"]) == sorted(h["msisdn"] for h in fresh)
    assert removed["removed_faults"] == ["qa-1:slow"] and removed["removed_clocks"] == ["qa-1.inner"]
    assert "qa-1:slow" not in {f["name"] for f in api("GET", "/api/faults", 200)["faults"]}
    api("GET", "/api/namespaces/{name}", 404, name="qa-1", code="unknown_namespace")
    api("DELETE", "/api/namespaces/{name}", 404, name="qa-1", code="unknown_namespace")


def timeline(api: Client) -> None:
    """The steps of namespace qa-1 (kept after its reset), of its handset, of its message,
    paged with after; a clock advance of qa-1.inner is among qa-1's; an order nobody made
    has none; a query naming no filter, two, or a wrong value is 400 bad_query."""
    steps = api("GET", "/api/timeline", 200, query="namespace=qa-1")["steps"]
    submit = next(step for step in steps if step["kind"] == "smpp.submit_sm")
    assert (submit["pdu"]["command"], submit["pdu"]["text"]) == ("submit_sm", "in qa-1")
    assert b"in qa-1" in bytes.fromhex(submit["hex"])
    assert any(step["kind"] == "clock.advance" and step["namespace"] == "qa-1.inner" for step in steps)
    msisdn, message_id = submit["msisdn"], submit["message_id"]
    mine = [step["id"] for step in steps if step["msisdn"] == msisdn]
    by_handset = api("GET", "/api/timeline", 200, query=f"msisdn=%2B{msisdn}")["steps"]
    # While an event stream is open everyone's steps are recorded: after the reset, the
    # number's steps are in no namespace.
    assert [step["id"] for step in by_handset if step["namespace"] == "qa-1"] == mine
    assert {step["namespace"] for step in by_handset} <= {"qa-1", None}, by_handset
    by_message = api("GET", "/api/timeline", 200, query=f"message_id={message_id}&account=smsgw")["steps"]
    assert {step["message_id"] for step in by_message} == {message_id} and submit in by_message
    first = api("GET", "/api/timeline", 200, query="namespace=qa-1&limit=1")
    rest = api("GET", "/api/timeline", 200, query=f"namespace=qa-1&after={first['next_after']}")
    assert first["steps"] + rest["steps"] == steps
    assert api("GET", "/api/timeline", 200, query="order=ord_9999") == {"steps": [], "next_after": 0}
    for query in (
        "",
        f"msisdn={msisdn}&namespace=qa-1",
        f"msisdn={msisdn}&account=smsgw",
        "msisdn=abc",
        "namespace=a%20b",
        "order=",
        "namespace=qa-1&limit=0",
        "namespace=qa-1&limit=10001",
        "namespace=qa-1&after=x",
    ):
        api("GET", "/api/timeline", 400, query=query, code="bad_query")


BAD_FIELDS = [
    (
        "POST",
        "/api/clock",
        [
            {},
            {"advance_seconds": 0},
            {"advance_seconds": "1"},
            {"advance_seconds": 1, "x": 1},
            {"advance_seconds": 1, "namespace": "a b"},
            {"advance_seconds": 1, "namespace": None},
        ],
    ),
    (
        "POST",
        "/api/handsets",
        [
            {"colour": "red"},
            {"name": "x", "namespace": "has space"},
            {"namespace": 3},
            {"msisdn": 5},
            {"msisdn": "abc"},
            {"msisdn": "8613800000010", "state": "dead"},
            {"msisdn": "8613800000010", "name": 7},
        ],
    ),
    ("PATCH", "/api/handsets/{msisdn}", [{"colour": "red"}, {"state": "dead"}, {"name": None}]),
    ("POST", "/api/faults", [{"colour": "red"}, {"name": "x", "effect": "no_receipt", "colour": "red"}]),
    (
        "POST",
        "/api/handsets/{msisdn}/sms",
        [
            {"text": "x"},
            {"to": "", "text": "x"},
            {"to": SHORT_CODE},
            {"to": SHORT_CODE, "text": "x", "extra": 1},
        ],
    ),
]


def errors(api: Client) -> None:
    """Every error status of every operation: 400 bad_query/bad_field/bad_json, 404, 409 (above), 413, 422."""
    for query in ("state=DONE", "limit=5000", "limit=-1", "before=x", "direction=UP"):
        api("GET", "/api/messages", 400, query=query, code="bad_query")
    api("GET", "/api/messages", 404, query="msisdn=abc", code="unknown_handset")
    api("GET", "/api/messages/{message_id}", 404, message_id="999999", code="unknown_message")
    for template in ("/api/messages/{message_id}", "/api/messages/{message_id}/pdus"):
        api("GET", template, 400, query="direction=UP", message_id="1", code="bad_query")
    for query in ("wait=301", "after=-1", "limit=x", "match=" + urllib.parse.quote("(")):
        api("GET", "/api/handsets/{msisdn}/inbox", 400, query=query, msisdn=DEMO[0], code="bad_query")
    for method, template in [
        ("GET", "/api/handsets/{msisdn}"),
        ("PATCH", "/api/handsets/{msisdn}"),
        ("DELETE", "/api/handsets/{msisdn}"),
        ("GET", "/api/handsets/{msisdn}/inbox"),
        ("DELETE", "/api/handsets/{msisdn}/inbox"),
        ("GET", "/api/handsets/{msisdn}/sent"),
        ("POST", "/api/handsets/{msisdn}/sms"),
    ]:
        body = {} if method in ("POST", "PATCH") else None
        api(method, template, 404, body, msisdn="not-a-number", code="unknown_handset")
    for method, template, bad in BAD_FIELDS:
        for body in bad:
            api(method, template, 400, body, msisdn=DEMO[0], code="bad_field")
        for raw in (b"{not json", b"[1]", b"null"):
            api(method, template, 400, raw=raw, msisdn=DEMO[0], code="bad_json")
        api(method, template, 413, raw=b"x" * 70000, msisdn=DEMO[0], code="body_too_large")
    too_long = {"to": SHORT_CODE, "text": "a" * 40000}  # 262 segments; at most 255
    api("POST", "/api/handsets/{msisdn}/sms", 422, too_long, msisdn=DEMO[0], code="bad_text")


def no_fresh_number(start_server: Any, contract: Contract) -> None:
    """503 no_fresh_number: the last number of the fresh pool has a message, so after a
    restart no fresh number is left."""
    smsgw = start_server()
    api = Client(smsgw.ports["http_url"], contract)
    api(
        "POST",
        "/api/handsets/{msisdn}/sms",
        201,
        {"to": SHORT_CODE, "text": "the last"},
        msisdn="8617009999999",
    )
    smsgw.restart()
    api = Client(smsgw.ports["http_url"], contract)
    api("POST", "/api/handsets", 503, {}, code="no_fresh_number")


def ambiguous_ids(start_server: Any, connect: Any, contract: Contract) -> None:
    """A decimal and a hex account both have message_id "10" (rows 10 and 16): 409 without
    ?account=, 200 with it."""
    smsgw = start_server(HEX_ACCOUNT_TOML)
    api = Client(smsgw.ports["http_url"], contract)
    decimal, hexa = connect(smsgw), connect(smsgw)
    decimal.bind("transmitter")
    hexa.bind("transmitter", system_id="hexa", password="hexa")
    ids = [decimal.submit_ok(DEMO[0], f"decimal {n}") for n in range(15)]
    same = hexa.submit_ok(DEMO[1], "hex")
    assert same == "10" and same in ids, (same, ids)
    for template in ("/api/messages/{message_id}", "/api/messages/{message_id}/pdus"):
        api("GET", template, 409, message_id=same, code="ambiguous_message")
        api("GET", template, 200, query="account=hexa", message_id=same)
    assert (
        api("GET", "/api/messages/{message_id}", 200, query="account=smsgw&direction=mt", message_id=same)[
            "text"
        ]
        == "decimal 9"
    )


def unrouted(server: Smsgw, contract: Contract, message_id: str) -> None:
    """No route: 404 not_found; a documented path with another method: 405 and an Allow header listing the documented ones."""
    not_found = "/components/responses/NotFound"
    for path in ("/api/nothing", "/api/handsets/1/2/3", "/api/"):
        status, headers, payload = request(server, "GET", path)
        assert (status, payload["error"]["code"]) == (404, "not_found"), (path, payload)
        contract.check_response(not_found, contract.lookup("#" + not_found), headers, payload, f"GET {path}")
    not_allowed = "/components/responses/MethodNotAllowed"
    for template, item in contract.document["paths"].items():
        if template == "/api/events":
            continue  # a stream resource: Twisted answers other methods itself, without the envelope
        path = template.format(msisdn=DEMO[0], message_id=message_id, name="magic:throttled", session_id=1)
        status, headers, payload = request(server, "PUT", path, {})
        documented = {m.upper() for m in item if m in METHODS}
        assert status == 405 and set(headers["Allow"].split(", ")) == documented, (path, status, payload)
        what = f"PUT {path}"
        contract.check_response(not_allowed, contract.lookup("#" + not_allowed), headers, payload, what)


def ussd(api: Client, esme: Any) -> None:
    """A dialogue with the bound ESME: dial, its menu, reply, cancel, and each refusal."""
    one, reply = "/api/handsets/{msisdn}/ussd", "/api/handsets/{msisdn}/ussd/reply"
    phone = DEMO[4]
    assert api("GET", one, 200, msisdn=phone)["state"] in ("idle", "closed")
    api("GET", one, 400, query="wait=soon", code="bad_query", msisdn=phone)
    api("GET", one, 404, code="unknown_handset", msisdn="x")
    api("POST", one, 400, {"dial": ""}, code="bad_field", msisdn=phone)
    api("POST", one, 404, {"dial": "*126#"}, code="unknown_handset", msisdn="x")
    api("POST", one, 413, raw=b"x" * 70000, code="body_too_large", msisdn=phone)
    opened = api("POST", one, 200, {"dial": "*126#"}, msisdn=phone)
    assert opened["state"] == "waiting_app"
    api("POST", one, 422, {"dial": "*126#"}, code="ussd_refused", msisdn=phone)
    api("POST", reply, 409, {"text": "1"}, code="no_prompt", msisdn=phone)
    menu = esme.submit(
        phone, "1 Pay\n2 Balance", service_type="USSD", registered_delivery=0, ussd_service_op=2
    )
    assert menu.status == 0
    shown = api("GET", one, 200, query="after=0&wait=5", msisdn=phone)
    assert shown["expects_reply"] is True and shown["screen"] == "1 Pay\n2 Balance"
    api("POST", reply, 400, {"txt": "1"}, code="bad_field", msisdn=phone)
    api("POST", reply, 404, {"text": "1"}, code="unknown_handset", msisdn="x")
    api("POST", reply, 413, raw=b"x" * 70000, code="body_too_large", msisdn=phone)
    stale = {"text": "2", "session": shown["session"] + 1}
    api("POST", reply, 409, stale, code="dialogue_changed", msisdn=phone)
    answered = api("POST", reply, 200, {"text": "2", "session": shown["session"]}, msisdn=phone)
    assert answered["state"] == "waiting_app"
    api("DELETE", one, 400, query="session=first", code="bad_query", msisdn=phone)
    api("DELETE", one, 409, query=f"session={shown['session'] + 1}", code="dialogue_changed", msisdn=phone)
    assert api("DELETE", one, 200, query=f"session={shown['session']}", msisdn=phone)["state"] == "closed"
    api("DELETE", one, 409, code="no_dialogue", msisdn=phone)
    api("DELETE", one, 404, code="unknown_handset", msisdn="x")


def faults(api: Client) -> None:
    """Add (201), refuse (409, 422), list, delete one (200, 404) and clear the API's rules."""
    slow = {"name": "openapi-slow", "effect": "delay_delivery", "msisdn": "8613800000099", "delay": [1, 2]}
    added = api("POST", "/api/faults", 201, slow)
    assert (added["source"], added["delay"], added["counted"], added["fired"]) == ("api", [1.0, 2.0], 0, 0)
    api("POST", "/api/faults", 409, slow, code="exists")
    wrong = {"name": "x", "effect": "no_receipt", "status": "ESME_RSYSERR"}
    assert "status" in api("POST", "/api/faults", 422, wrong, code="bad_fault")["error"]["message"]
    refuse = {"name": "openapi-refuse", "effect": "refuse_submit", "msisdn": "8613800000098", "every": 2}
    assert api("POST", "/api/faults", 201, refuse)["status"] == "ESME_RTHROTTLED"
    listed = {rule["name"]: rule for rule in api("GET", "/api/faults", 200)["faults"]}
    assert {"magic:expired", "openapi-slow", "openapi-refuse"} <= set(listed)
    assert (listed["magic:expired"]["state"], listed["magic:expired"]["error"]) == ("EXPIRED", 27)
    assert api("DELETE", "/api/faults/{name}", 200, name="openapi-slow")["deleted"] is True
    api("DELETE", "/api/faults/{name}", 404, name="openapi-slow", code="unknown_fault")
    api("DELETE", "/api/faults", 400, query="namespace=no%20such", code="bad_query")
    assert api("DELETE", "/api/faults", 200, query="namespace=openapi")["deleted"] == []
    assert api("DELETE", "/api/faults", 200)["deleted"] == ["openapi-refuse"]


def prune(server: Smsgw, api: Client, contract: Contract) -> None:
    """DELETE /api/messages: 400 without a time or with a row id, 200 once its pass is done,
    409 while another runs (with a cut long past, so nothing a later phase reads goes)."""
    for query in ("", "before=12345", "before=soon"):
        api("DELETE", "/api/messages", 400, query=query, code="bad_query")
    done = api("DELETE", "/api/messages", 200, query="before=2001-09-09T01:46:40Z")
    assert done["deleted"] == {"messages": 0} and done["before"] == "2001-09-09T01:46:40.000Z"
    for status, headers, payload in racing_prunes(server.ports["http_url"], "1000000000").values():
        contract.check("/api/messages", "DELETE", status, headers, payload)


def check_events(events: EventReader, contract: Contract) -> None:
    """Every kind of event arrived on /api/events, each data line matching its documented schema."""
    kinds = {"bound", "unbound", "refused", "message_accepted", "message_state_changed", "delivery_done"}
    events.read_until(kinds | {"handset_changed", "ussd_changed"})
    _, stream = contract.response("/api/events", "GET", 200)
    event = stream["content"]["text/event-stream"]["x-event-data"]
    mapping = contract.lookup(event["$ref"])["discriminator"]["mapping"]
    assert {kind for kind, _ in events.events} <= set(mapping)
    for name, data in events.events:
        assert data["type"] == name, (name, data)
        contract.validate_at(mapping[name][1:], data, f"event {name}")  # the one schema: clear errors
        contract.validate_at(event["$ref"][1:], data, f"event {name}")


def test_every_answer_matches_the_document(
    server: Smsgw, start_server, connect, api: Client, contract: Contract
) -> None:
    """Every route, success and error, over real HTTP and SMPP: each body matches its documented schema."""
    api("GET", "/api/openapi.json", 200)
    api("GET", "/api/health", 200)
    events = EventReader(server)
    try:
        assert events.response.status == 200
        _, stream = contract.response("/api/events", "GET", 200)
        assert (events.response.getheader("Content-Type") or "").split(";")[0] in stream["content"]
        contract.seen.add(("/api/events", "get", "200"))

        esme = bind(server, connect, api)
        message_id = mt_messages(api, esme)
        long_polls(api, esme)
        mo_messages(api, esme)
        handsets(server, api, esme)
        timeline(api)
        errors(api)
        ambiguous_ids(start_server, connect, contract)
        no_fresh_number(start_server, contract)
        unrouted(server, contract, message_id)
        ussd(api, esme)
        prune(server, api, contract)
        api("GET", "/api/clock", 200)
        api("GET", "/api/clock", 400, query="namespace=a%20b", code="bad_query")
        api("POST", "/api/clock", 200, {"advance_seconds": 0.001})
        faults(api)
        esme.close()  # for the unbound event
        check_events(events, contract)
    finally:
        events.close()

    contract.assert_every_answer_seen()


def test_unroutable_mo_is_422(start_server, contract: Contract) -> None:
    """Without a default account, an MO to a short code nobody owns is 422 unroutable."""
    smsgw = start_server('[network]\ndefault_account = ""\n')
    body = {"to": "99999", "text": "hi"}
    Client(smsgw.ports["http_url"], contract)(
        "POST", "/api/handsets/{msisdn}/sms", 422, body, msisdn=DEMO[0], code="unroutable"
    )
