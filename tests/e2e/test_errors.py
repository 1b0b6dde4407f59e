"""Every error status smsgw answers, provoked over real TCP by smpplib or, where smpplib cannot, a raw socket."""

from __future__ import annotations

import struct
import time

import pytest
import smpplib.exceptions

from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import Tag
from smsgw.smpp.pdu import CancelSm, EnquireLink, ReplaceSm
from smsgw.smpp.sm import SubmitSm

from .conftest import (
    DEFAULT_ACCOUNT_TOML,
    DEMO,
    SHORT_CODE,
    header,
    raw_pdu,
    submit_sm_body,
    tlv,
    wait_until,
)

pytestmark = pytest.mark.e2e


def assert_answer(response, command_id: int, sequence: int, status: int) -> None:
    """A response is the expected PDU, echoes the request's sequence_number and carries the status."""
    assert (hex(response.command_id), response.sequence_number, hex(response.command_status)) == (
        hex(command_id),
        sequence,
        hex(status),
    )


def assert_session_usable(session) -> None:
    """The connection still answers enquire_link."""
    sequence = session.request(EnquireLink)
    assert_answer(session.read_pdu(), C.ENQUIRE_LINK_RESP, sequence, S.ESME_ROK)


def send_submit(session, **fields) -> int:
    """A hand-built submit_sm; return its sequence_number."""
    sequence = session.next_sequence()
    session.send(raw_pdu(C.SUBMIT_SM, submit_sm_body(**fields), sequence))
    return sequence


# -- binds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("nobody", "smsgw", S.ESME_RINVSYSID), ("smsgw", "wrong", S.ESME_RINVPASWD)],
    ids=["unknown-system-id", "wrong-password"],
)
def test_bind_with_bad_credentials_is_refused(server, connect, system_id, password, status) -> None:
    """A bind with an unknown system_id gets ESME_RINVSYSID and one with a wrong password ESME_RINVPASWD."""
    esme = connect(server)
    with pytest.raises(smpplib.exceptions.PDUError) as refusal:
        esme.bind("transceiver", system_id=system_id, password=password)
    assert refusal.value.args[1] == status


def test_refused_bind_leaves_the_connection_open_for_another_try(server, connect) -> None:
    """After a bind refused for its password, a bind with the right one on the same connection succeeds."""
    esme = connect(server)
    with pytest.raises(smpplib.exceptions.PDUError):
        esme.bind("transceiver", password="wrong")
    response = esme.bind("transceiver")
    assert response.status == 0
    assert esme.submit_ok(registered_delivery=0)


def test_bind_type_not_allowed_for_the_account_is_refused(start_server, connect) -> None:
    """An account limited to transmitter binds gets ESME_RBINDFAIL when it binds as receiver, and may bind as transmitter."""
    smsgw = start_server(
        DEFAULT_ACCOUNT_TOML
        + """
[[accounts]]
system_id = "txonly"
password = "secret"
bind_types = ["transmitter"]
"""
    )
    esme = connect(smsgw)
    with pytest.raises(smpplib.exceptions.PDUError) as refusal:
        esme.bind("receiver", system_id="txonly", password="secret")
    assert refusal.value.args[1] == S.ESME_RBINDFAIL
    assert connect(smsgw).bind("transmitter", system_id="txonly", password="secret").status == 0


