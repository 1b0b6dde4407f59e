"""Injected faults over real SMPP: what an ESME sees when a [[faults]] rule strikes."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from smsgw.carrier.faults import FAULT_KEYS
from smsgw.config import ConfigError, config_from_dict
from smsgw.smpp.sm import SubmitSm
from smsgw.text.coding import decode_text

from .conftest import DEFAULT_ACCOUNT_TOML, DEMO, READ_TIMEOUT, Esme, Smsgw, receipt_of
from .test_merchant import MerchantProcess, code_of, inbox_cursor, next_sms
from .test_ussd import USSR_REQUEST, next_ussd, ussd_submit

pytestmark = pytest.mark.e2e

THROTTLE_EVERY_THIRD = (
    DEFAULT_ACCOUNT_TOML
    + """
[[faults]]
name = "busy-smsc"
effect = "refuse_submit"
msisdn = "86139*"
every = 3
status = "ESME_RTHROTTLED"

[[faults]]
name = "dead-sim"
effect = "fail_delivery"
msisdn = "8613900000062"
state = "UNDELIV"
error = 34
"""
)


def test_every_third_submit_is_throttled_and_the_session_carries_on(start_server, connect) -> None:
    """smpplib gets ESME_RTHROTTLED (0x58) on every 3rd submit to 86139…; other numbers pass."""
    smsgw = start_server(THROTTLE_EVERY_THIRD)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    statuses = [esme.submit("8613900000061", f"try {n}", registered_delivery=0).status for n in range(6)]
    assert statuses == [0, 0, 0x58, 0, 0, 0x58]
    assert esme.submit("8613800000061", "elsewhere", registered_delivery=0).status == 0
    logged = smsgw.get("/api/messages?msisdn=8613900000061")["messages"]
    assert len(logged) == 4  # the refused submits were never accepted, so never stored


def test_a_failed_delivery_comes_back_as_the_configured_receipt(start_server, connect) -> None:
    """The submit is accepted; the receipt says UNDELIV err 034; the phone never shows the text."""
    smsgw = start_server(THROTTLE_EVERY_THIRD)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    message_id = esme.submit_ok("8613900000062", "your code is 123456")
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"], receipt["err"]) == (
        message_id,
        "UNDELIV",
        "034",
    )
    assert smsgw.get("/api/handsets/8613900000062/inbox")["messages"] == []
    assert smsgw.get(f"/api/messages/{message_id}")["state"] == "UNDELIV"


@pytest.mark.parametrize(
    ("number", "status"), [("8619999990004", 0x58), ("8619999990005", 0x08), ("+1 199 9999 0006", 0x14)]
)
def test_magic_numbers_refuse_without_any_set_up(server, connect, number: str, status: int) -> None:
    """docs/faults.md: …0004 is throttled, …0005 a system error, …0006 a full queue, in any country."""
    esme: Esme = connect(server)
    esme.bind("transceiver")
    assert esme.submit(number, "hello", registered_delivery=0).status == status


@pytest.mark.parametrize(
    ("number", "stat", "err"),
    [
        ("8619999990001", "UNDELIV", "001"),
        ("8619999990002", "EXPIRED", "027"),
        ("8619999990003", "REJECTD", "011"),
    ],
)
def test_magic_numbers_fail_delivery_without_any_set_up(
    server, connect, number: str, stat: str, err: str
) -> None:
    esme: Esme = connect(server)
    esme.bind("transceiver")
    message_id = esme.submit_ok(number, "hello")
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"], receipt["err"]) == (message_id, stat, err)


def test_magic_numbers_can_be_turned_off(start_server, connect) -> None:
    smsgw = start_server("[network]\nmagic_numbers = false\n")
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    assert esme.submit("8619999990004", "hello", registered_delivery=0).status == 0


# -- the effects of issue 5 over real SMPP ---------------------------------------------------

NEW_EFFECTS = (
    DEFAULT_ACCOUNT_TOML
    + """
[[faults]]
name = "lost-dlr"
effect = "no_receipt"
msisdn = "8613900000071"

