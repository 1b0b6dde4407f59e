"""CMPP 2.0 and 3.0 over real TCP: an SP connects, submits and takes reports and MO, as
China Mobile's gateway (ISMG) serves it. PyPI cmppy (a client the project did not write)
connects and submits; the project's own client (tests/e2e/cmppclient.py) does the rest."""

from __future__ import annotations

import re
import time

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.handset import Phone
from simulators.merchant.client import Shop
from smsgw.apiclient import call_api
from smsgw.cmpp import codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import MsgFmt, Version
from smsgw.text.udh import build_concat_udh

from .cmppclient import CmppClient
from .conftest import DEMO, Smsgw, wait_until

pytestmark = pytest.mark.e2e

#: The built-in SP account (docs/cmpp.md): SP_Id, shared secret, service code.
SP_ID, SECRET, SERVICE_CODE = "901234", "smsgw", "1065712345"


def cmpp_address(smsgw: Smsgw) -> tuple[str, int]:
    return smsgw.ports["cmpp_host"], smsgw.ports["cmpp"]


@pytest.fixture
def sp(server: Smsgw) -> CmppClient:
    client = CmppClient(cmpp_address(server))
    assert client.connect(SP_ID, SECRET).status == 0
    yield client
    client.close()


def inbox_texts(smsgw: Smsgw, phone: str) -> list[str]:
    return [m["text"] for m in smsgw.get(f"/api/handsets/{phone}/inbox")["messages"]]


def submit_fields(text: str = "Your code is 4321", *to: str, **fields: object) -> dict[str, object]:
    values: dict[str, object] = dict(
        service_id="OTP",
        msg_fmt=MsgFmt.UCS2,
        msg_src=SP_ID,
        src_id=SERVICE_CODE,
        dest_terminal_ids=to or (DEMO[0],),
        msg_content=text.encode("utf-16-be"),
    )
    values.update(fields)
    return values


def test_cmppy_connects_and_submits_and_the_handset_gets_the_text(server: Smsgw) -> None:
    """An independent CMPP 3.0 client: CONNECT, SUBMIT (UCS2 Chinese), TERMINATE."""
    cmppy = pytest.importorskip("cmppy", reason="cmppy is not installed (the test extra has it)")
    host, port = cmpp_address(server)
    client = cmppy.Cmppy(host, port, SP_ID, SECRET)
    answer = client.request(
        cmppy.SubmitReq(
            SP_ID, "验证码 4321", src_id=SERVICE_CODE, dest_terminal_id=[DEMO[1]], feecode="000000"
        )
    )
    assert answer.result == 0 and answer.msg_id > 0
    assert wait_until(lambda: "验证码 4321" in inbox_texts(server, DEMO[1]), what="the text in the inbox")
    stored = server.get("/api/messages?direction=MT&limit=5")["messages"]
    assert str(answer.msg_id) in [m["message_id"] for m in stored]


@pytest.mark.parametrize(
    ("source", "secret", "version", "status"),
    [
        (SP_ID, "wrong", 0x30, 3),
        ("999999", SECRET, 0x30, 2),
        (SP_ID, SECRET, 0x31, 4),
    ],
    ids=["bad-secret", "unknown-sp", "version-too-high"],
)
def test_a_refused_connect_gets_its_status_and_the_connection_ends(
    server: Smsgw, source: str, secret: str, version: int, status: int
) -> None:
    client = CmppClient(cmpp_address(server))
    try:
        answer = client.connect(source, secret, version=version)
        assert (answer.status, answer.authenticator_ismg) == (status, bytes(16))
        assert client.is_closed(5)
    finally:
        client.close()


@pytest.mark.parametrize("version", [Version.V30, Version.V20], ids=["3.0", "2.0"])
def test_a_report_comes_with_the_submit_resp_msg_id(server: Smsgw, version: Version) -> None:
    client = CmppClient(cmpp_address(server), version)
    try:
        assert client.connect(SP_ID, SECRET).status == 0
        answer = client.submit(**submit_fields("report me", DEMO[2], registered_delivery=1))
        assert answer.result == 0
        deliver = client.deliver()
        assert (deliver.registered_delivery, deliver.src_terminal_id, deliver.dest_id) == (
            1,
            DEMO[2],
            SERVICE_CODE,
        )
        report = codec.decode_report(deliver.msg_content, version)
        assert (report.msg_id, report.stat, report.dest_terminal_id) == (answer.msg_id, "DELIVRD", DEMO[2])
    finally:
        client.close()