def test_second_bind_on_a_bound_session_is_already_bound(server, connect) -> None:
    """A bind on a session that is already bound gets ESME_RALYBND and the first bind still holds."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    response = session.bind("transmitter")
    assert (hex(response.command_id), hex(response.command_status)) == (
        hex(C.BIND_TRANSMITTER_RESP),
        hex(S.ESME_RALYBND),
    )
    sequence = send_submit(session)
    response = session.read_pdu()
    assert_answer(response, C.SUBMIT_SM_RESP, sequence, S.ESME_ROK)
    assert response.message_id


# -- PDUs not allowed in the session's state ---------------------------------------------


def test_submit_before_bind_is_refused(server, connect) -> None:
    """submit_sm on an open, unbound session gets submit_sm_resp ESME_RINVBNDSTS."""
    session = connect(server, raw=True)
    sequence = send_submit(session)
    assert_answer(session.read_pdu(), C.SUBMIT_SM_RESP, sequence, S.ESME_RINVBNDSTS)


def test_submit_on_a_receiver_bind_is_refused(server, connect) -> None:
    """submit_sm on a receiver bind gets submit_sm_resp ESME_RINVBNDSTS and the session stays up."""
    session = connect(server, raw=True)
    assert session.bind("receiver").command_status == 0
    sequence = send_submit(session)
    assert_answer(session.read_pdu(), C.SUBMIT_SM_RESP, sequence, S.ESME_RINVBNDSTS)
    assert_session_usable(session)


def test_a_flood_of_refused_pdus_gets_every_answer_and_a_few_log_lines(start_server, connect) -> None:
    """3,000 submit_sm pipelined before any bind: each gets ESME_RINVBNDSTS, and the log says so
    in a line a second for the session plus a count of the rest, not in 3,000 lines (writing
    them would cost the reactor more than the answers; a shutdown under load once took >10 s)."""
    smsgw = start_server()
    session = connect(smsgw, raw=True)
    session.send(b"".join(raw_pdu(C.SUBMIT_SM, submit_sm_body(), n) for n in range(1, 3001)))
    answers = [session.read_pdu() for _ in range(3000)]
    assert {(a.command_id, a.command_status) for a in answers} == {(C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS)}
    assert [a.sequence_number for a in answers] == list(range(1, 3001))
    summary = "more protocol errors not logged one by one (ESME_RINVBNDSTS "
    wait_until(lambda: summary in smsgw.stderr(), what="the summary of the held-back lines")
    log = smsgw.stderr().splitlines()
    written = [line for line in log if "SubmitSm is not allowed in state" in line]
    held = [int(line.split(summary)[1].rstrip(")")) for line in log if summary in line]
    assert 1 <= len(written) <= 10 and "answered ESME_RINVBNDSTS" in written[0]
    assert len(written) + sum(held) == 3000


# -- headers: generic_nack ---------------------------------------------------------------


def test_unknown_command_id_gets_generic_nack_and_the_session_carries_on(server, connect) -> None:
    """A PDU with an unknown command_id gets generic_nack ESME_RINVCMDID with its sequence_number, then enquire_link still works."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    session.send(raw_pdu(0x00000077, b"\x01\x02\x03", 4242))
    assert_answer(session.read_pdu(), C.GENERIC_NACK, 4242, S.ESME_RINVCMDID)
    assert_session_usable(session)


@pytest.mark.parametrize("length", [5, 15, 65537, 0xFFFFFFFF], ids=["5", "15", "max+1", "4GiB"])
def test_impossible_command_length_gets_generic_nack_then_close(server, connect, length) -> None:
    """A command_length below 16 or above max_pdu_size (65536) gets generic_nack ESME_RINVCMDLEN, then the connection closes."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    session.send(header(length, C.SUBMIT_SM, 777))
    assert_answer(session.read_pdu(), C.GENERIC_NACK, 777, S.ESME_RINVCMDLEN)
    assert session.is_closed(timeout=3)


def test_pdu_of_exactly_max_pdu_size_is_accepted(server, connect) -> None:
    """A submit_sm whose command_length is exactly max_pdu_size (65536) is read whole and accepted."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    empty = submit_sm_body(short_message=b"")
    payload = b"A" * (65536 - 16 - len(empty) - 4)
    body = empty + tlv(Tag.MESSAGE_PAYLOAD, payload)
    assert 16 + len(body) == 65536
    session.send(raw_pdu(C.SUBMIT_SM, body, 9))
    response = session.read_pdu()
    assert_answer(response, C.SUBMIT_SM_RESP, 9, S.ESME_ROK)
    assert len(server.message(response.message_id)["text"]) == len(payload)


# -- bodies: the request's own response with a status -----------------------------------