[[faults]]
name = "echo-dlr"
effect = "duplicate_receipt"
msisdn = "8613900000072"

[[faults]]
name = "cut"
effect = "drop_connection"
msisdn = "8613900000073"
limit = 1

[[faults]]
name = "slow-lane"
effect = "delay_delivery"
msisdn = "8613900000074"
delay = 600

[[faults]]
name = "tunnel"
effect = "unreachable"
msisdn = "8613900000075"

[[faults]]
name = "slow-app"
effect = "ussd_timeout"
code = "*126#"
msisdn = "8613900000076"

[[faults]]
name = "noise"
effect = "garble_text"
msisdn = "8613900000077"
"""
)


class FaultEvents:
    """GET /api/events, read for fault_injected events with a deadline."""

    def __init__(self, smsgw: Smsgw) -> None:
        host, port = urllib.parse.urlsplit(smsgw.ports["http_url"]).netloc.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=READ_TIMEOUT)
        self.connection.request("GET", "/api/events")
        self.response = self.connection.getresponse()

    def next(self) -> dict[str, Any]:
        """The next fault_injected event's data."""
        kind = None
        while True:
            line = self.response.readline().decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind == "fault_injected":
                return dict(json.loads(line[len("data: ") :]))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def faulty(start_server, connect) -> Iterator[tuple[Smsgw, Esme, FaultEvents]]:
    """A server with one rule of each new effect, a bound transceiver and its event stream."""
    smsgw = start_server(NEW_EFFECTS)
    events = FaultEvents(smsgw)
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    yield smsgw, esme, events
    events.close()


def test_no_receipt_never_comes_while_the_message_is_delivered(faulty) -> None:
    smsgw, esme, events = faulty
    message_id = esme.submit_ok("8613900000071", "your code is 123456")
    assert esme.read(timeout=1.0) is None  # the receipt window passes in silence
    assert smsgw.message(message_id)["state"] == "DELIVRD"
    event = events.next()
    assert (event["rule"], event["effect"], event["message_id"]) == ("lost-dlr", "no_receipt", message_id)


def test_duplicate_receipt_arrives_twice_and_both_are_acknowledged(faulty) -> None:
    smsgw, esme, _ = faulty
    message_id = esme.submit_ok("8613900000072", "your code is 123456")
    first, second = (receipt_of(pdu) for pdu in esme.wait_deliveries(2))
    assert first["receipted_message_id"] == second["receipted_message_id"] == message_id
    assert first["stat"] == second["stat"] == "DELIVRD"
    assert esme.read(timeout=0.5) is None  # both were acknowledged: nothing is resent
    esme.submit_ok(DEMO[0], "the session carries on")
    assert len(esme.wait_deliveries(3)) == 3


def test_drop_connection_closes_the_session_and_a_resend_after_rebinding_loses_nothing(
    faulty, connect
) -> None:
    """No submit_sm_resp, the connection closes; the same submit on a new bind is accepted once."""
    smsgw, _, events = faulty
    raw = connect(smsgw, raw=True)
    assert raw.bind().command_status == 0
    submit = dict(source_addr="12345", destination_addr="8613900000073", short_message=b"your code")
    raw.request(SubmitSm, **submit)
    assert raw.is_closed(), "the carrier should have closed the connection without answering"
    event = events.next()
    assert (event["rule"], event["effect"], event["message_id"]) == ("cut", "drop_connection", "")
    again = connect(smsgw, raw=True)
    assert again.bind().command_status == 0
    again.request(SubmitSm, **submit)
    accepted = again.read_pdu()
    assert accepted.command_status == 0 and accepted.message_id
    logged = smsgw.get("/api/messages?msisdn=8613900000073")["messages"]
    assert [m["message_id"] for m in logged] == [accepted.message_id]