def test_a_group_send_takes_consecutive_msg_ids_and_each_number_reports(sp: CmppClient) -> None:
    answer = sp.submit(**submit_fields("group", DEMO[0], DEMO[3], DEMO[4], registered_delivery=1))
    assert answer.result == 0
    reports = [codec.decode_report(sp.deliver().msg_content, Version.V30) for _ in range(3)]
    by_number = {r.dest_terminal_id: r.msg_id for r in reports}
    assert by_number == {DEMO[0]: answer.msg_id, DEMO[3]: answer.msg_id + 1, DEMO[4]: answer.msg_id + 2}


def test_a_long_message_in_udh_parts_reaches_the_handset_whole(server: Smsgw, sp: CmppClient) -> None:
    text = "支付确认" * 30  # 120 characters: two UCS2 parts of 67 and 53
    units = text.encode("utf-16-be")
    parts = [units[:134], units[134:]]
    for number, part in enumerate(parts, 1):
        answer = sp.submit(
            **submit_fields(
                "",
                DEMO[3],
                tp_udhi=1,
                pk_total=2,
                pk_number=number,
                msg_content=build_concat_udh(77, 2, number) + part,
            )
        )
        assert answer.result == 0
    assert wait_until(lambda: text in inbox_texts(server, DEMO[3]), what="the joined text")


def test_gbk_text_reaches_the_handset_as_text(server: Smsgw, sp: CmppClient) -> None:
    answer = sp.submit(
        **submit_fields("", DEMO[4], msg_fmt=MsgFmt.GB, msg_content="您的验证码是 8812".encode("gbk"))
    )
    assert answer.result == 0
    assert wait_until(lambda: "您的验证码是 8812" in inbox_texts(server, DEMO[4]), what="the GBK text")


def test_an_ascii_submit_keeps_its_at_sign(server: Smsgw, sp: CmppClient) -> None:
    """Msg_Fmt 0 is ASCII, one character an octet (not GSM: '@' is 0x40, not 0x00)."""
    sp.submit(**submit_fields("", DEMO[1], msg_fmt=MsgFmt.ASCII, msg_content=b"mail me@shop.cn"))
    assert wait_until(lambda: "mail me@shop.cn" in inbox_texts(server, DEMO[1]), what="the ASCII text")


@pytest.mark.parametrize(
    ("fields", "result"),
    [
        ({"src_id": "10690"}, 10),
        ({"msg_src": "123456"}, 11),
        ({"dest_terminal_ids": ("86138abc",)}, 13),
        ({"dest_terminal_ids": ("8613800000²",)}, 13),
        ({"msg_fmt": 7}, 1),
        ({"msg_content": bytes(141)}, 6),
    ],
    ids=[
        "src-id-not-the-sps",
        "msg-src-not-the-sp",
        "dest-not-a-number",
        "dest-with-a-superscript",
        "unknown-msg-fmt",
        "too-long",
    ],  # fmt: skip
)
def test_a_bad_submit_gets_its_result_and_the_session_carries_on(
    sp: CmppClient, fields: dict[str, object], result: int
) -> None:
    assert sp.submit(**submit_fields(**fields)).result == result  # type: ignore[arg-type]
    assert sp.submit(**submit_fields()).result == 0


def test_an_mo_to_the_service_code_comes_as_a_deliver(server: Smsgw, sp: CmppClient) -> None:
    status, _ = server.api("POST", f"/api/handsets/{DEMO[0]}/sms", {"to": SERVICE_CODE, "text": "Y 4321"})
    assert status in (200, 201, 202)
    deliver = sp.deliver()
    assert (deliver.registered_delivery, deliver.src_terminal_id, deliver.dest_id) == (
        0,
        DEMO[0],
        SERVICE_CODE,
    )
    assert (deliver.msg_fmt, deliver.msg_content) == (MsgFmt.ASCII, b"Y 4321")
    stored = server.get("/api/messages?direction=MO&limit=1")["messages"][0]
    assert wait_until(lambda: server.get(f"/api/messages/{stored['message_id']}")["state"] == "DELIVRD")


