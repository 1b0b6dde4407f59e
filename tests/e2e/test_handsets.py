"""Handsets over real TCP and HTTP: texts as the phone shows them, long polls, MO, states, events."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request

import pytest
import smpplib.gsm

from smsgw.text.gsm import encode_gsm
from smsgw.text.udh import build_concat_udh

from .conftest import Esme, Smsgw, receipt_of

pytestmark = pytest.mark.e2e

CHINESE = (
    "您的支付验证码是 482913，五分钟内有效。请勿将验证码告诉他人，包括自称客服的人员。谢谢您使用我们的服务，祝您购物愉快！"
    * 3
)  # 3 parts of at most 67


def ucs2_parts(text: str, size: int = 67) -> list[bytes]:
    encoded = text.encode("utf-16-be")
    return [encoded[i : i + size * 2] for i in range(0, len(encoded), size * 2)]


def inbox_texts(server: Smsgw, msisdn: str, **params: str) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return server.get(f"/api/handsets/{msisdn}/inbox?{query}")["messages"]


def test_shuffled_udh_and_sar_parts_show_as_one_text_each(server: Smsgw, connect) -> None:
    """A 3-part UCS2 Chinese text sent with UDH and again with SAR TLVs, parts shuffled, shows as two whole texts."""
    msisdn = "8613800000011"
    esme: Esme = connect(server)
    esme.bind("transmitter")
    chunks = ucs2_parts(CHINESE)
    assert len(chunks) == 3
    order = [2, 0, 1]
    for index in order:
        udh = build_concat_udh(0x2A, 3, index + 1)
        esme.submit_ok(msisdn, udh + chunks[index], data_coding=8, esm_class=0x40, registered_delivery=0)
    random.Random(5).shuffle(order)
    for index in order:
        esme.submit_ok(
            msisdn,
            chunks[index],
            data_coding=8,
            registered_delivery=0,
            sar_msg_ref_num=0x1234,
            sar_total_segments=3,
            sar_segment_seqnum=index + 1,
        )
    messages = inbox_texts(server, msisdn)
    assert [(m["text"], m["concat"], m["complete"], m["total_parts"]) for m in messages] == [
        (CHINESE, "udh8", True, 3),
        (CHINESE, "sar", True, 3),
    ]
    assert [p["seq"] for p in messages[0]["parts"]] == [1, 2, 3]


def test_gsm_extension_characters_arrive_intact(server: Smsgw, connect) -> None:
    """A GSM text with €[]{} (escape pairs, also split across two parts) reads back exactly."""
    msisdn = "8613800000012"
    esme: Esme = connect(server)
    esme.bind("transmitter")
    short = "Price: €5 [promo] {ok} ~ ^ \\ |"
    parts, coding, esm_class = smpplib.gsm.make_parts(short)
    esme.submit_ok(msisdn, parts[0], data_coding=coding, esm_class=esm_class, registered_delivery=0)
    long_text = "x" * 152 + "€" + "{[]}" * 10
    septets = encode_gsm(long_text)
    first, second = septets[:153], septets[153:]  # cuts the € escape pair in two
    for seq, chunk in ((1, first), (2, second)):
        esme.submit_ok(msisdn, build_concat_udh(9, 2, seq) + chunk, esm_class=0x40, registered_delivery=0)
    assert [m["text"] for m in inbox_texts(server, msisdn)] == [short, long_text]


def test_long_mo_reply_reaches_the_esme_in_encoded_parts(server: Smsgw, connect) -> None:
    """A 300-character MO reply arrives at the ESME as UDH parts that decode back to the text."""
    esme: Esme = connect(server)
    esme.bind("receiver")
    text = "".join(f"{n:02d}: YES, I confirm the payment of 25.00 CNY; " for n in range(8))[:300]
    status, body = server.api("POST", "/api/handsets/8613800000013/sms", {"to": "12345", "text": text})
    assert status == 201 and len(body["message_ids"]) == 2
    parts = esme.wait_deliveries(2)
    assert [p.esm_class for p in parts] == [0x40, 0x40]
    assert {bytes(p.source_addr).decode() for p in parts} == {"8613800000013"}
    assert [bytes(p.short_message)[:6][-1] for p in parts] == [1, 2]
    assert "".join(bytes(p.short_message)[6:].decode("ascii") for p in parts) == text
    sent = server.get("/api/handsets/8613800000013/sent")["messages"]
    assert [(m["to"], m["text"]) for m in sent] == [("12345", text)]


def test_phone_off_then_on_within_validity_then_expired(server: Smsgw, connect) -> None:
    """Switched off, a phone gets its message and the ESME its receipt once on again; past validity, EXPIRED."""
    msisdn = "8613800000014"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    server.set_phone(msisdn, "off")
    waiting = esme.submit_ok(msisdn, "held for you")
    assert inbox_texts(server, msisdn) == []
    assert esme.read(timeout=0.3) is None
    server.set_phone(msisdn, "on")
    (receipt,) = esme.wait_deliveries(1)
    assert receipt_of(receipt)["receipted_message_id"] == waiting and receipt_of(receipt)["stat"] == "DELIVRD"
    assert [m["text"] for m in inbox_texts(server, msisdn)] == ["held for you"]

    server.set_phone(msisdn, "off")
    expiring = esme.submit_ok(msisdn, "too late", validity_period="000000000001000R")
    late = receipt_of(esme.wait_deliveries(2, timeout=5)[1])
    assert (late["receipted_message_id"], late["stat"], late["err"]) == (expiring, "EXPIRED", "027")
    server.set_phone(msisdn, "on")


def test_long_poll_answers_as_soon_as_a_matching_message_lands(server: Smsgw, connect) -> None:
    """GET inbox?wait=10 answers within moments of the submit, with only the message its filters ask for."""
    msisdn = "8613800000015"
    esme: Esme = connect(server)
    esme.bind("transmitter")
    cursor = server.get(f"/api/handsets/{msisdn}/inbox")["cursor"]

    def submit_later() -> None:
        time.sleep(0.3)
        esme.submit_ok(msisdn, "Your balance is 10", registered_delivery=0)
        esme.submit_ok(msisdn, "Your code is 771234", registered_delivery=0)

    thread = threading.Thread(target=submit_later)
    started = time.monotonic()
    thread.start()
    answer = server.get(
        f"/api/handsets/{msisdn}/inbox?wait=10&after={cursor}&from=12345&match=code%20is%20%5Cd%7B6%7D"
    )
    elapsed = time.monotonic() - started
    thread.join()
    assert [m["text"] for m in answer["messages"]] == ["Your code is 771234"]
    assert elapsed < 3, elapsed
    assert answer["cursor"] > cursor
    empty = server.get(f"/api/handsets/{msisdn}/inbox?wait=1&after={answer['cursor']}")
    assert empty["messages"] == [] and empty["cursor"] == answer["cursor"]


def test_clear_inbox_and_busy_phone(server: Smsgw, connect) -> None:
    """A cleared inbox shows only later messages; a busy phone still receives SMS."""
    msisdn = "8613800000016"
    esme: Esme = connect(server)
    esme.bind("transmitter")
    esme.submit_ok(msisdn, "old", registered_delivery=0)
    status, cleared = server.api("DELETE", f"/api/handsets/{msisdn}/inbox")
    assert status == 200 and cleared["cleared"] is True
    server.set_phone(msisdn, "busy")
    esme.submit_ok(msisdn, "new", registered_delivery=0)
    assert [m["text"] for m in inbox_texts(server, msisdn)] == ["new"]
    server.set_phone(msisdn, "on")


def test_handset_to_handset(server: Smsgw) -> None:
    """One handset texts another by number: the other's inbox shows it from the sender."""
    status, body = server.api(
        "POST", "/api/handsets/8613800000017/sms", {"to": "+8613800000018", "text": "hi 你好"}
    )
    assert status == 201
    (message,) = inbox_texts(server, "8613800000018")
    assert (message["from"], message["text"]) == ("8613800000017", "hi 你好")


