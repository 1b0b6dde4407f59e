"""The merchant's OpenAPI document (``simulators/merchant/openapi.json``, served at ``/openapi.json``)
against a real merchant, as tests/e2e/test_openapi.py checks the carrier's.

Every route is exercised over real HTTP and every answer's body is validated against the schema
the document gives for that path, method and status (``additionalProperties: false`` throughout).
Every route of :class:`MerchantApi` must be documented, and every documented status (but 500) seen.
"""

from __future__ import annotations

import importlib.resources
import inspect
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from simulators.merchant.http import MerchantApi
from tests.e2e.conftest import call_json
from tests.e2e.test_merchant_api import Carrier
from tests.e2e.test_openapi import METHODS, Client, Contract, all_refs

pytestmark = pytest.mark.e2e

BUYER, PUSHED = "8613800000001", "8613800000003"


def file_document() -> dict[str, Any]:
    text = (
        importlib.resources.files("simulators.merchant").joinpath("openapi.json").read_text(encoding="utf-8")
    )
    return json.loads(text)


def pattern_of(template: str) -> str:
    """The route pattern a documented path stands for: ``/orders/{id}`` -> ``orders/([^/]+)``."""
    pieces = re.split(r"\{[^}/]+\}", template[1:])
    return "([^/]+)".join(re.escape(piece) for piece in pieces)


def server_routes() -> list[tuple[str, str, Any]]:
    api = MerchantApi(None, None, None)  # type: ignore[arg-type]
    return [(method, pattern.pattern, handler) for method, pattern, handler in api.routes]


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carrier]:
    smsgw = Carrier.started(tmp_path_factory.mktemp("carrier"))
    yield smsgw
    smsgw.stop()


def test_the_document_is_well_formed_openapi_3_1() -> None:
    """Its $refs resolve into components, its schemas are 2020-12 schemas, path parameters are declared."""
    document = file_document()
    contract = Contract(document)
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    for at, reference in all_refs(document):
        contract.lookup(reference)
        assert reference.startswith("#/components/"), f"{at}: $ref {reference!r}"
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    operation_ids = []
    for template, item in document["paths"].items():
        names = set(re.findall(r"\{([^}/]+)\}", template))
        for method in set(item) & set(METHODS):
            operation_ids.append(item[method]["operationId"])
            params = item.get("parameters", []) + item[method].get("parameters", [])
            assert {p["name"] for p in params if p["in"] == "path"} == names, (method, template)
            for response in item[method]["responses"].values():
                response = contract.lookup(response["$ref"]) if "$ref" in response else response
                assert response["description"], (method, template)
    assert len(operation_ids) == len(set(operation_ids))