def test_a_deliver_answered_with_an_error_comes_again(start_server) -> None:
    smsgw = start_server("[network]\ndelivery_retry_base = 0.2\n")
    client = CmppClient(cmpp_address(smsgw))
    try:
        assert client.connect(SP_ID, SECRET).status == 0
        smsgw.api("POST", f"/api/handsets/{DEMO[2]}/sms", {"to": SERVICE_CODE, "text": "again"})
        first = client.deliver(result=8)  # flow control: not now
        again = client.deliver()
        assert again.msg_id == first.msg_id and again.sequence_id != first.sequence_id
    finally:
        client.close()


def test_active_test_is_answered_and_terminate_ends_the_session(sp: CmppClient) -> None:
    sequence = sp.send(p.ActiveTest(0))
    assert isinstance(sp.answer_to(sequence), p.ActiveTestResp)
    sequence = sp.send(p.Terminate(0))
    assert isinstance(sp.answer_to(sequence), p.TerminateResp)
    assert sp.is_closed(5)


def test_cancel_of_a_scheduled_message_deletes_it(sp: CmppClient) -> None:
    answer = sp.submit(**submit_fields("later", DEMO[3], registered_delivery=1, at_time="000001000000000R"))
    sequence = sp.send(p.Cancel(0, msg_id=answer.msg_id))
    assert sp.answer_to(sequence) == p.CancelResp(sequence, 0)
    report = codec.decode_report(sp.deliver().msg_content, Version.V30)
    assert (report.msg_id, report.stat) == (answer.msg_id, "DELETED")
    sequence = sp.send(p.Cancel(0, msg_id=answer.msg_id))
    assert sp.answer_to(sequence) == p.CancelResp(sequence, 1)


def test_query_counts_the_days_traffic_by_outcome(start_server) -> None:
    """CMPP_QUERY: today's MT (delivered, waiting for a phone that is off) and MO, in all and
    for one Service_Id."""
    smsgw = start_server()
    smsgw.set_phone(DEMO[4], "off")
    client = CmppClient(cmpp_address(smsgw))
    try:
        assert client.connect(SP_ID, SECRET).status == 0
        assert client.submit(**submit_fields("one", DEMO[0], service_id="OTP")).result == 0
        assert client.submit(**submit_fields("two", DEMO[0], DEMO[4], service_id="NEWS")).result == 0
        smsgw.api("POST", f"/api/handsets/{DEMO[1]}/sms", {"to": SERVICE_CODE, "text": "hi"})
        client.deliver()
        today = time.strftime("%Y%m%d", time.gmtime())

        def query(query_type: int, code: str = "") -> p.QueryResp:
            sequence = client.send(p.Query(0, time=today, query_type=query_type, query_code=code))
            answer = client.answer_to(sequence)
            assert isinstance(answer, p.QueryResp)
            return answer

        assert wait_until(lambda: query(0).mo_scs == 1, what="the MO counted as taken")
        every = query(0)
        assert (every.mt_tl_msg, every.mt_tl_usr, every.mt_scs, every.mt_wt, every.mt_fl) == (3, 2, 2, 1, 0)
        assert (every.mo_scs, every.mo_wt, every.mo_fl) == (1, 0, 0)
        news = query(1, "NEWS")
        assert (news.mt_tl_msg, news.mt_scs, news.mt_wt, news.query_code) == (2, 1, 1, "NEWS")
    finally:
        client.close()


