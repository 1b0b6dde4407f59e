"""USSD over real TCP and HTTP: dialogues with an SMPP application (smpplib) and an HTTP one.

smpplib 2.2.4 cannot parse a deliver_sm that carries ussd_service_op (not in its DeliverSM table); the
recipe in docs/ussd.md adds it to smpplib's DeliverSM parameter table, as this module does.
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import smpplib.command

from .conftest import DEFAULT_ACCOUNT_TOML, Esme, Smsgw

pytestmark = pytest.mark.e2e

if "ussd_service_op" not in smpplib.command.DeliverSM.params:
    smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)
    smpplib.command.DeliverSM.params_order += ("ussd_service_op",)

USSR_REQUEST, USSN_REQUEST, PSSR_RESPONSE, USSR_CONFIRM, PSSR_INDICATION = 2, 3, 17, 18, 1


def ussd_submit(esme: Esme, msisdn: str, text: str, op: int, session_info: int | None = None) -> Any:
    """The ESME sends a USSD screen; return the submit_sm_resp."""
    fields: dict[str, Any] = {"service_type": "USSD", "registered_delivery": 0, "ussd_service_op": op}
    if session_info is not None:
        fields["its_session_info"] = session_info
    return esme.submit(msisdn, text, source_addr="*126#", **fields)


def next_ussd(esme: Esme, count: int) -> Any:
    """The ``count``-th USSD deliver_sm the ESME received."""
    return esme.wait_deliveries(count)[count - 1]


def screen(server: Smsgw, msisdn: str, after: int) -> dict[str, Any]:
    return server.get(f"/api/handsets/{msisdn}/ussd?after={after}&wait=5")


def test_menu_dialogue_with_an_smpp_application(server: Smsgw, connect) -> None:
    """*126# reaches the ESME as PSSR indication; its menu shows; the answer comes back as USSR confirm; PSSR response ends it."""
    msisdn = "8613800000031"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    status, opened = server.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})
    assert status == 200 and opened["state"] == "waiting_app"
    indication = next_ussd(esme, 1)
    assert indication.ussd_service_op == PSSR_INDICATION and bytes(indication.short_message) == b"*126#"
    assert bytes(indication.source_addr).decode() == msisdn and bytes(indication.destination_addr) == b"*126#"
    assert bytes(indication.service_type) == b"USSD"
    session = indication.its_session_info
    assert ussd_submit(esme, msisdn, "1 Pay merchant\n2 My balance", USSR_REQUEST, session).status == 0
    menu = screen(server, msisdn, 0)
    assert menu["screen"] == "1 Pay merchant\n2 My balance" and menu["expects_reply"] is True

    status, _ = server.api("POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "2"})
    assert status == 200
    confirm = next_ussd(esme, 2)
    assert (confirm.ussd_service_op, bytes(confirm.short_message), confirm.its_session_info) == (
        USSR_CONFIRM,
        b"2",
        session,
    )
    ussd_submit(esme, msisdn, "Balance: 120.00 CNY", PSSR_RESPONSE, session)
    final = screen(server, msisdn, menu["cursor"])
    assert (final["screen"], final["state"], final["expects_reply"]) == (
        "Balance: 120.00 CNY",
        "closed",
        False,
    )
    assert final["inputs"] == ["2"]


def test_push_prompt_busy_handset_and_cancel(server: Smsgw, connect) -> None:
    """An ESME pushes a prompt to an idle handset; a second push is refused; the user's cancel reaches the ESME."""
    msisdn = "8613800000032"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    assert ussd_submit(esme, msisdn, "Pay 25.00 CNY to ShopX?\n1 Confirm\n2 Cancel", USSR_REQUEST).status == 0
    prompt = screen(server, msisdn, 0)
    assert prompt["origin"] == "network" and prompt["expects_reply"] is True
    busy = ussd_submit(esme, msisdn, "Another prompt", USSR_REQUEST)
    assert busy.status == 0x45  # ESME_RSUBMITFAIL: the handset is in a dialogue
    status, cancelled = server.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    assert status == 200 and cancelled["state"] == "closed" and "cancel" in cancelled["end_reason"]
    abort = next_ussd(esme, 1)
    assert abort.ussd_service_op == 0x81 and abort.its_session_info & 1 == 1


def test_push_answer_comes_back_as_confirm(server: Smsgw, connect) -> None:
    """The handset's answer to a pushed prompt reaches the ESME as USSR confirm with the session it echoes."""
    msisdn = "8613800000033"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    ussd_submit(esme, msisdn, "Enter PIN", USSR_REQUEST)
    prompt = screen(server, msisdn, 0)
    server.api("POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "1234"})
    confirm = next_ussd(esme, 1)
    assert (confirm.ussd_service_op, bytes(confirm.short_message)) == (USSR_CONFIRM, b"1234")
    ussd_submit(esme, msisdn, "Paid. Ref QK7", USSN_REQUEST, confirm.its_session_info)
    notice = screen(server, msisdn, prompt["cursor"])
    assert (notice["screen"], notice["state"]) == ("Paid. Ref QK7", "closed")


def test_timeouts_end_the_dialogue_on_both_sides(start_server, connect) -> None:
    """No answer from the application shows a network error; no answer from the user aborts at the ESME."""
    smsgw = start_server("[network]\nussd_user_timeout = 1\nussd_app_timeout = 1\n")
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    opened = smsgw.api("POST", "/api/handsets/8613800000034/ussd", {"dial": "*126*9#"})[1]
    assert next_ussd(esme, 1).ussd_service_op == PSSR_INDICATION
    ended = screen(smsgw, "8613800000034", opened["cursor"])
    assert ended["state"] == "closed" and "Connection problem" in ended["screen"]
    assert "application did not answer" in ended["end_reason"]

    ussd_submit(esme, "8613800000035", "Still there?", USSR_REQUEST)
    prompt = screen(smsgw, "8613800000035", 0)
    gone = screen(smsgw, "8613800000035", prompt["cursor"])
    assert gone["state"] == "closed" and "user did not answer" in gone["end_reason"]
    assert esme.wait_deliveries(3, timeout=5)[-1].ussd_service_op == 0x81


def test_a_late_menu_is_refused_and_never_shown(start_server, connect) -> None:
    """After the app timeout's abort, a USSR request naming the ended dialogue's session gets
    ESME_RSUBMITFAIL (0x45), and the phone keeps its error screen: a late menu is no push."""
    smsgw = start_server("[network]\nussd_app_timeout = 1\n")
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    msisdn = "8613800000041"
    opened = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})[1]
    session = next_ussd(esme, 1).its_session_info
    abort = next_ussd(esme, 2)
    # The abort's text is in the dialogue's data_coding: GSM 03.38, where "_" is 0x11.
    assert (abort.ussd_service_op, abort.data_coding, bytes(abort.short_message)) == (
        0x81,
        0,
        b"app\x11timeout",
    )
    assert abort.its_session_info == session | 1
    late = ussd_submit(esme, msisdn, "late menu", USSR_REQUEST, session)
    assert late.status == 0x45
    late_notice = ussd_submit(esme, msisdn, "late notice", USSN_REQUEST, session)
    assert late_notice.status == 0x45
    shown = smsgw.get(f"/api/handsets/{msisdn}/ussd")
    assert (shown["session"], shown["origin"], shown["state"], shown["end_code"]) == (
        opened["session"],
        "mobile",
        "closed",
        "app_timeout",
    )
    assert "Connection problem" in shown["screen"]
    # Without a session (or with one of its own), the same text is a push as usual.
    assert ussd_submit(esme, msisdn, "Pay 5.00?", USSR_REQUEST).status == 0
    assert smsgw.get(f"/api/handsets/{msisdn}/ussd")["origin"] == "network"