def test_every_route_is_documented_with_its_query_and_body() -> None:
    """The routes of MerchantApi and the document's paths are the same, and so are the query
    parameters each handler reads and the body fields it allows."""
    document = file_document()
    by_route = {
        (method.upper(), pattern_of(template)): item[method]
        for template, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    routes = server_routes()
    assert {(m, p) for m, p, _ in routes} == set(by_route)
    contract = Contract(document)
    for method, pattern, handler in routes:
        operation, source = by_route[(method, pattern)], inspect.getsource(handler)
        read = set(re.findall(r"query\(request, \"(\w+)\"", source))
        assert read == {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}, pattern
        allowed = re.search(r"json_body\(request, \(([^)]*)\)\)", source)
        if allowed is None:
            assert "requestBody" not in operation, (method, pattern)
            continue
        fields = set(re.findall(r"\"(\w+)\"", allowed.group(1)))
        schema = contract.lookup(operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert fields == set(schema["properties"]), (method, pattern, fields)


def code_sent(carrier: Carrier, msisdn: str, after: int) -> str:
    query = urllib.parse.urlencode({"after": after, "wait": 5, "match": r"\d{6}"})
    messages = carrier.get(f"/api/handsets/{msisdn}/inbox?{query}")["messages"]
    assert messages, f"no code reached {msisdn}"
    return re.search(r"\d{6}", messages[0]["text"])[0]  # type: ignore[index]


def test_every_answer_matches_the_document(carrier: Carrier) -> None:
    """Every route, success and error, over real HTTP: each body matches its documented schema."""
    status, _, served = call_json(carrier.ports["merchant_url"] + "/openapi.json", "GET")
    assert status == 200 and served == file_document()
    contract = Contract(served)
    api = Client(carrier.ports["merchant_url"], contract)
    api("GET", "/openapi.json", 200)
    api("GET", "/health", 200)
    big = b"x" * 70000

    cursor = carrier.get(f"/api/handsets/{BUYER}/inbox")["cursor"]
    otp = {"msisdn": "+" + BUYER, "amount": "2.00", "currency": "CNY", "method": "otp"}
    made = api("POST", "/orders", 201, otp)
    api("POST", "/orders", 400, {**otp, "msisdn": "abc"}, code="invalid_order")
    api("POST", "/orders", 400, {"msisdn": BUYER}, code="missing_field")
    api("POST", "/orders", 400, raw=b"[1]", code="bad_json")
    api("POST", "/orders", 413, raw=big, code="body_too_large")
    api("GET", "/orders/{id}", 200, id=made["id"])
    api("GET", "/orders/{id}", 404, id="ord_9999", code="order_not_found")
    confirm = "/orders/{id}/confirm"
    refused = api("POST", confirm, 422, {"code": "000000"}, id=made["id"], code="wrong_code")
    assert refused["error"]["attempts_left"] == 2
    api("POST", confirm, 400, {"code": None}, id=made["id"], code="bad_field")
    api("POST", confirm, 404, {"code": "1"}, id="ord_9999", code="order_not_found")
    api("POST", confirm, 413, raw=big, id=made["id"])
    paid = api("POST", confirm, 200, {"code": code_sent(carrier, BUYER, cursor)}, id=made["id"])
    assert paid["status"] == "paid"
    api("POST", "/orders/{id}/cancel", 409, id=made["id"], code="order_closed")
    api("POST", "/orders/{id}/cancel", 404, id="ord_9999", code="order_not_found")
    push = api("POST", "/orders", 201, {**otp, "msisdn": PUSHED, "method": "ussd_push"})
    api("POST", confirm, 409, {"code": "1"}, id=push["id"], code="wrong_method")
    assert api("POST", "/orders/{id}/cancel", 200, id=push["id"])["status"] == "cancelled"
    assert api("GET", "/orders", 200, query="limit=1")["next_before"] == push["id"]
    api("GET", "/orders", 400, query="before=42", code="bad_query")

    wallet = {"msisdn": "+86 139 0000 0456", "pin": "1234", "balance": "5.00", "language": "zh"}
    assert api("POST", "/wallets", 201, wallet)["msisdn"] == "8613900000456"
    api("POST", "/wallets", 409, wallet, code="wallet_exists")
    api("POST", "/wallets", 400, {**wallet, "pin": "x"}, code="bad_field")
    api("POST", "/wallets", 413, raw=big)
    api("GET", "/wallets", 200, query="limit=1")
    api("GET", "/wallets", 400, query="after=999", code="bad_query")
    one = "/wallets/{msisdn}"
    assert api("GET", one, 200, msisdn="13900000456")["payments"] == []
    api("GET", one, 404, msisdn="8613900000999", code="wallet_not_found")
    top = one + "/topup"
    assert api("POST", top, 200, {"amount": 100}, msisdn="+8613900000456")["balance"] == 600
    api("POST", top, 400, {"amount": "x"}, msisdn="8613900000456", code="bad_field")
    api("POST", top, 404, {"amount": 1}, msisdn="abc", code="wallet_not_found")
    api("POST", top, 413, raw=big, msisdn="8613900000456")
    assert api("GET", one, 200, msisdn=BUYER)["payments"][-1]["order_id"] == made["id"]

    base = carrier.ports["merchant_url"]
    status, headers, payload = call_json(base + "/nothing", "GET")
    assert (status, payload["error"]["code"]) == (404, "not_found")
    contract.check_response(
        "/components/responses/NotFound",
        contract.lookup("#/components/responses/NotFound"),
        headers,
        payload,
        "",
    )
    for template, item in served["paths"].items():
        path = template.format(id=made["id"], msisdn=BUYER)
        status, headers, payload = call_json(base + path, "PUT", {})
        assert status == 405 and set(headers["Allow"].split(", ")) == {
            m.upper() for m in item if m in METHODS
        }
        where = "/components/responses/MethodNotAllowed"
        contract.check_response(where, contract.lookup("#" + where), headers, payload, f"PUT {path}")

    contract.assert_every_answer_seen()
