"""The HTTP API over real HTTP: routes, filters, changes, and the one error envelope."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import Esme, Smsgw, wait_until

PHONE = "8613800000005"


def raw_request(smsgw: Smsgw, method: str, path: str, data: bytes) -> tuple[int, dict, dict]:
    request = urllib.request.Request(smsgw.ports["http_url"] + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def test_health_names_the_smpp_port(server: Smsgw) -> None:
    """/api/health says ok and gives the SMPP port actually listened on."""
    health = server.get("/api/health")
    assert health["status"] == "ok" and health["smpp"]["port"] == server.ports["smpp"]


def test_sessions_lists_a_bound_esme(server: Smsgw) -> None:
    """A bound transceiver shows in /api/sessions with its system_id, bind type and window."""
    esme = Esme(server.smpp_address)
    try:
        esme.bind("transceiver")
        sessions = wait_until(lambda: server.get("/api/sessions")["sessions"], what="a session")
        (session,) = [s for s in sessions if s["bind_type"] == "transceiver"]
        assert session["system_id"] == "smsgw" and session["window"]["size"] == 100
    finally:
        esme.close()


def test_messages_filters_and_inbox(server: Smsgw) -> None:
    """Submitted messages are listed by msisdn, direction and state, and in the phone's inbox."""
    esme = Esme(server.smpp_address)
    try:
        esme.bind("transmitter")
        message_id = esme.submit_ok(PHONE, "filter me")
    finally:
        esme.close()
    listed = server.get(f"/api/messages?msisdn={PHONE}&direction=MT&state=DELIVRD")["messages"]
    assert message_id in [m["message_id"] for m in listed]
    assert all(m["msisdn"] == PHONE and m["state"] == "DELIVRD" for m in listed)
    inbox = server.get("/api/handsets/%2B" + PHONE + "/inbox")["messages"]
    newest = inbox[-1]
    assert [p["message_id"] for p in newest["parts"]] == [message_id] and newest["text"] == "filter me"
    assert server.message(message_id)["to"] == PHONE


def test_patch_subscriber_name_and_state(server: Smsgw) -> None:
    """PATCH changes a subscriber's name and phone state; national notation finds it."""
    status, body = server.api("PATCH", "/api/handsets/13800000003", {"name": "Zhang San", "state": "off"})
    assert status == 200 and body == {
        "msisdn": "8613800000003",
        "name": "Zhang San",
        "state": "off",
        "namespace": "",
    }
    server.set_phone("8613800000003", "on")
    assert server.get("/api/handsets/8613800000003")["name"] == "Zhang San"


def test_mo_is_listed_with_its_text(server: Smsgw) -> None:
    """POST outbox creates an MO to the short code, listed with its decoded text."""
    status, body = server.api("POST", f"/api/handsets/{PHONE}/sms", {"to": "12345", "text": "确认 YES"})
    assert status == 201
    (message_id,) = body["message_ids"]
    message = server.message(message_id)
    assert (message["direction"], message["from"], message["to"], message["text"]) == (
        "MO",
        PHONE,
        "12345",
        "确认 YES",
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/nothing", None, 404, "not_found"),
        ("GET", "/api/handsets/not-a-number", None, 404, "unknown_handset"),
        ("GET", "/api/messages/999999", None, 404, "unknown_message"),
        ("GET", "/api/messages?state=DONE", None, 400, "bad_query"),
        ("GET", "/api/messages?limit=5000", None, 400, "bad_query"),
        ("GET", "/api/messages?direction=UP", None, 400, "bad_query"),
        ("PATCH", f"/api/handsets/{PHONE}", {"state": "dead"}, 400, "bad_field"),
        ("PATCH", f"/api/handsets/{PHONE}", {"colour": "red"}, 400, "bad_field"),
        ("POST", f"/api/handsets/{PHONE}/sms", {"text": "no destination"}, 400, "bad_field"),
        ("POST", f"/api/handsets/{PHONE}/sms", {"to": "12345"}, 400, "bad_field"),
    ],
)
def test_errors_use_one_envelope(server: Smsgw, method: str, path: str, body, status: int, code: str) -> None:
    """Every error is {"error": {"code", "message"}} with the right HTTP status."""
    got_status, payload = server.api(method, path, body)
    assert got_status == status
    assert payload["error"]["code"] == code and payload["error"]["message"]


def test_bad_json_and_wrong_method(server: Smsgw) -> None:
    """A body that is not JSON gets 400 bad_json; a wrong method 405 with an Allow header."""
    status, _, payload = raw_request(server, "POST", f"/api/handsets/{PHONE}/sms", b"{not json")
    assert status == 400 and payload["error"]["code"] == "bad_json"
    status, headers, payload = raw_request(server, "DELETE", "/api/health", b"")
    assert status == 405 and payload["error"]["code"] == "method_not_allowed"
    assert headers.get("Allow") == "GET"


def test_oversized_body_is_refused(server: Smsgw) -> None:
    """A request body over 64 KiB gets 413 with the JSON envelope."""
    status, _, payload = raw_request(server, "POST", f"/api/handsets/{PHONE}/sms", b"x" * 70000)
    assert status == 413 and payload["error"]["code"] == "body_too_large"


def test_bad_requests_change_nothing_and_say_why(server: Smsgw) -> None:
    """A PATCH with one bad field changes nothing; odd numbers and bad numbers get 400, not 500 or 409."""
    before = server.get("/api/handsets/8613800000004")
    status, _ = server.api("PATCH", "/api/handsets/8613800000004", {"name": "X", "state": "dead"})
    assert status == 400 and server.get("/api/handsets/8613800000004") == before
    for bad in ("limit=%C2%B2", "limit=0", "wait=-1"):
        status, payload = server.api("GET", f"/api/handsets/8613800000004/inbox?{bad}")
        assert (status, payload["error"]["code"]) == (400, "bad_query"), bad
    status, payload = server.api("POST", "/api/handsets", {"msisdn": "123exists"})
    assert (status, payload["error"]["code"]) == (400, "bad_field")
    status, headers, payload = raw_request(server, "POST", "/api/events", b"")
    assert (
        status == 405 and payload["error"]["code"] == "method_not_allowed" and headers.get("Allow") == "GET"
    )


def test_a_phone_that_is_off_cannot_send_and_a_cleared_inbox_answers_its_cursor(server: Smsgw) -> None:
    """POST sms from an off phone is 422 handset_off; after a clear, inbox?after=0 answers the cleared point."""
    server.set_phone("8613800000003", "off")
    status, payload = server.api("POST", "/api/handsets/8613800000003/sms", {"to": "12345", "text": "hi"})
    assert (status, payload["error"]["code"]) == (422, "handset_off")
    server.set_phone("8613800000003", "on")
    assert server.api("POST", "/api/handsets/8613800000003/sms", {"to": "12345", "text": ""})[0] == 400
    server.api(
        "POST", "/api/handsets/8613800000004/sms", {"to": "+8613800000003", "text": "before the clear"}
    )
    cleared = server.api("DELETE", "/api/handsets/8613800000003/inbox")[1]["cursor"]
    answer = server.get("/api/handsets/8613800000003/inbox?after=0")
    assert answer["messages"] == [] and answer["cursor"] == cleared > 0