def test_a_session_the_application_ended_is_free_for_a_new_push(server: Smsgw, connect) -> None:
    """A push may reuse the session of a dialogue the application itself closed."""
    msisdn = "8613800000042"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    assert ussd_submit(esme, msisdn, "Paid. Ref Q1", USSN_REQUEST, 0x2A00).status == 0
    assert ussd_submit(esme, msisdn, "Pay 7.00?\n1 Yes", USSR_REQUEST, 0x2A00).status == 0
    assert screen(server, msisdn, 0)["screen"] == "Pay 7.00?\n1 Yes"


def test_a_push_keeps_the_session_number_the_application_chose(server: Smsgw, connect) -> None:
    """A USSR request carrying its_session_info 0x2A00 opens a dialogue that answers with
    0x2A00, and the application's close with 0x2A00 ends it."""
    msisdn = "8613800000043"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    assert ussd_submit(esme, msisdn, "Pay 25.00 CNY?\n1 Yes\n2 No", USSR_REQUEST, 0x2A00).status == 0
    prompt = screen(server, msisdn, 0)
    server.api("POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "1"})
    confirm = next_ussd(esme, 1)
    assert (confirm.ussd_service_op, bytes(confirm.short_message), confirm.its_session_info) == (
        USSR_CONFIRM,
        b"1",
        0x2A00,
    )
    assert ussd_submit(esme, msisdn, "Paid. Ref QK9", PSSR_RESPONSE, 0x2A00).status == 0
    closed = screen(server, msisdn, prompt["cursor"])
    assert (closed["screen"], closed["state"], closed["end_code"]) == ("Paid. Ref QK9", "closed", "app_ended")


def test_an_application_that_refuses_the_dial_ends_the_dialogue_at_once(start_server, connect) -> None:
    """An ESME answering the PSSR indication's deliver_sm with an error (0x08) ends the
    dialogue with the MMI error and end_code app_failed, long before the app timeout."""
    smsgw = start_server("[network]\nussd_app_timeout = 600\n")
    esme: Esme = connect(smsgw, deliver_status=0x08)
    esme.bind("transceiver")
    msisdn = "8613800000044"
    opened = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})[1]
    assert next_ussd(esme, 1).ussd_service_op == PSSR_INDICATION
    ended = screen(smsgw, msisdn, opened["cursor"])
    assert (ended["state"], ended["end_code"]) == ("closed", "app_failed")
    assert ended["screen"] == "Connection problem or invalid MMI code."
    assert "ESME_RSYSERR" in ended["end_reason"]
    assert esme.read(timeout=0.3) is None  # no abort is sent for a refusal the ESME made itself


