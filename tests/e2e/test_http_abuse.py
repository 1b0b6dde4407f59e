"""What a clumsy or hostile HTTP client sends gets a 4xx in the API's envelope, never a 500,
and cannot hold the server: text that cannot be stored, numbers past any bound, ids in
other scripts' digits, malformed Host and Origin headers, requests that never finish
arriving."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

import pytest

from tests.e2e.conftest import DEFAULT_ACCOUNT_TOML, Smsgw, wait_until
from tests.e2e.test_ussd import USSR_REQUEST, next_ussd, ussd_submit

pytestmark = pytest.mark.e2e

PHONE = "8613800000001"


def request(
    server: Smsgw, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, Any]:
    """One request on its own connection; (status, decoded JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def error(answer: tuple[int, Any]) -> tuple[int, str]:
    status, body = answer
    return status, body["error"]["code"]


# -- point 11: each case a 400 or 404, never a 500 -------------------------------------


def test_a_cursor_past_any_integer_is_400(server: Smsgw) -> None:
    assert error(request(server, "GET", "/api/messages?before=" + "9" * 23)) == (400, "bad_query")


def test_a_cursor_longer_than_python_converts_is_400(server: Smsgw) -> None:
    digits = "1" * 5000  # past Python's 4,300-digit limit of int("...")
    assert error(request(server, "GET", f"/api/handsets/{PHONE}/ussd?after={digits}")) == (400, "bad_query")
    assert error(request(server, "GET", f"/api/handsets/{PHONE}/inbox?after={digits}")) == (400, "bad_query")


def test_a_message_id_past_any_row_is_404(server: Smsgw) -> None:
    message_id = "f" * 40
    assert error(request(server, "GET", f"/api/messages/{message_id}")) == (404, "unknown_message")
    assert error(request(server, "GET", f"/api/messages/{message_id}/pdus")) == (404, "unknown_message")


def test_json_nested_deeper_than_python_parses_is_400(server: Smsgw) -> None:
    body = b'{"name": ' + b"[" * 20000 + b"]" * 20000 + b"}"
    answer = request(server, "PATCH", f"/api/handsets/{PHONE}", {"Content-Type": "application/json"}, body)
    assert error(answer) == (400, "bad_json")


def test_a_host_header_that_is_no_url_is_refused(server: Smsgw) -> None:
    assert error(request(server, "GET", "/api/health", {"Host": "[::1"})) == (421, "wrong_host")


def test_a_session_id_in_other_digits_drops_nothing(server: Smsgw, connect) -> None:
    esme = connect(server)
    esme.bind("transceiver")
    sessions = server.get("/api/sessions")["sessions"]
    ours = sessions[-1]["id"]
    # ١ is ARABIC-INDIC DIGIT ONE: str.isdecimal takes it, int() reads it as 1.
    arabic = "".join(chr(0x660 + int(d)) for d in str(ours))
    quoted = "".join(f"%{b:02X}" for b in arabic.encode())
    assert error(request(server, "DELETE", f"/api/sessions/{quoted}")) == (404, "unknown_session")
    assert ours in [s["id"] for s in server.get("/api/sessions")["sessions"]]
    assert esme.submit_ok()


def test_an_origin_of_another_scheme_cannot_write(server: Smsgw) -> None:
    body = json.dumps({"state": "on"}).encode()
    path = f"/api/handsets/{PHONE}"
    port = server.ports["http"]
    answer = request(server, "PATCH", path, {"Origin": f"https://127.0.0.1:{port}"}, body)
    assert error(answer) == (403, "cross_origin")
    answer = request(server, "PATCH", path, {"Origin": f"http://127.0.0.1:{port + 1}"}, body)
    assert error(answer) == (403, "cross_origin")
    assert request(server, "PATCH", path, {"Origin": f"http://127.0.0.1:{port}"}, body)[0] == 200


def test_a_same_site_write_is_refused(server: Smsgw) -> None:
    body = json.dumps({"state": "on"}).encode()
    path = f"/api/handsets/{PHONE}"
    answer = request(server, "PATCH", path, {"Sec-Fetch-Site": "same-site"}, body)
    assert error(answer) == (403, "cross_origin")
    assert request(server, "PATCH", path, {"Sec-Fetch-Site": "same-origin"}, body)[0] == 200
    assert request(server, "PATCH", path, {"Sec-Fetch-Site": "none"}, body)[0] == 200


# -- point 6: text that cannot be stored -----------------------------------------------


def test_a_lone_surrogate_in_a_handset_name_is_refused(server: Smsgw) -> None:
    body = b'{"name": "\\udfff"}'  # JSON's escape for half a UTF-16 pair
    answer = request(server, "PATCH", f"/api/handsets/{PHONE}", {"Content-Type": "application/json"}, body)
    assert error(answer) == (400, "bad_field")
    assert "'name'" in answer[1]["error"]["message"]
    assert request(server, "GET", "/api/handsets")[0] == 200
    assert request(server, "GET", f"/api/handsets/{PHONE}")[1]["name"] != "\udfff"
    nested = b'{"msisdn": "+8613800000077", "name": "ok", "namespace": ["\\ud800"]}'
    assert error(request(server, "POST", "/api/handsets", {}, nested)) == (400, "bad_field")


def test_a_lone_surrogate_in_an_sms_is_refused(server: Smsgw) -> None:
    body = b'{"to": "12345", "text": "pay \\udfff"}'
    assert error(request(server, "POST", f"/api/handsets/{PHONE}/sms", {}, body)) == (400, "bad_field")
    body = b'{"to": "\\u0661\\u0662\\u0663\\u0664\\u0665", "text": "hi"}'  # ١٢٣٤٥
    assert error(request(server, "POST", f"/api/handsets/{PHONE}/sms", {}, body)) == (400, "bad_field")


def test_a_lone_surrogate_as_a_ussd_reply_is_refused_and_the_dialogue_carries_on(
    start_server, connect
) -> None:
    server = start_server(DEFAULT_ACCOUNT_TOML)
    msisdn = "8613800000032"
    esme = connect(server)
    esme.bind("transceiver")
    assert server.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})[0] == 200
    session = next_ussd(esme, 1).its_session_info
    assert ussd_submit(esme, msisdn, "1 Pay\n2 Balance", USSR_REQUEST, session).status == 0
    menu = server.get(f"/api/handsets/{msisdn}/ussd?after=0&wait=5")
    assert menu["expects_reply"] is True
    reply = f"/api/handsets/{msisdn}/ussd/reply"
    assert error(request(server, "POST", reply, {}, b'{"text": "\\udfff"}')) == (400, "bad_field")
    started = time.monotonic()
    shown = server.get(f"/api/handsets/{msisdn}/ussd")
    assert time.monotonic() - started < 2 and shown["expects_reply"] is True
    assert server.api("POST", reply, {"text": "2"})[0] == 200
    assert bytes(next_ussd(esme, 2).short_message) == b"2"


