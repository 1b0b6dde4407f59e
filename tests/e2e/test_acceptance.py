"""The issue's acceptance test: smpplib submits GSM, UCS2 and concatenated texts and gets a receipt for each."""

from __future__ import annotations

import pytest
import smpplib.gsm

from .conftest import DEMO, SHORT_CODE, receipt_of

pytestmark = pytest.mark.e2e

GSM_TEXT = "Hello from the e2e suite, 1 2 3"
CHINESE_TEXT = "你好，世界！短信网关测试"
LONG_TEXT = "".join(f"Part text {i:03d}. " for i in range(27))[:400]


def test_gsm_ucs2_and_concatenated_texts_are_delivered_with_receipts(server, connect) -> None:
    """Every submit_sm (GSM, UCS2, each UDH part of a 400-character text) gets a message_id and exactly one DELIVRD receipt naming it, after its response."""
    esme = connect(server)
    esme.bind("transceiver")
    submitted: dict[str, dict[str, object]] = {}

    message_id = esme.submit_ok(DEMO[0], GSM_TEXT.encode("ascii"), data_coding=0)
    submitted[message_id] = {"to": DEMO[0], "excerpt": GSM_TEXT[:20]}

    message_id = esme.submit_ok(DEMO[1], CHINESE_TEXT.encode("utf-16-be"), data_coding=8)
    submitted[message_id] = {"to": DEMO[1], "excerpt": None}
    chinese_id = message_id

    parts, data_coding, esm_class = smpplib.gsm.make_parts(LONG_TEXT)
    assert (len(parts), data_coding, esm_class) == (3, 0, 0x40)
    for number, part in enumerate(parts):
        message_id = esme.submit_ok(DEMO[2], part, data_coding=data_coding, esm_class=esm_class)
        submitted[message_id] = {"to": DEMO[2], "excerpt": LONG_TEXT[153 * number :][:20]}

    assert len(submitted) == 5, "message_ids must be distinct"
    assert all(message_id.isdigit() for message_id in submitted), submitted.keys()
    numbers = [int(message_id) for message_id in submitted]
    assert numbers == sorted(numbers), "message_ids are a counter"

    deliveries = esme.wait_deliveries(5)
    receipts = [receipt_of(pdu) for pdu in deliveries]
    assert sorted(r["receipted_message_id"] for r in receipts) == sorted(submitted)
    for receipt in receipts:
        message_id = receipt["receipted_message_id"]
        assert receipt["esm_class"] == 0x04
        assert receipt["message_state"] == 2
        assert receipt["id"] == message_id
        assert (receipt["sub"], receipt["dlvrd"], receipt["stat"], receipt["err"]) == (
            "001",
            "001",
            "DELIVRD",
            "000",
        )
        assert receipt["source_addr"] == submitted[message_id]["to"]
        assert receipt["destination_addr"] == SHORT_CODE
        if submitted[message_id]["excerpt"] is not None:
            assert receipt["text"] == submitted[message_id]["excerpt"]

    # A receipt never overtakes the submit_sm_resp carrying its message_id.
    order = [
        (pdu.command, bytes(pdu.message_id if pdu.command == "submit_sm_resp" else pdu.receipted_message_id))
        for pdu in esme.log
    ]
    for message_id in submitted:
        key = message_id.encode()
        response_at = order.index(("submit_sm_resp", key))
        receipt_at = next(
            i
            for i, (command, mid) in enumerate(order)
            if command == "deliver_sm" and mid.rstrip(b"\0") == key
        )
        assert response_at < receipt_at, order

    query = esme.client.query_message(
        message_id=chinese_id, source_addr_ton=0, source_addr_npi=0, source_addr=SHORT_CODE
    )
    answer = esme.response(query.sequence)
    assert answer.command == "query_sm_resp" and answer.status == 0
    assert bytes(answer.message_id).decode() == chinese_id
    assert answer.message_state == 2

    inbox = server.get(f"/api/handsets/{DEMO[1]}/inbox")["messages"]
    shown = [m for m in inbox if [p["message_id"] for p in m["parts"]] == [chinese_id]]
    assert len(shown) == 1
    assert shown[0]["text"] == CHINESE_TEXT
    assert shown[0]["data_coding"] == 8
    assert server.message(chinese_id)["state"] == "DELIVRD"
