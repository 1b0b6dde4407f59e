"""Reports and MO as CMPP_DELIVER bytes, read back by our decoder in both versions."""

from __future__ import annotations

import calendar

import pytest

from smsgw.cmpp import codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import MsgFmt, Version
from smsgw.frontend.cmpp.deliveries import CmppDeliveries, encode_mo, encode_report, relaid_for
from smsgw.smpp.constants import MessageState
from smsgw.store.records import MessageRecord
from smsgw.text.udh import build_concat_udh

SUBMITTED = calendar.timegm((2026, 12, 6, 9, 5, 0))
MSG_ID = 0x1234_5678_9ABC_DEF0


def mt(**fields: object) -> MessageRecord:
    values: dict[str, object] = dict(
        id=7, message_id=str(MSG_ID), system_id="901234", direction="MT", msisdn="8613800000001",
        service_type="OTP", source_ton=0, source_npi=0, source_addr="1065712345", dest_ton=1, dest_npi=1,
        dest_addr="8613800000001", esm_class=0, protocol_id=0, priority=0, registered_delivery=1,
        data_coding=8, body="你好".encode("utf-16-be"), sar_ref=None, sar_total=None, sar_seq=None,
        submitted_at=SUBMITTED, scheduled_at=None, expires_at=SUBMITTED + 3600,
        state=MessageState.DELIVRD, done_at=SUBMITTED + 61, error=0,
    )  # fmt: skip
    values.update(fields)
    return MessageRecord(**values)  # type: ignore[arg-type]


def decoded(raw: bytes, version: Version = Version.V30) -> p.Deliver:
    deliver = codec.decode(raw, version)
    assert isinstance(deliver, p.Deliver)
    return deliver


@pytest.mark.parametrize(
    ("state", "stat"),
    [
        (MessageState.DELIVRD, "DELIVRD"),
        (MessageState.EXPIRED, "EXPIRED"),
        (MessageState.UNDELIV, "UNDELIV"),
        (MessageState.REJECTD, "REJECTD"),
        (MessageState.DELETED, "DELETED"),
    ],
)
def test_a_report_carries_the_submit_resp_msg_id_the_final_state_and_both_times(
    state: MessageState, stat: str
) -> None:
    deliver = decoded(encode_report(mt(state=state), now=0.0))
    assert (deliver.registered_delivery, deliver.dest_id, deliver.src_terminal_id, deliver.service_id) == (
        1,
        "1065712345",
        "8613800000001",
        "OTP",
    )
    report = codec.decode_report(deliver.msg_content, Version.V30)
    assert report == p.StatusReport(MSG_ID, stat, "2612060905", "2612060906", "8613800000001", 7)


def test_a_report_for_a_2_0_session_is_relaid_in_its_60_octet_layout() -> None:
    raw = relaid_for(encode_report(mt(), now=0.0), Version.V20)
    deliver = decoded(raw, Version.V20)
    assert len(deliver.msg_content) == 60 and len(raw) == 85 + 60
    assert codec.decode_report(deliver.msg_content, Version.V20).stat == "DELIVRD"


def test_an_mo_in_ucs2_keeps_its_octets_and_its_udh() -> None:
    body = build_concat_udh(9, 2, 1) + "支付确认".encode("utf-16-be")
    deliver = decoded(
        encode_mo(
            mt(direction="MO", esm_class=0x40, body=body, source_addr="8613800000001", dest_addr="10657")
        )
    )
    assert (deliver.msg_fmt, deliver.tp_udhi, deliver.msg_content) == (MsgFmt.UCS2, 1, body)
    assert (deliver.src_terminal_id, deliver.dest_id, deliver.registered_delivery) == (
        "8613800000001",
        "10657",
        0,
    )


@pytest.mark.parametrize(
    ("data_coding", "body", "msg_fmt", "content"),
    [
        (1, b"PAY 42", MsgFmt.ASCII, b"PAY 42"),
        (0, b"PAY 42", MsgFmt.ASCII, b"PAY 42"),  # GSM: the same octets for these letters
        (0, b"\x00 PAY", MsgFmt.ASCII, b"@ PAY"),  # GSM's @ is 0x00, ASCII's 0x40
        (3, "café".encode("latin-1"), MsgFmt.UCS2, "café".encode("utf-16-be")),
        (4, b"\x01\x02", MsgFmt.BINARY, b"\x01\x02"),
    ],
)
def test_an_mo_stored_in_an_alphabet_cmpp_lacks_goes_as_ascii_or_ucs2(
    data_coding: int, body: bytes, msg_fmt: int, content: bytes
) -> None:
    deliver = decoded(encode_mo(mt(direction="MO", data_coding=data_coding, body=body)))
    assert (deliver.msg_fmt, deliver.msg_content) == (msg_fmt, content)


def test_an_id_that_is_no_msg_id_falls_back_to_the_row() -> None:
    deliver = decoded(CmppDeliveries().receipt(mt(message_id="a1b2"), None, 0.0))
    assert deliver.msg_id == 7


def test_cmpp_has_no_ussd() -> None:
    from smsgw.carrier.encoding import UssdScreenOut

    with pytest.raises(ValueError, match="CMPP has no USSD"):
        CmppDeliveries().ussd(UssdScreenOut("8613800000001", "*123#", 1, "menu", 5, False), None)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"state": MessageState.EXPIRED, "done_at": None},
        {"service_type": "", "source_addr": "106571234599999999999", "id": 2**40 + 5},
        {"state": MessageState.ENROUTE},
    ],
)
def test_the_packed_report_is_the_codecs_to_the_octet(fields: dict[str, object]) -> None:
    from smsgw.frontend.cmpp.deliveries import _encode_report

    record = mt(**fields)
    assert encode_report(record, SUBMITTED + 90) == _encode_report(record, SUBMITTED + 90)


def test_a_record_the_layout_cannot_hold_is_named_by_the_codec() -> None:
    from smsgw.cmpp.errors import LocalProtocolError

    with pytest.raises(LocalProtocolError, match="service_id"):
        encode_report(mt(service_type="A" * 11), 0.0)