# -- point 8: half-sent requests, and health ---------------------------------------------


def test_half_sent_requests_time_out_count_as_open_and_never_block_health(start_server) -> None:
    server = start_server("[http]\nmax_open_requests = 4\nrequest_timeout = 1.5\n")
    address = ("127.0.0.1", server.ports["http"])
    slow = []
    for _ in range(6):  # more than the limit, each stuck in its headers
        sock = socket.create_connection(address, timeout=5)
        sock.sendall(b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(sock)
    silent = socket.create_connection(address, timeout=5)  # never sends a byte
    try:
        wait_until(
            lambda: request(server, "GET", "/api/sessions")[0] == 429, 1.0, "the half-sent requests to count"
        )
        assert request(server, "GET", "/api/health")[0] == 200
        started = time.monotonic()
        for sock in slow:
            answer = _read_to_close(sock, timeout=5)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        assert _read_to_close(silent, timeout=5) == b""
        assert time.monotonic() - started < 3.5
        assert request(server, "GET", "/api/sessions")[0] == 200
    finally:
        for sock in (*slow, silent):
            sock.close()


def test_a_request_dripped_byte_by_byte_is_cut_at_the_deadline(start_server) -> None:
    """Twisted's idle timeout is reset by every byte; the request deadline is not."""
    server = start_server("[http]\nrequest_timeout = 1\n")
    sock = socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=5)
    try:
        started = time.monotonic()
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                break
        assert _read_to_close(sock, timeout=3).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 3
    finally:
        sock.close()


def _read_to_close(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes; fails if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    received = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the server kept the connection open ({received[:80]!r} so far)")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