def test_a_latin_1_account_reads_and_gets_screens_in_latin_1(start_server, connect) -> None:
    """An account with data_coding_0 = latin-1 has its data_coding 0 menus read as Latin-1,
    and gets texts as data_coding 3, not as GSM octets it would misread."""
    smsgw = start_server(
        DEFAULT_ACCOUNT_TOML.replace(
            'short_codes = ["12345"]', 'short_codes = ["12345"]\ndata_coding_0 = "latin-1"'
        )
        + "[network]\nussd_user_timeout = 1\n"
    )
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    msisdn = "8613800000045"
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})
    session = next_ussd(esme, 1).its_session_info
    menu = esme.submit(
        msisdn,
        "Café_1 Pay".encode("latin-1"),
        source_addr="*126#",
        service_type="USSD",
        registered_delivery=0,
        ussd_service_op=USSR_REQUEST,
        its_session_info=session,
        data_coding=0,
    )
    assert menu.status == 0
    assert screen(smsgw, msisdn, 0)["screen"] == "Café_1 Pay"
    abort = next_ussd(esme, 2)
    assert (abort.data_coding, bytes(abort.short_message)) == (3, b"user_timeout")


def test_an_answer_for_a_dialogue_that_is_over_is_not_typed_into_the_next(start_server, connect) -> None:
    """A reply naming the dialogue it was read from gets 409 dialogue_changed once a newer
    dialogue has taken the screen, and the newer prompt gets nothing."""
    smsgw = start_server("[network]\nussd_user_timeout = 1\n")
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    msisdn = "8613800000046"
    ussd_submit(esme, msisdn, "Survey: rate us 1-5", USSR_REQUEST)
    survey = screen(smsgw, msisdn, 0)
    assert next_ussd(esme, 1).ussd_service_op == 0x81  # the user did not answer in time
    ussd_submit(esme, msisdn, "Bank: enter PIN", USSR_REQUEST)
    pin = screen(smsgw, msisdn, survey["cursor"])
    assert pin["screen"] == "Bank: enter PIN"
    status, refused = smsgw.api(
        "POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "4321", "session": survey["session"]}
    )
    assert (status, refused["error"]["code"]) == (409, "dialogue_changed")
    status, refused = smsgw.api("DELETE", f"/api/handsets/{msisdn}/ussd?session={survey['session']}")
    assert (status, refused["error"]["code"]) == (409, "dialogue_changed")
    assert smsgw.get(f"/api/handsets/{msisdn}/ussd")["inputs"] == []
    status, answered = smsgw.api(
        "POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "4321", "session": pin["session"]}
    )
    assert (status, answered["inputs"]) == (200, ["****"])


