"""The timeline over real TCP and HTTP: what ``GET /api/timeline`` gives back of an MT and its
receipt (smpplib as the ESME), of a CMPP SP's submit, of an OTP and a USSD payment through the
built-in merchant, across a restart and within its bound; and that handsets in no namespace,
which is how load tests run, leave nothing on it."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smsgw.cmpp import codec as cmpp_codec
from smsgw.cmpp import pdu as cmpp_pdu
from smsgw.cmpp.constants import MsgFmt, Version
from smsgw.smpp import codec
from smsgw.smpp.constants import command_name
from smsgw.smpp.sm import DeliverSm, SubmitSm

from .cmppclient import CmppClient
from .conftest import DEMO, Smsgw, call_json, wait_until

pytestmark = pytest.mark.e2e

WAIT = 5
#: The built-in CMPP SP account (docs/cmpp.md).
SP_ID, SECRET, SERVICE_CODE = "901234", "smsgw", "1065712345"
#: What ``smsgw serve``'s merchant sends from, and the PIN its buyers type.
MERCHANT_SHORT_CODE, PIN = "10086", "918273"


def new_handset(smsgw: Smsgw, msisdn: str, namespace: str) -> None:
    status, payload = smsgw.api("POST", "/api/handsets", {"msisdn": msisdn, "namespace": namespace})
    assert status == 201, payload


def steps_of(smsgw: Smsgw, query: str) -> list[dict[str, Any]]:
    return list(smsgw.get(f"/api/timeline?{query}")["steps"])


def kinds(steps: list[dict[str, Any]]) -> list[str]:
    return [step["kind"] for step in steps]


def find_in_order(steps: list[dict[str, Any]], *wanted: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The first step of each (kind, fields it has) in turn, each after the one before: the
    steps happened in that order (others may come between)."""
    found, at = [], 0
    for kind, fields in wanted:
        for index in range(at, len(steps)):
            step = steps[index]
            if step["kind"] == kind and all(_has(step, key, value) for key, value in fields.items()):
                found.append(step)
                at = index + 1
                break
        else:
            shown = [(s["kind"], s["detail"]) for s in steps[at:]]
            raise AssertionError(f"no {kind} {fields} after step {at}; then came {shown}")
    return found


def _has(step: dict[str, Any], key: str, value: Any) -> bool:
    return step.get(key) == value or step["detail"].get(key) == value


# -- SMPP and CMPP -----------------------------------------------------------------------------


def test_an_mt_and_its_receipt_read_back_in_order_with_their_pdus(server: Smsgw, connect: Any) -> None:
    """An smpplib ESME's submit to a handset in a namespace: the submit_sm and its response,
    the message delivered, the receipt sent and answered, in that order; each PDU's hex
    decodes to what crossed the wire, and every time is on the namespace's clock, the one the
    message log shows for its message."""
    buyer = "8617100000101"
    new_handset(server, buyer, "tl-mt")
    status, _ = server.api("POST", "/api/clock", {"advance_seconds": 86400, "namespace": "tl-mt"})
    assert status == 200
    esme = connect(server)
    esme.bind("transceiver")
    message_id = esme.submit_ok(buyer, "Your code is 246810")
    (receipt,) = esme.wait_deliveries(1)
    steps = wait_until(
        lambda: (
            (found := steps_of(server, f"msisdn={buyer}")) and found[-1]["kind"] == "delivery.done" and found
        ),
        what="the receipt's answer on the timeline",
    )
    assert kinds(steps) == [
        "handset.state",
        "smpp.submit_sm",
        "smpp.submit_sm_resp",
        "message.accepted",
        "message.state",
        "smpp.deliver_sm",
        "smpp.deliver_sm_resp",
        "delivery.done",
    ]
    assert [step["id"] for step in steps] == sorted(step["id"] for step in steps)
    assert {(step["namespace"], step["msisdn"]) for step in steps} == {("tl-mt", buyer)}
    submit, response, accepted, state, sent, answer, done = steps[1:]
    assert {step["message_id"] for step in steps[1:]} == {message_id}
    assert accepted["at"] == server.message(message_id)["submitted_at"]  # the namespace's clock
    assert state["detail"] == {"state": "DELIVRD", "error": 0, "direction": "MT"}
    assert done["detail"] == {"delivery": "receipt", "outcome": "accepted", "state": "DELIVRD"}
    for step in (submit, response, sent, answer):
        raw = bytes.fromhex(step["hex"])
        pdu = codec.decode(raw)
        assert (step["protocol"], step["pdu"]["command"]) == ("smpp", command_name(pdu.command_id))
        assert step["pdu"]["sequence"] == pdu.sequence_number == step["detail"]["sequence"]
    request = codec.decode(bytes.fromhex(submit["hex"]))
    assert isinstance(request, SubmitSm) and request.short_message == b"Your code is 246810"
    assert submit["pdu"]["text"] == "Your code is 246810"
    assert submit["pdu"]["fields"]["destination_addr"] == buyer
    assert response["pdu"]["fields"]["message_id"] == message_id and response["pdu"]["status"] == "ESME_ROK"
    delivered = codec.decode(bytes.fromhex(sent["hex"]))
    assert isinstance(delivered, DeliverSm)
    assert delivered.sequence_number == receipt.sequence  # as smpplib received it
    assert delivered.receipted_message_id == message_id and "stat:DELIVRD" in sent["pdu"]["text"]
    assert (answer["pdu"]["command"], answer["pdu"]["status"]) == ("deliver_sm_resp", "ESME_ROK")