def test_header_only_pdu_with_a_body_gets_invalid_command_length(server, connect) -> None:
    """An enquire_link carrying 4 body octets gets enquire_link_resp ESME_RINVCMDLEN and the session carries on."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    session.send(raw_pdu(C.ENQUIRE_LINK, b"\0\0\0\0", 55))
    assert_answer(session.read_pdu(), C.ENQUIRE_LINK_RESP, 55, S.ESME_RINVCMDLEN)
    assert_session_usable(session)


@pytest.mark.parametrize(
    "cut",
    [lambda body: body[:-4], lambda body: body[: body.index(DEMO[0].encode()) + 5]],
    ids=["inside-short_message", "inside-destination_addr"],
)
def test_truncated_body_gets_invalid_command_length_and_the_session_carries_on(server, connect, cut) -> None:
    """A submit_sm whose body ends inside a mandatory field gets submit_sm_resp ESME_RINVCMDLEN; the next submit_sm is accepted."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    body = cut(submit_sm_body(short_message=b"hello world"))
    session.send(raw_pdu(C.SUBMIT_SM, body, 31))
    assert_answer(session.read_pdu(), C.SUBMIT_SM_RESP, 31, S.ESME_RINVCMDLEN)
    sequence = send_submit(session)
    assert_answer(session.read_pdu(), C.SUBMIT_SM_RESP, sequence, S.ESME_ROK)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"source_addr": b"1" * 25}, S.ESME_RINVSRCADR),
        ({"destination_addr": b"8" * 25}, S.ESME_RINVDSTADR),
        ({"service_type": b"WAPPUSH"}, S.ESME_RINVSERTYP),
        ({"tlvs": struct.pack(">HH", Tag.MESSAGE_PAYLOAD, 10) + b"abc"}, S.ESME_RINVOPTPARSTREAM),
        ({"tlvs": b"\x02\x0c\x00"}, S.ESME_RINVOPTPARSTREAM),
        ({"tlvs": tlv(Tag.SAR_MSG_REF_NUM, b"\x00\x01\x02")}, S.ESME_RINVPARLEN),
        ({"short_message": b"hi", "tlvs": tlv(Tag.MESSAGE_PAYLOAD, b"there")}, S.ESME_RINVOPTPARAMVAL),
    ],
    ids=[
        "source_addr-25-chars",
        "destination_addr-25-chars",
        "service_type-7-chars",
        "tlv-longer-than-pdu",
        "stray-octets-after-tlvs",
        "sar_msg_ref_num-3-octets",
        "short_message-and-message_payload",
    ],
)
def test_malformed_submit_gets_its_status(server, connect, fields, status) -> None:
    """A submit_sm with a field too long, a broken TLV stream, a TLV of the wrong size or two bodies gets submit_sm_resp with that field's status."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    sequence = send_submit(session, **fields)
    response = session.read_pdu()
    assert_answer(response, C.SUBMIT_SM_RESP, sequence, status)
    assert response.message_id == ""
    assert_session_usable(session)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"validity_period": "261399120000000+"}, S.ESME_RINVEXPIRY),
        ({"validity_period": "2601011200000X0+"}, S.ESME_RINVEXPIRY),
        ({"schedule_delivery_time": "260230120000000+"}, S.ESME_RINVSCHED),
        ({"schedule_delivery_time": "000000000001000Z"}, S.ESME_RINVSCHED),
        ({"esm_class": 0x04}, S.ESME_RINVESMCLASS),
    ],
    ids=[
        "priority_flag-4",
        "validity-month-13",
        "validity-not-digits",
        "schedule-30-february",
        "schedule-bad-kind",
        "esm_class-receipt",
    ],
)
def test_submit_with_a_bad_value_from_smpplib_gets_its_status(server, connect, fields, status) -> None:
    """smpplib's submit_sm with priority_flag 4, a bad validity_period or schedule_delivery_time, or esm_class 0x04 gets the matching status."""
    esme = connect(server)
    esme.bind("transceiver")
    response = esme.submit(registered_delivery=0, **fields)
    assert (response.command, hex(response.status)) == ("submit_sm_resp", hex(status))
    assert esme.submit_ok(registered_delivery=0)


# -- carrier refusals --------------------------------------------------------------------


def test_throughput_limit_throttles_a_burst(start_server, connect) -> None:
    """An account limited to 2 msg/s sending 10 submit_sm at once gets some accepted and the rest ESME_RTHROTTLED."""
    smsgw = start_server(
        """
[[accounts]]
system_id = "smsgw"
password = "smsgw"
short_codes = ["12345"]
throughput = 2
"""
    )
    esme = connect(smsgw)
    esme.bind("transmitter")
    statuses = [esme.submit(registered_delivery=0).status for _ in range(10)]
    assert set(statuses) <= {S.ESME_ROK, S.ESME_RTHROTTLED}, statuses
    assert statuses.count(S.ESME_ROK) >= 1
    assert statuses.count(S.ESME_RTHROTTLED) >= 1
    assert statuses.count(S.ESME_ROK) <= 4, "a 2 msg/s account took most of a burst of 10"