def test_delay_delivery_is_released_by_advancing_the_carrier_clock(faulty) -> None:
    """ENROUTE for 600 s of carrier time; POST /api/clock lets it reach the phone, then the receipt."""
    smsgw, esme, events = faulty
    message_id = esme.submit_ok("8613900000074", "your code is 123456")
    assert esme.read(timeout=0.5) is None
    assert smsgw.message(message_id)["state"] == "ENROUTE"
    assert smsgw.get("/api/handsets/8613900000074/inbox")["messages"] == []
    assert events.next()["detail"] == "delayed 600 s"
    status, _ = smsgw.api("POST", "/api/clock", {"advance_seconds": 600})
    assert status == 200
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"]) == (message_id, "DELIVRD")
    assert [m["text"] for m in smsgw.get("/api/handsets/8613900000074/inbox")["messages"]] == [
        "your code is 123456"
    ]


def test_unreachable_holds_the_message_until_it_expires_and_refuses_a_ussd_push(faulty) -> None:
    smsgw, esme, _ = faulty
    message_id = esme.submit_ok("8613900000075", "your code is 123456")
    assert smsgw.message(message_id)["state"] == "ENROUTE"
    push = esme.submit("8613900000075", "Pay?", service_type="USSD", registered_delivery=0, ussd_service_op=2)
    assert push.status == 0xFE  # ESME_RDELIVERYFAILURE, as for a phone that is off
    smsgw.api("POST", "/api/clock", {"advance_seconds": 48 * 3600})
    receipt = receipt_of(esme.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"], receipt["err"]) == (
        message_id,
        "EXPIRED",
        "027",
    )


def test_ussd_timeout_ends_the_dialogue_with_the_network_timeout(faulty) -> None:
    """The application's menu comes too late: the phone shows the network error, the
    application gets the abort (0x81, app_timeout) and its screen is refused."""
    smsgw, esme, events = faulty
    msisdn = "8613900000076"
    status, _ = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd", {"dial": "*126#"})
    assert status == 200
    indication = next_ussd(esme, 1)
    menu = ussd_submit(esme, msisdn, "1 Pay", USSR_REQUEST, indication.its_session_info)
    assert menu.status == 0x45  # ESME_RSUBMITFAIL: the dialogue is gone
    abort = next_ussd(esme, 2)
    assert abort.ussd_service_op == 0x81 and decode_text(bytes(abort.short_message), 0) == "app_timeout"
    shown = smsgw.get(f"/api/handsets/{msisdn}/ussd")
    assert (shown["state"], shown["end_code"], shown["screen"]) == (
        "closed",
        "app_timeout",
        "Connection problem or invalid MMI code.",
    )
    assert events.next()["rule"] == "slow-app"


def test_garble_text_alters_the_text_on_the_phone(faulty) -> None:
    smsgw, esme, _ = faulty
    message_id = esme.submit_ok("8613900000077", "your code is 123456")
    (shown,) = smsgw.get("/api/handsets/8613900000077/inbox")["messages"]
    assert shown["text"] != "your code is 123456" and "?" in shown["text"]
    assert len(shown["text"]) == len("your code is 123456")
    assert smsgw.message(message_id)["text"] == shown["text"]  # the store keeps what the phone got


def test_new_magic_numbers_misbehave_without_any_set_up(server, connect) -> None:
    """…0007 no receipt, …0008 two receipts, …0009 delayed 30 s, …0010 unreachable, …0011 garbled."""
    esme: Esme = connect(server)
    esme.bind("transceiver")
    silent = esme.submit_ok("8619999990007", "hello")
    doubled = esme.submit_ok("8619999990008", "hello")
    delayed = esme.submit_ok("8619999990009", "hello")
    held = esme.submit_ok("8619999990010", "hello")
    garbled = esme.submit_ok("8619999990011", "hello world")
    receipts = [receipt_of(pdu)["receipted_message_id"] for pdu in esme.wait_deliveries(3)]
    assert esme.read(timeout=0.5) is None
    assert sorted(receipts) == sorted([doubled, doubled, garbled])
    assert [server.message(m)["state"] for m in (silent, delayed, held)] == ["DELIVRD", "ENROUTE", "ENROUTE"]
    assert "?" in server.message(garbled)["text"]


DROP_THE_FIRST_OTP = (
    DEFAULT_ACCOUNT_TOML
    + """
[[faults]]
name = "cut-otp"
effect = "drop_connection"
account = "smsgw"
msisdn = "8613900000081"
limit = 1
"""
)