def test_a_handset_in_no_namespace_records_nothing(server: Smsgw, connect: Any) -> None:
    """The default mode records handsets in a namespace only: a demo handset's MT and
    receipt, the traffic of load tests, leave no step."""
    esme = connect(server)
    esme.bind("transceiver")
    esme.submit_ok(DEMO[1], "not recorded")
    esme.wait_deliveries(1)
    assert steps_of(server, f"msisdn={DEMO[1]}") == []
    assert all(step["namespace"] for step in steps_of(server, "namespace=tl-mt"))


def test_a_cmpp_submit_and_its_report_are_cmpp_steps(server: Smsgw) -> None:
    """A CMPP 3.0 SP's SUBMIT with a report asked for: CMPP_SUBMIT, its response, the
    message, the report's DELIVER and its answer, each decoding as CMPP."""
    buyer = "8617100000102"
    new_handset(server, buyer, "tl-cmpp")
    sp = CmppClient((server.ports["cmpp_host"], server.ports["cmpp"]))
    try:
        assert sp.connect(SP_ID, SECRET).status == 0
        answer = sp.submit(
            service_id="OTP",
            registered_delivery=1,
            msg_fmt=MsgFmt.ASCII,
            msg_src=SP_ID,
            src_id=SERVICE_CODE,
            dest_terminal_ids=(buyer,),
            msg_content=b"Your code is 135790",
        )
        assert answer.result == 0
        report = sp.deliver()
        assert report.registered_delivery == 1
        steps = wait_until(
            lambda: (
                (found := steps_of(server, f"msisdn={buyer}"))
                and found[-1]["kind"] == "delivery.done"
                and found
            ),
            what="the report's answer on the timeline",
        )
    finally:
        sp.close()
    assert kinds(steps)[1:] == [
        "cmpp.submit",
        "cmpp.submit_resp",
        "message.accepted",
        "message.state",
        "cmpp.deliver",
        "cmpp.deliver_resp",
        "delivery.done",
    ]
    submit, response, _, _, deliver, answered, _ = steps[1:]
    assert {step["message_id"] for step in steps[1:]} == {str(answer.msg_id)}
    assert {step["system_id"] for step in steps[1:]} == {SP_ID}
    decoded = cmpp_codec.decode(bytes.fromhex(submit["hex"]), Version.V30)
    assert isinstance(decoded, cmpp_pdu.Submit) and decoded.msg_content == b"Your code is 135790"
    assert (submit["protocol"], submit["pdu"]["command"], submit["pdu"]["text"]) == (
        "cmpp",
        "CMPP_SUBMIT",
        "Your code is 135790",
    )
    assert response["pdu"]["fields"] == {"msg_id": answer.msg_id, "result": 0}
    sent = cmpp_codec.decode(bytes.fromhex(deliver["hex"]), Version.V30)
    assert isinstance(sent, cmpp_pdu.Deliver) and sent.sequence_id == report.sequence_id
    assert deliver["pdu"]["report"]["stat"] == "DELIVRD"
    assert answered["pdu"]["command"] == "CMPP_DELIVER_RESP" and answered["detail"]["result"] == 0


