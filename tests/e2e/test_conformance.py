"""Operations that name a message by id, over real TCP as an ESME sends them: the source
address verifies the id (SMPP v3.4 §4.8.1, 4.9.1, 4.10.1), and replace_if_present_flag
replaces a pending message (§5.2.18)."""

from __future__ import annotations

from typing import Any

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import MessageState
from smsgw.smpp.pdu import CancelSm, QuerySm, ReplaceSm
from smsgw.smpp.sm import DeliverSmResp, SubmitSm

from .conftest import RECEIPT_TEXT, SHORT_CODE, Smsgw, wait_until

pytestmark = pytest.mark.e2e


def _answer(session: Any, sequence: int, command_id: int, delivered: list[Any] | None = None) -> Any:
    """The response to ``sequence``; a deliver_sm before it is acknowledged and kept in ``delivered``."""
    while True:
        pdu = session.read_pdu()
        if pdu.command_id == C.DELIVER_SM:
            session.send(codec.encode(DeliverSmResp(pdu.sequence_number)))
            if delivered is not None:
                delivered.append(pdu)
            continue
        assert (hex(pdu.command_id), pdu.sequence_number) == (hex(command_id), sequence)
        return pdu


def _submit(session: Any, msisdn: str, text: bytes, delivered: list[Any] | None = None, **fields: Any) -> str:
    fields.setdefault("source_addr", SHORT_CODE)
    sequence = session.request(
        SubmitSm, dest_addr_ton=1, dest_addr_npi=1, destination_addr=msisdn, short_message=text, **fields
    )
    response = _answer(session, sequence, C.SUBMIT_SM_RESP, delivered)
    assert response.command_status == 0
    return response.message_id


def _held(server: Smsgw, connect, msisdn: str) -> tuple[Any, str]:
    """A transmitter bound, and a message of its held for a phone that is off."""
    server.set_phone(msisdn, "off")
    session = connect(server, raw=True)
    assert session.bind("transmitter").command_status == 0
    return session, _submit(session, msisdn, b"Your code is 111111")


def test_cancel_sm_from_another_source_fails_and_the_message_stays(server: Smsgw, connect) -> None:
    """cancel_sm with the right message_id but source_addr 54321 (the message came from 12345)
    gets ESME_RCANCELFAIL and the message stays ENROUTE; from 12345 it is cancelled."""
    session, message_id = _held(server, connect, "8613800000051")
    for source, destination in (("54321", ""), ("", ""), (SHORT_CODE, "8613800000052")):
        sequence = session.request(
            CancelSm, message_id=message_id, source_addr=source, destination_addr=destination
        )
        assert _answer(session, sequence, C.CANCEL_SM_RESP).command_status == S.ESME_RCANCELFAIL
    assert server.message(message_id)["state"] == "ENROUTE"
    sequence = session.request(CancelSm, message_id=message_id, source_addr=SHORT_CODE)
    assert _answer(session, sequence, C.CANCEL_SM_RESP).command_status == 0
    assert server.message(message_id)["state"] == "DELETED"


def test_replace_sm_from_another_source_fails_and_the_text_stays(server: Smsgw, connect) -> None:
    """replace_sm with source_addr 54321 gets ESME_RREPLACEFAIL and the text is unchanged."""
    session, message_id = _held(server, connect, "8613800000053")
    sequence = session.request(ReplaceSm, message_id=message_id, source_addr="54321", short_message=b"forged")
    assert _answer(session, sequence, C.REPLACE_SM_RESP).command_status == S.ESME_RREPLACEFAIL
    assert server.message(message_id)["text"] == "Your code is 111111"
    sequence = session.request(ReplaceSm, message_id=message_id, source_addr=SHORT_CODE, short_message=b"new")
    assert _answer(session, sequence, C.REPLACE_SM_RESP).command_status == 0
    assert server.message(message_id)["text"] == "new"


def test_query_sm_from_another_source_fails_and_an_empty_one_is_not_known(server: Smsgw, connect) -> None:
    """query_sm with a source_addr other than the original's gets ESME_RQUERYFAIL; an empty
    source_addr ("not known", §4.8.1) and the right one are answered."""
    session, message_id = _held(server, connect, "8613800000054")
    sequence = session.request(QuerySm, message_id=message_id, source_addr="54321")
    assert _answer(session, sequence, C.QUERY_SM_RESP).command_status == S.ESME_RQUERYFAIL
    for source in ("", SHORT_CODE):
        sequence = session.request(QuerySm, message_id=message_id, source_addr=source)
        answer = _answer(session, sequence, C.QUERY_SM_RESP)
        assert (answer.command_status, answer.message_state) == (0, MessageState.ENROUTE)


def test_replace_if_present_replaces_the_pending_message(server: Smsgw, connect) -> None:
    """Two submits to a phone that is off, same source, destination and service_type, the
    second with replace_if_present_flag 1: the phone gets only the second; the first ends
    DELETED with a DELETED receipt, and query_sm says so."""
    msisdn = "8613800000055"
    server.set_phone(msisdn, "off")
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    delivered: list[Any] = []
    first = _submit(session, msisdn, b"rip first version", delivered, registered_delivery=1)
    second = _submit(
        session, msisdn, b"rip second version", delivered, registered_delivery=1, replace_if_present_flag=1
    )
    other = _submit(
        session, msisdn, b"another service", delivered, service_type="OTP", replace_if_present_flag=1
    )
    if not delivered:
        delivered.append(session.read_pdu())
        session.send(codec.encode(DeliverSmResp(delivered[0].sequence_number)))
    (receipt,) = delivered
    fields = RECEIPT_TEXT.match(receipt.short_message.decode("latin-1"))
    assert fields is not None and (fields["id"], fields["stat"]) == (first, "DELETED")
    assert (receipt.receipted_message_id, receipt.message_state) == (first, MessageState.DELETED)
    server.set_phone(msisdn, "on")
    inbox = wait_until(
        lambda: [m["text"] for m in server.get(f"/api/handsets/{msisdn}/inbox")["messages"]] or None,
        what="the inbox",
    )
    assert sorted(inbox) == ["another service", "rip second version"]
    sequence = session.request(QuerySm, message_id=first, source_addr=SHORT_CODE)
    assert _answer(session, sequence, C.QUERY_SM_RESP).message_state == MessageState.DELETED
    assert (server.message(second)["state"], server.message(other)["state"]) == ("DELIVRD", "DELIVRD")
