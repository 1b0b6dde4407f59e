"""Messages and pending deliveries survive a restart on the same store, graceful (SIGTERM) or not (SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.sm import SubmitSm

from .conftest import DEFAULT_ACCOUNT_TOML, DEMO, SHORT_CODE, receipt_of, wait_until

pytestmark = pytest.mark.e2e

PHONE_ON, PHONE_OFF = DEMO[0], DEMO[2]

# The off phone is configured off, so it is still off after the restart.
OFF_PHONE_CONFIG = (
    DEFAULT_ACCOUNT_TOML
    + f"""
[[subscribers]]
msisdn = "{PHONE_ON}"
state = "on"

[[subscribers]]
msisdn = "{PHONE_OFF}"
state = "off"
"""
)


def test_messages_and_pending_receipts_survive_a_graceful_restart(start_server, connect) -> None:
    """After SIGTERM and a restart, the API lists every message in its state, the waiting receipts arrive in order, and switching the off phone on delivers its message and receipt."""
    smsgw = start_server(OFF_PHONE_CONFIG)
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    first = transmitter.submit_ok(PHONE_ON, "first on")
    waiting = transmitter.submit_ok(PHONE_OFF, "waiting off")
    second = transmitter.submit_ok(PHONE_ON, "second on")
    before = {m: smsgw.message(m)["state"] for m in (first, waiting, second)}
    assert before == {first: "DELIVRD", waiting: "ENROUTE", second: "DELIVRD"}
    assert transmitter.deliveries == [], "a transmitter bind was sent deliver_sm"

    assert smsgw.restart(signal.SIGTERM) == 0
    transmitter.close()

    listed = {m["message_id"]: m for m in smsgw.get("/api/messages?limit=1000")["messages"]}
    assert {m: listed[m]["state"] for m in (first, waiting, second)} == before
    assert listed[waiting]["text"] == "waiting off"
    assert smsgw.get(f"/api/handsets/{PHONE_OFF}")["state"] == "off"

    receiver = connect(smsgw)
    receiver.bind("receiver")
    receipts = [receipt_of(pdu) for pdu in receiver.wait_deliveries(2)]
    assert [(r["receipted_message_id"], r["stat"]) for r in receipts] == [
        (first, "DELIVRD"),
        (second, "DELIVRD"),
    ]

    smsgw.set_phone(PHONE_OFF, "on")
    receipt = receipt_of(receiver.wait_deliveries(3)[2])
    assert (receipt["receipted_message_id"], receipt["id"], receipt["stat"], receipt["message_state"]) == (
        waiting,
        waiting,
        "DELIVRD",
        2,
    )
    assert receipt["source_addr"] == PHONE_OFF
    assert smsgw.message(waiting)["state"] == "DELIVRD"

    # Message ids keep counting: none issued before the restart is issued again.
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    assert int(transmitter.submit_ok(PHONE_ON, "after restart")) > max(
        int(m) for m in (first, waiting, second)
    )


def test_message_for_a_phone_switched_off_through_the_api_is_not_stranded_by_a_restart(
    start_server, connect
) -> None:
    """After a restart, a message that waited for a phone switched off through the API is either still waiting for a phone reported off, or delivered to a phone reported on, with its receipt."""
    smsgw = start_server()
    smsgw.set_phone(DEMO[3], "off")
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    waiting = transmitter.submit_ok(DEMO[3], "phone was off")
    assert smsgw.message(waiting)["state"] == "ENROUTE"

    assert smsgw.restart(signal.SIGTERM) == 0
    receiver = connect(smsgw)
    receiver.bind("receiver")

    def settled() -> tuple[str, str] | None:
        phone = smsgw.get(f"/api/handsets/{DEMO[3]}")["state"]
        state = smsgw.message(waiting)["state"]
        return (phone, state) if (phone, state) in (("off", "ENROUTE"), ("on", "DELIVRD")) else None

    try:
        phone, _ = wait_until(settled, timeout=3, what="a consistent phone and message state")
    except AssertionError:
        phone = smsgw.get(f"/api/handsets/{DEMO[3]}")["state"]
        state = smsgw.message(waiting)["state"]
        raise AssertionError(
            f"after the restart the phone is reported {phone!r} but its message stays {state}"
        ) from None
    if phone == "off":
        smsgw.set_phone(DEMO[3], "on")
    receipt = receipt_of(receiver.wait_deliveries(1)[0])
    assert (receipt["receipted_message_id"], receipt["stat"]) == (waiting, "DELIVRD")


def test_inbox_of_an_auto_provisioned_number_survives_a_restart(start_server, connect) -> None:
    """A number first seen as a submit_sm destination keeps its subscriber entry and its inbox after a restart."""
    smsgw = start_server()
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    number = "8613712345678"
    message_id = transmitter.submit_ok(number, "welcome", registered_delivery=0)
    assert [
        p["message_id"] for m in smsgw.get(f"/api/handsets/{number}/inbox")["messages"] for p in m["parts"]
    ] == [message_id]

    assert smsgw.restart(signal.SIGTERM) == 0

    assert smsgw.message(message_id)["msisdn"] == number
    status, payload = smsgw.api("GET", f"/api/handsets/{number}/inbox")
    assert status == 200, payload
    assert [p["message_id"] for m in payload["messages"] for p in m["parts"]] == [message_id]


def test_mo_waits_across_a_restart_for_a_receiver(start_server, connect) -> None:
    """MO sent through the API while no receiver is bound arrive after a restart, in order, as deliver_sm from the phone to the short code."""
    smsgw = start_server()
    texts = ["Balance please", "STOP", "YES 123456"]
    mo_ids = []
    for text in texts:
        status, payload = smsgw.api("POST", f"/api/handsets/{PHONE_ON}/sms", {"to": SHORT_CODE, "text": text})
        assert status == 201 and len(payload["message_ids"]) == 1, (status, payload)
        mo_ids += payload["message_ids"]
    assert {smsgw.message(m)["state"] for m in mo_ids} == {"ENROUTE"}

    assert smsgw.restart(signal.SIGTERM) == 0

    receiver = connect(smsgw)
    receiver.bind("receiver")
    deliveries = receiver.wait_deliveries(3)
    assert [bytes(pdu.short_message).decode("ascii") for pdu in deliveries] == texts
    for pdu in deliveries:
        assert pdu.esm_class == 0
        assert bytes(pdu.source_addr).decode() == PHONE_ON
        assert bytes(pdu.destination_addr).decode() == SHORT_CODE
    wait_until(
        lambda: all(smsgw.message(m)["state"] == "DELIVRD" for m in mo_ids),
        what="the MO to be marked delivered",
    )
    assert {smsgw.message(m)["direction"] for m in mo_ids} == {"MO"}


def test_every_acknowledged_message_survives_sigkill(start_server, connect) -> None:
    """Every message_id an ESME received before the server was SIGKILLed in the middle of a stream of submits is listed by the API after a restart."""
    smsgw = start_server()
    session = connect(smsgw, raw=True)
    assert session.bind("transmitter").command_status == 0

    def chunk(start: int) -> bytes:
        return b"".join(
            codec.encode(
                SubmitSm(
                    sequence_number=start + i,
                    source_addr=SHORT_CODE,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr=DEMO[i % 5],
                    short_message=f"stream {start + i}".encode(),
                )
            )
            for i in range(100)
        )

    stop = threading.Event()

    def pump() -> None:
        start = 1000
        try:
            while not stop.is_set() and start < 50_000:
                session.send(chunk(start))
                start += 100
        except OSError:
            pass  # the server is gone

    sender = threading.Thread(target=pump)
    sender.start()
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < 500:
            response = session.read_pdu()
            assert (response.command_id, response.command_status) == (C.SUBMIT_SM_RESP, 0)
            acknowledged.append(response.message_id)
        smsgw.stop(signal.SIGKILL)
    finally:
        stop.set()
        sender.join(10)
    while (raw := session.read_raw(timeout=2)) is not None:
        response = codec.decode(raw)
        if response.command_id == C.SUBMIT_SM_RESP and response.command_status == 0:
            acknowledged.append(response.message_id)

    smsgw.start()
    assert len(set(acknowledged)) == len(acknowledged)
    listed = set()
    before = ""
    while True:
        page = smsgw.get(f"/api/messages?limit=1000{before}")
        listed |= {m["message_id"] for m in page["messages"]}
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    missing = [m for m in acknowledged if m not in listed]
    assert missing == [], (
        f"{len(missing)} of {len(acknowledged)} acknowledged messages lost, e.g. {missing[:5]}"
    )


def test_a_second_smsgw_on_the_same_store_is_refused(server) -> None:
    """Two processes on one store would hand out the same message ids: the second one stops, saying why."""
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "smsgw",
            "serve",
            "--smpp-port",
            "0",
            "--http-port",
            "0",
            *server.store_arguments,
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert second.returncode == 1
    assert "is in use by another process" in second.stderr and server.store_name in second.stderr
    assert server.get("/api/health")["status"] == "ok"
