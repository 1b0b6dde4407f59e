"""A receipt the ESME refuses for now, or does not answer, comes again with backoff until it is accepted."""

from __future__ import annotations

import time

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.pdu import GenericNack
from smsgw.smpp.sm import DeliverSmResp

from .conftest import DEMO

pytestmark = pytest.mark.e2e

RETRY_CONFIG = """
[smpp]
response_timeout = 0.5

[network]
delivery_retry_base = 0.5
delivery_retry_max = 1
"""


def next_receipt(session):
    """The next PDU, which must be a receipt deliver_sm."""
    pdu = session.read_pdu()
    assert (pdu.command_id, pdu.esm_class) == (C.DELIVER_SM, 0x04), pdu
    return pdu


def answer(session, deliver_sm, status: int, *, nack: bool = False) -> None:
    """Answer a deliver_sm with deliver_sm_resp (or generic_nack) carrying ``status``."""
    response = GenericNack if nack else DeliverSmResp
    session.send(codec.encode(response(sequence_number=deliver_sm.sequence_number, command_status=status)))


def submit_with_receipt(smsgw, connect) -> str:
    """Submit one receipt-requesting message from a separate transmitter; return its message_id."""
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    return transmitter.submit_ok(DEMO[0], "retry me", registered_delivery=1)


@pytest.mark.parametrize(
    ("status", "nack"),
    [(S.ESME_RX_T_APPN, False), (S.ESME_RSYSERR, False), (S.ESME_RINVCMDLEN, True)],
    ids=["deliver_sm_resp-RX_T_APPN", "deliver_sm_resp-RSYSERR", "generic_nack"],
)
def test_receipt_refused_for_now_is_retried_until_accepted(start_server, connect, status, nack) -> None:
    """A receipt answered with ESME_RX_T_APPN (or another temporary error, or a generic_nack) is sent again after the retry delay, and not again once answered 0."""
    smsgw = start_server(RETRY_CONFIG)
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    message_id = submit_with_receipt(smsgw, connect)

    first = next_receipt(receiver)
    assert first.receipted_message_id == message_id
    answer(receiver, first, status, nack=nack)
    refused_at = time.monotonic()

    again = next_receipt(receiver)
    assert time.monotonic() - refused_at >= 0.4, "retried before the backoff delay"
    assert (again.receipted_message_id, again.short_message, again.message_state) == (
        message_id,
        first.short_message,
        2,
    )
    answer(receiver, again, S.ESME_ROK)
    assert receiver.stays_silent(1.5), "the accepted receipt came a third time"


def test_unanswered_receipt_is_sent_again(start_server, connect) -> None:
    """A receipt the ESME never answers is sent again after response_timeout plus the retry delay, and not again once answered 0."""
    smsgw = start_server(RETRY_CONFIG)
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    message_id = submit_with_receipt(smsgw, connect)

    first = next_receipt(receiver)
    ignored_at = time.monotonic()
    again = next_receipt(receiver)
    assert time.monotonic() - ignored_at >= 0.8, "resent before response_timeout + backoff"
    assert again.receipted_message_id == message_id == first.receipted_message_id
    assert again.sequence_number != first.sequence_number
    answer(receiver, again, S.ESME_ROK)
    assert receiver.stays_silent(1.5), "the accepted receipt came a third time"


@pytest.mark.parametrize("status", [S.ESME_RX_P_APPN, S.ESME_RX_R_APPN], ids=["RX_P_APPN", "RX_R_APPN"])
def test_receipt_refused_for_good_is_not_retried(start_server, connect, status) -> None:
    """A receipt answered with ESME_RX_P_APPN or ESME_RX_R_APPN is never sent again, and later receipts still flow."""
    smsgw = start_server(RETRY_CONFIG)
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    refused = transmitter.submit_ok(DEMO[0], "refuse me")
    answer(receiver, next_receipt(receiver), status)
    assert receiver.stays_silent(1.5), "a receipt refused for good came again"

    accepted = transmitter.submit_ok(DEMO[0], "accept me")
    receipt = next_receipt(receiver)
    assert (receipt.receipted_message_id, refused) == (accepted, refused)
    answer(receiver, receipt, S.ESME_ROK)


def test_an_unanswered_receipt_times_out_on_time_after_the_clock_moved(start_server, connect) -> None:
    """Sessions keep real time, and so do the deadlines of what they send: with the carrier's
    clock an hour ahead, a receipt nobody answers comes again after response_timeout and the
    backoff (about a second), not an hour later."""
    smsgw = start_server(RETRY_CONFIG)
    status, _ = smsgw.api("POST", "/api/clock", {"advance_seconds": 3600})
    assert status == 200
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    submit_with_receipt(smsgw, connect)
    first = next_receipt(receiver)  # left unanswered
    started = time.monotonic()
    again = next_receipt(receiver)
    assert again.receipted_message_id == first.receipted_message_id
    assert time.monotonic() - started < 5