def test_a_namespace_holds_the_steps_of_those_inside_it(server: Smsgw, connect: Any) -> None:
    """?namespace=tl-run takes tl-run and tl-run.7, not its neighbour tl-run7; a clock advance
    just answered is read back at once (steps are lazy writes: the read commits them first)."""
    handsets = {"tl-run": "8617100000103", "tl-run.7": "8617100000104", "tl-run7": "8617100000105"}
    esme = connect(server)
    esme.bind("transmitter")
    for namespace, msisdn in handsets.items():
        new_handset(server, msisdn, namespace)
        esme.submit_ok(msisdn, f"to {namespace}", registered_delivery=0)
    status, _ = server.api("POST", "/api/clock", {"advance_seconds": 5, "namespace": "tl-run.7"})
    assert status == 200
    steps = steps_of(server, "namespace=tl-run")
    assert {step["msisdn"] for step in steps if step["msisdn"]} == {handsets["tl-run"], handsets["tl-run.7"]}
    assert {step["namespace"] for step in steps} == {"tl-run", "tl-run.7"}
    assert steps[-1]["kind"] == "clock.advance" and steps[-1]["detail"]["seconds"] == 5


def test_a_wrong_query_says_what_to_send(server: Smsgw) -> None:
    """No filter, two filters, an account without a message_id: 400 bad_query saying what to give."""
    for query, said in (
        ("", "give exactly one of ?order="),
        ("msisdn=8617100000103&namespace=tl-run", "?msisdn= and ?namespace= together"),
        ("namespace=tl-run&account=smsgw", "give it with one"),
        ("msisdn=nobody", "is not a phone number"),
    ):
        status, payload = server.api("GET", f"/api/timeline?{query}")
        assert (status, payload["error"]["code"]) == (400, "bad_query"), (query, payload)
        assert said in payload["error"]["message"], (query, payload)


# -- the bound and a restart -----------------------------------------------------------------------


def test_old_steps_are_dropped_beyond_max_steps(start_server: Any, connect: Any) -> None:
    """With max_steps = 20, ten MTs with receipts (70 steps) leave the newest 20 or so: the
    oldest are pruned first, the last receipt's answer stays."""
    smsgw = start_server("[timeline]\nmax_steps = 20\n")
    buyer = "8617100000106"
    new_handset(smsgw, buyer, "tl-bound")
    esme = connect(smsgw)
    esme.bind("transceiver")
    for n in range(10):
        esme.submit_ok(buyer, f"message {n}")
    esme.wait_deliveries(10)

    def pruned() -> list[dict[str, Any]] | None:
        steps = steps_of(smsgw, f"msisdn={buyer}")
        done = steps and steps[-1]["kind"] == "delivery.done" and len(steps) <= 20 + 20 // 10
        return steps if done else None

    steps = wait_until(pruned, what="the timeline pruned to its bound")
    assert steps[0]["id"] > 50 and "handset.state" not in kinds(steps)


def test_the_timeline_outlives_a_restart(start_server: Any, connect: Any) -> None:
    """Steps are kept in the store: after a restart the same steps come back, and new ones
    are numbered after them."""
    smsgw = start_server()
    buyer = "8617100000107"
    new_handset(smsgw, buyer, "tl-restart")
    esme = connect(smsgw)
    esme.bind("transmitter")
    esme.submit_ok(buyer, "before", registered_delivery=0)
    before = steps_of(smsgw, f"msisdn={buyer}")
    assert kinds(before)[-2:] == ["message.accepted", "message.state"]
    esme.close()
    smsgw.restart()
    assert steps_of(smsgw, f"msisdn={buyer}") == before
    esme = connect(smsgw)
    esme.bind("transmitter")
    esme.submit_ok(buyer, "after", registered_delivery=0)
    after = smsgw.get(f"/api/timeline?msisdn={buyer}&after={before[-1]['id']}")
    assert kinds(after["steps"])[:2] == ["smpp.submit_sm", "smpp.submit_sm_resp"]
    assert after["next_after"] == after["steps"][-1]["id"] > before[-1]["id"]


