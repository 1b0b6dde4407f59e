"""How ``GET /api/timeline`` reads and shows steps, on a real store without a server: which
steps an order takes (its own, its buyer's in its window, its messages' wherever they fall),
and a step with its PDU decoded."""

from __future__ import annotations

from typing import Any

from smsgw.cmpp import codec as cmpp_codec
from smsgw.cmpp import pdu as cmpp_pdu
from smsgw.cmpp.constants import Version
from smsgw.smpp import codec
from smsgw.smpp.sm import DeliverSm, SubmitSm
from smsgw.store.records import TimelineStep
from smsgw.store.sqlite import SqliteStore
from smsgw.text.udh import build_concat_udh
from smsgw.web.timeline import ORDER_GRACE, order_steps, step_json

BUYER, OTHER = "8617100000201", "8617100000202"


def recorded(store: SqliteStore, *steps: tuple[float, str, dict[str, Any]]) -> list[int]:
    """Add steps ``(at, kind, fields)`` (the buyer's unless fields say); their ids."""
    for at, kind, fields in steps:
        store.add_step(
            TimelineStep(at=at, namespace="ci", msisdn=fields.pop("msisdn", BUYER), kind=kind, **fields)
        )
    store.commit()
    return [step.id for step in store.timeline()]


def order(status: str, final: bool) -> dict[str, Any]:
    return {"order_id": "ord_0001", "detail": {"status": status, "final": final}}


def test_a_closed_order_takes_its_buyers_steps_in_its_window_and_its_messages_anywhere() -> None:
    """Before its first step and after its last plus the grace, the buyer's steps are another
    story; a late receipt of the order's text is still its own, and so is nobody else's step."""
    store = SqliteStore(":memory:")
    recorded(
        store,
        (99.0, "http", {}),  # the buyer before the order
        (100.0, "merchant.order", order("pending", False)),
        (101.0, "smpp.submit_sm", {"message_id": "7", "system_id": "merchant"}),
        (101.5, "smpp.submit_sm", {"message_id": "9", "system_id": "merchant", "msisdn": OTHER}),
        (102.0, "merchant.sms", {"message_id": "7", "system_id": "merchant", "order_id": "ord_0001"}),
        (110.0, "merchant.order", order("paid", True)),
        (110.0 + ORDER_GRACE - 1, "message.state", {"message_id": "8"}),  # in the grace
        (110.0 + ORDER_GRACE + 1, "http", {}),  # the buyer's next story
        (500.0, "smpp.deliver_sm", {"message_id": "7", "system_id": "merchant"}),  # a late receipt
        (500.0, "smpp.deliver_sm", {"message_id": "7", "system_id": "shop"}),  # another account's 7
    )
    found = order_steps(store, "ord_0001", after=0, limit=1000)
    assert [step.id for step in found] == [2, 3, 5, 6, 7, 9]
    assert [step.id for step in order_steps(store, "ord_0001", after=5, limit=2)] == [6, 7]
    assert order_steps(store, "ord_0002", after=0, limit=1000) == []


def test_an_open_order_takes_every_newer_step_of_its_buyer() -> None:
    """While the order waits, whatever its buyer does next may be its answer."""
    store = SqliteStore(":memory:")
    recorded(
        store,
        (100.0, "merchant.order", order("awaiting_confirmation", False)),
        (100.0 + 3600, "http", {}),
    )
    assert [step.kind for step in order_steps(store, "ord_0001", after=0, limit=1000)] == [
        "merchant.order",
        "http",
    ]


def test_a_pdu_step_is_shown_with_its_octets_decoded() -> None:
    """An SMPP step: hex, command, sequence, status, the fields present and the text without
    its UDH; what names nothing is null. A CMPP report shows the report's fields; octets that
    do not decode say so."""
    part = build_concat_udh(7, 2, 1) + b"Your code"
    raw = codec.encode(
        DeliverSm(sequence_number=4, source_addr="8617100000201", esm_class=0x40, short_message=part)
    )
    shown = step_json(
        TimelineStep(
            at=1.5,
            namespace="ci",
            msisdn=BUYER,
            kind="smpp.deliver_sm",
            detail={"sequence": 4},
            pdu=raw,
            id=3,
        )
    )
    assert shown["hex"] == raw.hex() and shown["protocol"] == "smpp"
    assert (shown["system_id"], shown["message_id"], shown["order_id"], shown["session"]) == (
        None,
        None,
        None,
        None,
    )
    assert shown["at"] == "1970-01-01T00:00:01.500Z" and shown["epoch"] == 1.5
    pdu = shown["pdu"]
    assert (pdu["command"], pdu["sequence"], pdu["status"], pdu["text"]) == (
        "deliver_sm",
        4,
        "ESME_ROK",
        "Your code",
    )
    assert pdu["fields"]["short_message"] == part.hex() and "ussd_service_op" not in pdu["fields"]
    report = cmpp_codec.encode(
        cmpp_pdu.Deliver(
            9,
            msg_id=12,
            registered_delivery=1,
            msg_content=cmpp_codec.encode_report(
                cmpp_pdu.StatusReport(12, "DELIVRD", "2612070100", "2612070100", BUYER), Version.V20
            ),
        ),
        Version.V20,
    )
    cmpp = step_json(TimelineStep(1.0, "ci", BUYER, "cmpp.deliver", detail={"version": 0x20}, pdu=report))
    assert (cmpp["pdu"]["command"], cmpp["pdu"]["version"]) == ("CMPP_DELIVER", "2.0")
    assert cmpp["pdu"]["report"]["stat"] == "DELIVRD" and cmpp["pdu"]["report"]["msg_id"] == 12
    broken = step_json(TimelineStep(1.0, "ci", BUYER, "smpp.submit_sm", pdu=codec.encode(SubmitSm())[:20]))
    assert set(broken["pdu"]) == {"error"}
    plain = step_json(TimelineStep(1.0, "", "", "clock.advance", detail={"seconds": 5}))
    assert "pdu" not in plain and (plain["namespace"], plain["msisdn"]) == (None, None)