def test_queue_full_when_receipts_wait_for_a_receiver(start_server, connect) -> None:
    """With max_queue 3 and no receiver bound, the 4th and 5th receipt-requesting submits get ESME_RMSGQFUL."""
    smsgw = start_server(
        """
[[accounts]]
system_id = "smsgw"
password = "smsgw"
short_codes = ["12345"]
max_queue = 3
"""
    )
    esme = connect(smsgw)
    esme.bind("transmitter")
    statuses = [esme.submit(registered_delivery=1).status for _ in range(5)]
    assert statuses == [S.ESME_ROK] * 3 + [S.ESME_RMSGQFUL] * 2

    # The queue drains once a receiver takes the receipts, and submits are accepted again.
    receiver = connect(smsgw)
    receiver.bind("receiver")
    receiver.wait_deliveries(3)
    wait_until(
        lambda: esme.submit(registered_delivery=1).status == S.ESME_ROK,
        what="a submit accepted after the drain",
    )


def test_unknown_destination_in_strict_provisioning_is_invalid(start_server, connect) -> None:
    """With provisioning strict, a submit_sm to a number that is not a subscriber gets ESME_RINVDSTADR; a demo subscriber still works."""
    smsgw = start_server('[network]\nprovisioning = "strict"\n')
    esme = connect(smsgw)
    esme.bind("transmitter")
    assert esme.submit("8613999999999", registered_delivery=0).status == S.ESME_RINVDSTADR
    assert esme.submit_ok(DEMO[4], registered_delivery=0)
    assert smsgw.api("GET", "/api/handsets/8613999999999")[0] == 404


@pytest.mark.parametrize("message_id", ["999999", "not-an-id"])
def test_query_of_an_unknown_message_fails(server, connect, message_id) -> None:
    """query_sm for a message_id smsgw never issued gets query_sm_resp ESME_RQUERYFAIL."""
    esme = connect(server)
    esme.bind("transceiver")
    query = esme.client.query_message(
        message_id=message_id, source_addr_ton=0, source_addr_npi=0, source_addr=SHORT_CODE
    )
    response = esme.response(query.sequence)
    assert (response.command, hex(response.status)) == ("query_sm_resp", hex(S.ESME_RQUERYFAIL))


def _delivered_message(session) -> str:
    """Submit a message to a phone that is on (so it is delivered at once); return its message_id."""
    sequence = session.request(
        SubmitSm,
        source_addr=SHORT_CODE,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=DEMO[3],
        short_message=b"hi",
    )
    response = session.read_pdu()
    assert_answer(response, C.SUBMIT_SM_RESP, sequence, S.ESME_ROK)
    return response.message_id


def test_cancel_of_a_delivered_message_fails(server, connect) -> None:
    """cancel_sm of a message already delivered gets cancel_sm_resp ESME_RCANCELFAIL and the message stays DELIVRD."""
    session = connect(server, raw=True)
    assert session.bind("transmitter").command_status == 0
    message_id = _delivered_message(session)
    sequence = session.request(
        CancelSm,
        message_id=message_id,
        source_addr=SHORT_CODE,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=DEMO[3],
    )
    assert_answer(session.read_pdu(), C.CANCEL_SM_RESP, sequence, S.ESME_RCANCELFAIL)
    assert server.message(message_id)["state"] == "DELIVRD"


def test_replace_of_a_delivered_message_fails(server, connect) -> None:
    """replace_sm of a message already delivered gets replace_sm_resp ESME_RREPLACEFAIL and the text is unchanged."""
    session = connect(server, raw=True)
    assert session.bind("transmitter").command_status == 0
    message_id = _delivered_message(session)
    sequence = session.request(
        ReplaceSm, message_id=message_id, source_addr=SHORT_CODE, short_message=b"changed"
    )
    assert_answer(session.read_pdu(), C.REPLACE_SM_RESP, sequence, S.ESME_RREPLACEFAIL)
    assert server.message(message_id)["text"] == "hi"


# -- timers ------------------------------------------------------------------------------


def test_session_init_timeout_closes_a_silent_connection(start_server, connect) -> None:
    """With session_init_timeout 1, a connection that never binds is closed after about a second."""
    smsgw = start_server("[smpp]\nsession_init_timeout = 1\n")
    started = time.monotonic()
    session = connect(smsgw, raw=True)
    assert session.is_closed(timeout=3)
    assert time.monotonic() - started >= 0.9, "closed before the timeout"