# -- the built-in merchant -------------------------------------------------------------------------


class ServeWithMerchant(Smsgw):
    """``smsgw serve`` with its mock merchant, on this run's store (SQLite or PostgreSQL)."""

    def command(self) -> list[str]:
        args = super().command()
        args.remove("--no-merchant")
        return [*args, "--merchant-port", "0"]

    def shop(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, payload = call_json(self.ports["merchant_url"] + path, method, body)
        return status, payload


class Webhooks(BaseHTTPRequestHandler):
    """The shop's callback: answers 200, keeps what it got."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        Webhooks.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: what the shop got is asserted, not printed."""


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeWithMerchant]:
    smsgw = ServeWithMerchant(tmp_path_factory.mktemp("serve")).start()
    wait_until(lambda: smsgw.shop("GET", "/health")[1]["bound"], WAIT, "the merchant's bind")
    yield smsgw
    smsgw.stop()


@pytest.fixture(scope="module")
def callback() -> Iterator[str]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Webhooks)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    receiver.shutdown()
    receiver.server_close()


def buyer_in(smsgw: ServeWithMerchant, msisdn: str, namespace: str) -> None:
    new_handset(smsgw, msisdn, namespace)
    status, wallet = smsgw.shop("POST", "/wallets", {"msisdn": msisdn, "pin": PIN, "balance": "50.00"})
    assert status == 201, wallet


def order(smsgw: ServeWithMerchant, msisdn: str, method: str, callback: str) -> str:
    body = {"msisdn": msisdn, "amount": "3.00", "currency": "CNY", "method": method, "callback_url": callback}
    status, created = smsgw.shop("POST", "/orders", body)
    assert status == 201 and created["status"] == "awaiting_confirmation", created
    return str(created["id"])


def paid_steps(smsgw: ServeWithMerchant, order_id: str) -> list[dict[str, Any]]:
    """The order's timeline once the shop answered the webhook saying it is paid."""

    def answered(step: dict[str, Any]) -> bool:
        detail = step["detail"]
        return step["kind"] == "merchant.webhook" and (detail["outcome"], detail["status"]) == (
            "answered",
            "paid",
        )

    return wait_until(
        lambda: (found := steps_of(smsgw, f"order={order_id}")) and any(map(answered, found)) and found,
        WAIT,
        f"order {order_id}'s paid webhook answered, on the timeline",
    )