def test_strict_provisioning_create_and_delete(start_server, connect) -> None:
    """Under strict provisioning a created handset receives; once deleted, submits to it are refused."""
    smsgw = start_server('[network]\nprovisioning = "strict"\n')
    status, created = smsgw.api("POST", "/api/handsets", {"msisdn": "+8613912345678", "name": "QA buyer"})
    assert status == 201 and created == {
        "msisdn": "8613912345678",
        "name": "QA buyer",
        "state": "on",
        "namespace": "",
    }
    assert smsgw.api("POST", "/api/handsets", {"msisdn": "8613912345678"})[0] == 409
    esme: Esme = connect(smsgw)
    esme.bind("transmitter")
    esme.submit_ok("8613912345678", "welcome", registered_delivery=0)
    assert smsgw.api("DELETE", "/api/handsets/8613912345678")[0] == 200
    assert esme.submit("8613912345678", "gone", registered_delivery=0).status == 0x0B
    assert smsgw.api("GET", "/api/handsets/8613912345678")[0] == 404


def test_events_stream_shows_the_network(server: Smsgw, connect) -> None:
    """/api/events streams bind, accepted, delivered and handset events as JSON."""
    stream = urllib.request.urlopen(server.ports["http_url"] + "/api/events", timeout=5)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.readline() == b": smsgw events\n"
    esme: Esme = connect(server)
    esme.bind("transmitter")
    message_id = esme.submit_ok("8613800000019", "watched", registered_delivery=0)
    server.set_phone("8613800000019", "busy")
    seen: list[dict] = []
    while not any(e["type"] == "handset_changed" for e in seen):
        line = stream.readline()
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
    stream.close()
    kinds = [(e["type"], e.get("message_id")) for e in seen]
    assert ("bound", None) in kinds
    assert ("message_accepted", message_id) in kinds
    assert ("message_state_changed", message_id) in kinds
    assert seen[-1]["msisdn"] == "8613800000019" and seen[-1]["state"] == "busy"
    server.set_phone("8613800000019", "on")


def test_a_foreign_number_can_be_changed_and_cleared(server) -> None:
    """Found by schemathesis: +64 041 065 6959 693 was taken for a Chinese national number (500)."""
    status, body = server.api("DELETE", "/api/handsets/%2B640410656959693/inbox")
    assert status == 200 and body["msisdn"] == "640410656959693"
    status, body = server.api("PATCH", "/api/handsets/%2B640410656959693", {"state": "off"})
    assert status == 200 and body["state"] == "off"