class _MenuApp(http.server.BaseHTTPRequestHandler):
    """A USSD application in the CON/END style, as a shop would write it."""

    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        self.seen.append(form)
        steps = form["text"].split("*") if form["text"] else []
        if not steps:
            answer = "CON Welcome\n1 Balance\n2 Pay"
        elif steps == ["1"]:
            answer = "END Your balance is 88.00 CNY"
        elif steps == ["2"]:
            answer = "CON Amount?"
        else:
            answer = f"END Paid {steps[1]}.00 CNY"
        body = answer.encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet: no access log in the test output."""


@pytest.fixture
def menu_app() -> Iterator[str]:
    _MenuApp.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MenuApp)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ussd"
    httpd.shutdown()
    httpd.server_close()


def test_http_application_in_con_end_style(start_server, menu_app: str) -> None:
    """A CON/END application gets sessionId, serviceCode, phoneNumber and the *-joined inputs, and runs the menu."""
    smsgw = start_server(f'[[ussd]]\ncode = "*384#"\nurl = "{menu_app}"\n')
    msisdn = "8613800000036"
    status, first = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd?wait=5", {"dial": "*384#"})
    assert status == 200 and first["screen"] == "Welcome\n1 Balance\n2 Pay" and first["expects_reply"]
    second = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd/reply?wait=5", {"text": "2"})[1]
    assert second["screen"] == "Amount?"
    third = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd/reply?wait=5", {"text": "25"})[1]
    assert (third["screen"], third["state"]) == ("Paid 25.00 CNY", "closed")
    assert [f["text"] for f in _MenuApp.seen] == ["", "2", "2*25"]
    form = _MenuApp.seen[0]
    assert form["serviceCode"] == "*384#" and form["phoneNumber"] == "+" + msisdn and form["sessionId"]
    direct = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd?wait=5", {"dial": "*384*1#"})[1]
    assert (direct["screen"], direct["state"]) == ("Your balance is 88.00 CNY", "closed")


class _EndlessApp(http.server.BaseHTTPRequestHandler):
    """A USSD application that answers "CON " and then megabytes without end."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-length", str(1 << 34))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            self.wfile.write(b"CON ")
            for _ in range(1 << 14):  # 16 GiB at most, if the carrier never stopped reading
                self.wfile.write(chunk)
        except OSError:
            return  # the carrier hung up: what it should do

    def log_message(self, *args: Any) -> None:
        """Quiet: no access log in the test output."""


def test_an_application_that_answers_without_end_ends_its_dialogue(start_server) -> None:
    """The carrier reads at most 4 KiB of an application's answer, then ends the dialogue with
    the network's error screen, instead of keeping what comes."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EndlessApp)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ussd"
        smsgw = start_server(f'[[ussd]]\ncode = "*385#"\nurl = "{url}"\n')
        status, screen = smsgw.api("POST", "/api/handsets/8613800000038/ussd?wait=10", {"dial": "*385#"})
        assert status == 200 and (screen["state"], screen["end_code"]) == ("closed", "app_failed"), screen
        assert "the answer is longer than 4096 bytes" in screen["end_reason"]
        assert smsgw.get("/api/health")["status"] == "ok"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_dial_refusals(server: Smsgw) -> None:
    """Dialling an unknown code, a non-USSD string, or from a phone that is off is refused with the reason."""
    for dialled, words in (("*999#", "no USSD application answers *999#"), ("hello", "not a USSD string")):
        status, payload = server.api("POST", "/api/handsets/8613800000037/ussd", {"dial": dialled})
        assert status == 422 and words in payload["error"]["message"]
    server.set_phone("8613800000037", "off")
    status, payload = server.api("POST", "/api/handsets/8613800000037/ussd", {"dial": "*126#"})
    assert status == 422 and "off" in payload["error"]["message"]
    server.set_phone("8613800000037", "on")


DIALECTS_TOML = (
    DEFAULT_ACCOUNT_TOML
    + """
[[accounts]]
system_id = "tata"
password = "tata"
ussd_service_type = "P2"
ussd_network_end = "eos"
ussd_data_coding = "cbs"