def test_the_mock_merchant_over_cmpp_sends_the_code_and_takes_the_reply(tmp_path) -> None:
    """[merchant] protocol = "cmpp": the OTP goes out over CMPP from the merchant's SP, the
    buyer texts the code back (an MO delivered over CMPP), the order is paid and the receipt
    SMS comes over CMPP too; USSD is still the merchant's SMPP bind."""
    carrier = CarrierProcess(tmp_path, config='[merchant]\nprotocol = "cmpp"\n')
    try:
        endpoints = carrier.wait_ready()
        api, shop = endpoints["http_url"], endpoints["merchant_url"]
        sessions = call_api(api, "GET", "/api/sessions", timeout=10)["sessions"]
        assert {(s["system_id"], s["protocol"]) for s in sessions} >= {
            ("merchant", "smpp"),
            ("900001", "cmpp"),
        }
        buyer = Phone("+" + DEMO[2], api)
        order = Shop(shop).checkout(buyer, "3.00")
        code = re.search(r"code is (\d+)", buyer.wait_for_sms(r"code is \d+").text)[1]  # type: ignore[index]
        buyer.send_sms(code, to="10086")
        assert "Paid 3.00 CNY" in buyer.wait_for_sms(r"Paid 3\.00 CNY").text
        assert Shop(shop).wait_for_status(order, "paid")["status"] == "paid"
        sent = call_api(api, "GET", f"/api/messages?msisdn={DEMO[2]}&limit=5", timeout=10)["messages"]
        assert {m["account"] for m in sent} == {"900001"}  # the code, the reply and the receipt
    finally:
        carrier.stop()


@pytest.mark.parametrize(
    ("suffix", "result", "stat"),
    [("0004", 8, None), ("0005", 9, None), ("0001", 0, "UNDELIV"), ("0002", 0, "EXPIRED")],
    ids=["throttled", "system-error", "undeliverable", "expired"],
)
def test_the_magic_numbers_misbehave_over_cmpp_too(
    sp: CmppClient, suffix: str, result: int, stat: str | None
) -> None:
    """Faults are the carrier's: a refuse_submit rule's SMPP status becomes its CMPP Result, a
    failed delivery a report with its Stat."""
    answer = sp.submit(**submit_fields("magic", f"861999999{suffix}", registered_delivery=1))
    assert answer.result == result
    if stat is not None:
        report = codec.decode_report(sp.deliver().msg_content, Version.V30)
        assert (report.msg_id, report.stat) == (answer.msg_id, stat)


def test_a_thousand_pipelined_submits_are_all_answered_in_order(sp: CmppClient) -> None:
    """Written in one go (about 220 KiB), read a slice a turn: each gets its SUBMIT_RESP."""
    pdus = [p.Submit(n, **submit_fields(f"bulk {n}", DEMO[n % 5])) for n in range(1, 1001)]  # type: ignore[arg-type]
    sp.sock.sendall(b"".join(codec.encode(pdu, Version.V30) for pdu in pdus))
    answers = [sp.read() for _ in range(1000)]
    assert [(type(a).__name__, a.sequence_id) for a in answers] == [("SubmitResp", n) for n in range(1, 1001)]
    assert {a.result for a in answers} == {0}  # type: ignore[attr-defined]
    assert len({a.msg_id for a in answers}) == 1000  # type: ignore[attr-defined]


def test_a_report_owed_to_an_sp_survives_a_restart(start_server) -> None:
    """Accepted for a phone that is off, the carrier stopped and started again: when the phone
    comes on, the report reaches the SP's new connection with the Msg_Id it was given."""
    smsgw = start_server()
    smsgw.set_phone(DEMO[3], "off")
    client = CmppClient(cmpp_address(smsgw))
    try:
        assert client.connect(SP_ID, SECRET).status == 0
        answer = client.submit(**submit_fields("after the restart", DEMO[3], registered_delivery=1))
        assert answer.result == 0
    finally:
        client.close()
    assert smsgw.restart() == 0
    client = CmppClient(cmpp_address(smsgw))
    try:
        assert client.connect(SP_ID, SECRET).status == 0
        smsgw.set_phone(DEMO[3], "on")
        report = codec.decode_report(client.deliver().msg_content, Version.V30)
        assert (report.msg_id, report.stat, report.dest_terminal_id) == (answer.msg_id, "DELIVRD", DEMO[3])
        assert "after the restart" in inbox_texts(smsgw, DEMO[3])
    finally:
        client.close()
