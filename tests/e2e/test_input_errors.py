"""The HTTP API's answers to malformed input: each names what is wrong, not something else."""

from __future__ import annotations

import http.client
import json

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e

PHONE = "8613800000001"


def post_raw(server: Smsgw, path: str, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_body_that_is_not_utf8_is_called_so(server: Smsgw) -> None:
    """Latin-1 bytes in well-formed JSON: the answer is about the encoding, with the byte."""
    status, payload = post_raw(
        server, f"/api/handsets/{PHONE}/sms", '{"to": "12345", "text": "café"}'.encode("latin-1")
    )
    assert status == 400 and payload["error"]["code"] == "bad_json"
    message = payload["error"]["message"]
    assert "not UTF-8" in message and "0xe9" in message and "not JSON" not in message


@pytest.mark.parametrize("to", ["abc", "+", "12 34", 12345])
def test_an_invalid_to_is_called_invalid_not_missing(server: Smsgw, to: object) -> None:
    """POST …/sms with a `to` that is there but no short code or number says so, naming it; a
    missing one is still called required."""
    status, payload = server.api("POST", f"/api/handsets/{PHONE}/sms", {"to": to, "text": "hi"})
    assert status == 400 and payload["error"]["code"] == "bad_field"
    message = payload["error"]["message"]
    assert "must be a short code" in message and repr(to) in message and "required" not in message
    status, payload = server.api("POST", f"/api/handsets/{PHONE}/sms", {"text": "hi"})
    assert (
        status == 400 and "'to'" in payload["error"]["message"] and "required" in payload["error"]["message"]
    )


@pytest.mark.parametrize("path", ["/api/handsets/abc", "/api/handsets/abc/inbox", "/api/messages?msisdn=abc"])
def test_a_number_that_is_no_phone_number_is_named_so(server: Smsgw, path: str) -> None:
    """404 unknown_handset as before, but the message says the text is not a phone number."""
    status, payload = server.api("GET", path)
    assert status == 404 and payload["error"]["code"] == "unknown_handset"
    assert "'abc' is not a phone number" in payload["error"]["message"]


def test_strict_provisioning_tells_a_typo_from_a_number_it_lacks(start_server) -> None:
    """With strict provisioning a valid number the network lacks is "not a handset of this
    network", and a typo still "not a phone number"."""
    server = start_server('[network]\nprovisioning = "strict"\n')
    status, payload = server.api("GET", "/api/handsets/8613900000001")
    assert status == 404 and "is not a handset of this network" in payload["error"]["message"]
    status, payload = server.api("GET", "/api/handsets/abc")
    assert status == 404 and "'abc' is not a phone number" in payload["error"]["message"]
