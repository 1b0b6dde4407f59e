"""A response answers the request of its sequence_number only if it is that request's own response (v3.4 §3.2)."""

from __future__ import annotations

import time

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.pdu import EnquireLinkResp

from .conftest import wait_until
from .test_metrics import scrape, value
from .test_retry import RETRY_CONFIG, answer, next_receipt, submit_with_receipt

pytestmark = pytest.mark.e2e


def test_receipt_answered_with_enquire_link_resp_is_sent_again(start_server, connect) -> None:
    """enquire_link_resp with a receipt's sequence_number does not answer it: the receipt stays owed, comes again after the response timeout and the retry delay, and is done once its deliver_sm_resp comes."""
    smsgw = start_server(RETRY_CONFIG)
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    message_id = submit_with_receipt(smsgw, connect)

    first = next_receipt(receiver)
    receiver.send(codec.encode(EnquireLinkResp(first.sequence_number)))
    mismatched_at = time.monotonic()
    assert receiver.stays_silent(0.2), (
        "a stray response was answered (a generic_nack would name the ESME's own number)"
    )
    assert value(scrape(smsgw), "smsgw_deliveries_pending", system_id="smsgw") == 1

    again = next_receipt(receiver)
    assert time.monotonic() - mismatched_at >= 0.8, "resent before response_timeout + backoff"
    assert again.receipted_message_id == message_id == first.receipted_message_id
    assert again.sequence_number != first.sequence_number
    logged = f"enquire_link_resp (status ESME_ROK) with the sequence_number {first.sequence_number} of a deliver_sm"
    assert logged in smsgw.stderr()

    answer(receiver, again, S.ESME_ROK)
    wait_until(
        lambda: value(scrape(smsgw), "smsgw_deliveries_total", kind="receipt", outcome="accepted") == 1,
        what="the receipt counted accepted",
    )
    assert value(scrape(smsgw), "smsgw_deliveries_pending", system_id="smsgw") == 0
    assert receiver.stays_silent(1.5), "the accepted receipt came a third time"