def test_the_mock_merchant_rebinds_and_resends_a_dropped_otp(start_server, tmp_path) -> None:
    """The carrier drops the merchant's connection at the OTP's submit_sm: the merchant binds
    again and resends it, the buyer gets one code, and the order is paid with it."""
    msisdn = "8613900000081"
    smsgw = start_server(DROP_THE_FIRST_OTP)
    (tmp_path / "merchant").mkdir()
    merchant = MerchantProcess(tmp_path / "merchant", smsgw)
    events = FaultEvents(smsgw)
    try:
        wallet = {"msisdn": msisdn, "pin": "2468", "balance": "100.00", "currency": "CNY", "language": "en"}
        assert merchant.api("POST", "/wallets", wallet)[0] == 201
        cursor = inbox_cursor(smsgw, msisdn)
        order = {"msisdn": msisdn, "amount": "25.00", "currency": "CNY", "method": "otp"}
        status, created = merchant.api("POST", "/orders", order)
        assert status == 201, created
        event = events.next()
        assert (event["rule"], event["system_id"], event["msisdn"]) == ("cut-otp", "smsgw", msisdn)
        sms = next_sms(smsgw, msisdn, cursor, r"code is \d+")
        status, paid = merchant.api("POST", f"/orders/{created['id']}/confirm", {"code": code_of(sms)})
        assert status == 200 and paid["status"] == "paid", paid
        texts = [m["text"] for m in smsgw.get(f"/api/messages?msisdn={msisdn}&direction=MT")["messages"]]
        assert sum("code is" in text for text in texts) == 1  # resent once, accepted once
        assert merchant.get("/health")["bound"]
    finally:
        events.close()
        merchant.stop()


# -- /api/faults ---------------------------------------------------------------------------


def test_a_rule_posted_at_run_time_strikes_at_once_and_stops_when_deleted(start_server, connect) -> None:
    smsgw = start_server()
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    rule = {"name": "lost-dlr", "effect": "no_receipt", "msisdn": DEMO[1], "account": "smsgw", "every": None}
    status, added = smsgw.api("POST", "/api/faults", rule)
    assert status == 201 and (added["source"], added["every"], added["probability"]) == ("api", None, 1.0)
    silent = esme.submit_ok(DEMO[1], "hello")
    assert esme.read(timeout=0.5) is None and smsgw.message(silent)["state"] == "DELIVRD"
    listed = {r["name"]: r for r in smsgw.get("/api/faults")["faults"]}
    assert (listed["lost-dlr"]["counted"], listed["lost-dlr"]["fired"]) == (1, 1)
    assert listed["magic:undeliverable"]["source"] == "magic"
    assert smsgw.api("DELETE", "/api/faults/lost-dlr")[0] == 200
    heard = esme.submit_ok(DEMO[1], "hello again")
    assert receipt_of(esme.wait_deliveries(1)[0])["receipted_message_id"] == heard


def test_magic_numbers_can_be_deleted_one_by_one(start_server, connect) -> None:
    smsgw = start_server()
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    status, deleted = smsgw.api("DELETE", "/api/faults/magic:throttled")
    assert status == 200 and deleted == {"name": "magic:throttled", "source": "magic", "deleted": True}
    assert esme.submit("8619999990004", "hello", registered_delivery=0).status == 0
    assert esme.submit("8619999990005", "hello", registered_delivery=0).status == 0x08  # the others stay
    assert smsgw.api("DELETE", "/api/faults")[1] == {"deleted": []}  # only API rules go