[[accounts]]
system_id = "mica"
password = "mica"
ussd_session = "user_message_reference"

[[accounts]]
system_id = "minimal"
password = "minimal"
ussd_session = "none"

[[ussd]]
code = "*132#"
account = "minimal"

[[ussd]]
code = "*130#"
account = "tata"

[[ussd]]
code = "*131#"
account = "mica"
"""
)


def test_a_tata_style_account_gets_its_dialect(start_server, connect) -> None:
    """service_type, data_coding 0x0F and a cancel told by the EOS bit alone, as the account's profile says."""
    smsgw = start_server(DIALECTS_TOML)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver", "tata", "tata")
    msisdn = "8613800000036"
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*130#"})
    start = next_ussd(esme, 1)
    assert (bytes(start.service_type), start.data_coding, start.ussd_service_op) == (
        b"P2",
        0x0F,
        PSSR_INDICATION,
    )
    session = start.its_session_info
    ussd_submit(esme, msisdn, "1 Pay\n2 Balance", USSR_REQUEST, session)
    assert screen(smsgw, msisdn, 0)["screen"] == "1 Pay\n2 Balance"
    smsgw.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    cancel = next_ussd(esme, 2)
    assert (cancel.ussd_service_op, bytes(cancel.short_message)) == (USSR_CONFIRM, b"")
    assert cancel.its_session_info == session | 1


def test_a_mica_style_account_names_dialogues_by_user_message_reference(start_server, connect) -> None:
    """The session travels in user_message_reference both ways; no its_session_info is sent."""
    smsgw = start_server(DIALECTS_TOML)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver", "mica", "mica")
    msisdn = "8613800000037"
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*131*5#"})
    start = next_ussd(esme, 1)
    assert start.its_session_info is None and start.user_message_reference is not None
    reference = start.user_message_reference
    esme.submit(
        msisdn,
        "Amount?",
        source_addr="*131#",
        service_type="USSD",
        ussd_service_op=USSR_REQUEST,
        user_message_reference=reference,
    )
    asked = screen(smsgw, msisdn, 0)
    assert asked["screen"] == "Amount?" and asked["expects_reply"] is True
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd/reply", {"text": "25"})
    answer = next_ussd(esme, 2)
    assert (answer.ussd_service_op, bytes(answer.short_message), answer.user_message_reference) == (
        USSR_CONFIRM,
        b"25",
        reference,
    )
    wrong = esme.submit(
        msisdn,
        "Not yours",
        source_addr="*131#",
        service_type="USSD",
        ussd_service_op=PSSR_RESPONSE,
        user_message_reference=reference + 256,
    )
    assert wrong.status == 0x45  # no dialogue of this handset has that reference
    esme.submit(
        msisdn,
        "Paid 25.00",
        source_addr="*131#",
        service_type="USSD",
        ussd_service_op=PSSR_RESPONSE,
        user_message_reference=reference,
    )
    closed = screen(smsgw, msisdn, asked["cursor"])
    assert (closed["screen"], closed["state"]) == ("Paid 25.00", "closed")


def test_a_minimal_account_gets_no_session_field(start_server, connect) -> None:
    """Like some operators' USSD centers: no session TLV; the handset's one dialogue is the session."""
    smsgw = start_server(DIALECTS_TOML)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver", "minimal", "minimal")
    msisdn = "8613800000038"
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*132#"})
    start = next_ussd(esme, 1)
    assert start.its_session_info is None and start.user_message_reference is None
    ussd_submit(esme, msisdn, "Balance: 9.00 CNY", PSSR_RESPONSE)
    assert screen(smsgw, msisdn, 0)["state"] == "closed"
    smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*132#"})
    smsgw.api("DELETE", f"/api/handsets/{msisdn}/ussd")
    abort = next_ussd(esme, 3)
    assert (abort.ussd_service_op, abort.its_session_info) == (0x81, None)


def test_a_bad_ussd_dialect_is_refused_with_the_fix(start_server) -> None:
    """ussd_network_end = eos without its_session_info cannot work; the error says what to change."""
    bad = DIALECTS_TOML.replace(
        'ussd_session = "user_message_reference"', 'ussd_session = "none"\nussd_network_end = "eos"'
    )
    with pytest.raises(Exception) as failure:
        start_server(bad)
    assert 'ussd_session = "its_session_info"' in str(failure.value)