def test_an_otp_payment_reads_back_as_one_timeline(shop_server: ServeWithMerchant, callback: str) -> None:
    """A namespaced buyer pays by texting back the code: ?order= gives the order created, the
    code's submit_sm reaching the phone, the buyer's reply as it went to the merchant, the
    order paid and the wallet debited, and the webhook posted and answered, in that order;
    every step is the buyer's, and the merchant's name the order."""
    smsgw, buyer = shop_server, "8617100000111"
    buyer_in(smsgw, buyer, "tl-otp")
    cursor = smsgw.get(f"/api/handsets/{buyer}/inbox")["cursor"]
    order_id = order(smsgw, buyer, "otp", callback)
    query = urllib.parse.urlencode({"after": cursor, "wait": WAIT, "match": r"code is \d+"})
    (sms,) = smsgw.get(f"/api/handsets/{buyer}/inbox?{query}")["messages"]
    code = re.search(r"code is (\d+)", sms["text"])[1]  # type: ignore[index]
    status, sent = smsgw.api("POST", f"/api/handsets/{buyer}/sms", {"to": MERCHANT_SHORT_CODE, "text": code})
    assert status == 201, sent
    steps = paid_steps(smsgw, order_id)
    created, code_sent, submit, delivered, texted, replied, mo, paid, debited, posted, answered = (
        find_in_order(
            steps,
            ("merchant.order", {"status": "pending", "reason": "created"}),
            ("merchant.order", {"status": "awaiting_confirmation", "reason": "code_sent"}),
            ("smpp.submit_sm", {"system_id": "merchant"}),
            ("message.state", {"state": "DELIVRD", "direction": "MT"}),
            ("merchant.sms", {"sent": True}),
            ("http", {"method": "POST", "status": 201}),
            ("smpp.deliver_sm", {"delivery": "mo"}),
            ("merchant.order", {"status": "paid", "reason": "confirmed", "final": True}),
            ("merchant.wallet", {"change": -300}),
            ("merchant.webhook", {"outcome": "posted", "status": "paid"}),
            ("merchant.webhook", {"outcome": "answered", "code": 200, "status": "paid"}),
        )
    )
    assert {step["msisdn"] for step in steps} == {buyer}
    assert submit["message_id"] == delivered["message_id"] == texted["message_id"]
    assert code in submit["pdu"]["text"]  # the code shows where the SMS does (docs/api.md)
    assert replied["detail"]["path"] == f"/api/handsets/{buyer}/sms"
    assert mo["pdu"]["text"] == code and mo["message_id"] == sent["message_ids"][0]
    assert debited["detail"]["balance"] == 4700
    merchant_steps = [created, code_sent, texted, paid, debited, posted, answered]
    assert {step["order_id"] for step in merchant_steps} == {order_id}
    assert any(hook["order_id"] == order_id and hook["status"] == "paid" for hook in Webhooks.received), (
        Webhooks.received
    )


def next_screen(smsgw: ServeWithMerchant, msisdn: str, after: int) -> dict[str, Any]:
    """The handset's USSD dialogue once the merchant showed it something past ``after``."""

    def shown() -> dict[str, Any] | None:
        screen = smsgw.get(f"/api/handsets/{msisdn}/ussd?after={after}&wait={WAIT}")
        return screen if screen["cursor"] > after and screen["state"] in ("waiting_user", "closed") else None

    return wait_until(shown, WAIT, f"a USSD screen on {msisdn}")


def test_a_ussd_pin_never_shows_in_clear(shop_server: ServeWithMerchant, callback: str) -> None:
    """A buyer confirms a pushed prompt with a PIN: the timeline has the screens, the input
    masked, and the deliver_sm that carried the PIN to the merchant with it masked; the PIN
    is nowhere in the answer, as text or in any PDU's octets."""
    smsgw, buyer = shop_server, "8617100000112"
    buyer_in(smsgw, buyer, "tl-pin")
    order_id = order(smsgw, buyer, "ussd_push", callback)
    screen = next_screen(smsgw, buyer, 0)
    for answer in ("1", PIN):
        assert screen["state"] == "waiting_user", screen
        status, answered = smsgw.api("POST", f"/api/handsets/{buyer}/ussd/reply", {"text": answer})
        assert status == 200, answered
        screen = next_screen(smsgw, buyer, answered["cursor"])
    assert screen["state"] == "closed", screen
    steps = paid_steps(smsgw, order_id)
    _, prompt, _, pin_prompt, typed, carried, _ = find_in_order(
        steps,
        ("ussd.open", {"origin": "network"}),
        ("ussd.screen", {"expects_reply": True}),
        ("ussd.input", {"text": "1"}),
        ("ussd.screen", {"expects_reply": True}),
        ("ussd.input", {"text": "*" * len(PIN)}),
        ("smpp.deliver_sm", {"delivery": "ussd"}),
        ("merchant.order", {"status": "paid"}),
    )
    assert prompt["detail"]["text"].startswith("Pay 3.00 CNY") and "PIN" in pin_prompt["detail"]["text"]
    assert carried["pdu"]["text"] == "*" * len(PIN) and carried["session"] == typed["session"]
    for query in (f"order={order_id}", f"msisdn={buyer}", "namespace=tl-pin"):
        answer = smsgw.get(f"/api/timeline?{query}")
        assert PIN not in json.dumps(answer), query
        assert all(PIN.encode().hex() not in step.get("hex", "") for step in answer["steps"]), query