@pytest.mark.parametrize(
    "table",
    [
        {"name": "x", "effect": "delay_delivery"},
        {"name": "x", "effect": "no_receipt", "state": "UNDELIV"},
        {"name": "x", "effect": "ussd_timeout", "code": "126"},
        {"name": "x", "effect": "refuse_submit", "every": 2, "probability": 0.5},
        {"name": "magic:mine", "effect": "refuse_submit"},
        {"name": "x", "effect": "refuse_submit", "msisdn": "86139x*"},
    ],
)
def test_the_api_refuses_a_rule_with_the_words_of_the_config(start_server, table: dict[str, Any]) -> None:
    """422, and the config's message for the same table (without its faults[0] prefix)."""
    smsgw = start_server()
    status, error = smsgw.api("POST", "/api/faults", table)
    assert status == 422 and error["error"]["code"] == "bad_fault"
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"faults": [table]})
    assert error["error"]["message"] == str(caught.value).replace("faults[0].", "").replace(
        "faults[0]", "every"
    )


def test_the_api_takes_the_keys_the_config_takes(server: Smsgw) -> None:
    """A body with every key of [[faults]] (null where the effect takes none) is not refused
    for an unknown field."""
    rule = dict.fromkeys(FAULT_KEYS) | {
        "name": "every-key",
        "effect": "refuse_submit",
        "msisdn": "8617000009998",
        "status": "ESME_RSYSERR",
        "namespace": "every-key",
    }
    try:
        status, posted = server.api("POST", "/api/faults", rule)
        assert status == 201, posted
    finally:
        server.api("DELETE", "/api/faults/every-key")


NATIONAL_NUMBER_RULE = """
[[faults]]
name = "national"
effect = "fail_delivery"
msisdn = "13800000003"
error = 34
"""


def test_a_rule_written_as_a_national_number_fires(start_server, connect) -> None:
    """The config's "13800000003" and the API's "+86 138 0000 0004" are read as the handsets'
    numbers are: MTs to those phones end UNDELIV with each rule's error, each rule fired once."""
    smsgw = start_server(NATIONAL_NUMBER_RULE)
    rule = {"name": "spaced", "effect": "fail_delivery", "msisdn": "+86 138 0000 0004", "error": 35}
    status, posted = smsgw.api("POST", "/api/faults", rule)
    assert (status, posted["msisdn"]) == (201, "8613800000004"), posted
    esme: Esme = connect(smsgw)
    esme.bind("transceiver")
    ids = {
        esme.submit_ok(number, "your code is 123456"): number for number in ("8613800000003", "8613800000004")
    }
    receipts = {
        ids[r["receipted_message_id"]]: (r["stat"], r["err"])
        for r in map(receipt_of, esme.wait_deliveries(2))
    }
    assert receipts == {"8613800000003": ("UNDELIV", "034"), "8613800000004": ("UNDELIV", "035")}
    shown = {f["name"]: (f["msisdn"], f["fired"]) for f in smsgw.get("/api/faults")["faults"]}
    assert shown["national"] == ("8613800000003", 1) and shown["spaced"] == ("8613800000004", 1)


def test_a_rule_for_something_that_is_no_number_is_refused(server: Smsgw) -> None:
    status, answer = server.api(
        "POST", "/api/faults", {"name": "typo", "effect": "no_receipt", "msisdn": "138OOOO0003"}
    )
    assert status == 422 and answer["error"]["code"] == "bad_fault", answer
    assert "msisdn: '138OOOO0003' is neither a phone number nor a glob over one" in answer["error"]["message"]


def test_clearing_one_namespaces_rules_leaves_the_others(server: Smsgw) -> None:
    """DELETE /api/faults?namespace=team-a takes team-a's API rules (and team-a.x's) out; another
    test's rules and rules of no namespace stay."""
    for name, namespace in (("a1", "team-a"), ("a2", "team-a.x"), ("b1", "team-b"), ("all", None)):
        rule = {"name": name, "effect": "no_receipt", "msisdn": "8617000009999", "namespace": namespace}
        assert server.api("POST", "/api/faults", rule)[0] == 201
    try:
        assert server.api("DELETE", "/api/faults?namespace=team-a") == (200, {"deleted": ["a1", "a2"]})
        left = {f["name"] for f in server.get("/api/faults")["faults"] if f["source"] == "api"}
        assert left == {"b1", "all"}
        status, answer = server.api("DELETE", "/api/faults?namespace=team%20b")
        assert status == 400 and "letters, digits" in answer["error"]["message"], answer
    finally:
        server.api("DELETE", "/api/faults")
