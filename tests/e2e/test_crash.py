"""A carrier killed (SIGKILL) or stopped (SIGTERM) while an ESME submits at full rate loses
nothing: every submit_sm that got a message_id is stored exactly once after the restart and
gets its receipt; the store passes SQLite's integrity check. A receipt delivered just before
the kill may come again (its acknowledgement was not yet written): those are counted."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
from collections import Counter

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.pdu import UnbindResp
from smsgw.smpp.sm import DeliverSmResp, SubmitSm

from .conftest import DEMO, SHORT_CODE, RawSession, Smsgw

pytestmark = pytest.mark.e2e

#: submit_sm answered before the stop: a few thousand in CI; a longer run is
#: ``SMSGW_CRASH_MESSAGES=50000 pytest tests/e2e/test_crash.py -s``.
ACKNOWLEDGED = int(os.environ.get("SMSGW_CRASH_MESSAGES", "2000"))


def pump(session: RawSession, stop: threading.Event) -> None:
    """Write submit_sm with receipts in batches of 100 until stopped or the connection breaks."""
    sequence = 1000
    try:
        while not stop.is_set() and sequence < 10 * ACKNOWLEDGED + 200_000:
            batch = [
                SubmitSm(
                    sequence_number=sequence + i,
                    source_addr=SHORT_CODE,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr=DEMO[i % 5],
                    registered_delivery=1,
                    short_message=f"load {sequence + i}".encode(),
                )
                for i in range(100)
            ]
            session.send(b"".join(codec.encode(pdu) for pdu in batch))
            sequence += 100
    except OSError:
        pass  # the carrier is gone


def read_all(
    session: RawSession, acknowledged: list[str], receipts: Counter[str], *, until: int, timeout: float
) -> None:
    """Read answers and receipts (acknowledging each receipt, and an unbind) until ``until``
    submits are acknowledged, or the connection closes."""
    while len(acknowledged) < until:
        raw = session.read_raw(timeout=timeout)
        if raw is None:
            return
        pdu = codec.decode(raw)
        if pdu.command_id == C.SUBMIT_SM_RESP:
            # Refused (ESME_RINVBNDSTS once a graceful stop has unbound us): not accepted,
            # nothing to keep. Accepted: it must survive.
            if pdu.command_status == 0:
                acknowledged.append(pdu.message_id)
        elif pdu.command_id == C.DELIVER_SM:
            receipts[pdu.receipted_message_id] += 1
            answer(session, DeliverSmResp(pdu.sequence_number))
        elif pdu.command_id == C.UNBIND:
            answer(session, UnbindResp(pdu.sequence_number))


def answer(session: RawSession, pdu: object) -> None:
    # The carrier may be gone already: it resends after the restart what we did not acknowledge.
    with contextlib.suppress(OSError):
        session.send(codec.encode(pdu))  # type: ignore[arg-type]


def stored_ids(smsgw: Smsgw) -> Counter[str]:
    listed: Counter[str] = Counter()
    before = ""
    while True:
        page = smsgw.get(f"/api/messages?limit=1000&direction=MT{before}")
        listed.update(m["message_id"] for m in page["messages"])
        if page["next_before"] is None:
            return listed
        before = f"&before={page['next_before']}"


def collect_receipts(smsgw: Smsgw, wanted: set[str], receipts: Counter[str]) -> None:
    """Bind again as a receiver and take receipts until every wanted message has one."""
    session = RawSession(smsgw.smpp_address)
    try:
        assert session.bind("receiver").command_status == 0
        while not wanted <= set(receipts):
            pdu = session.read_pdu(timeout=30)
            if pdu.command_id == C.DELIVER_SM:
                receipts[pdu.receipted_message_id] += 1
                session.send(codec.encode(DeliverSmResp(pdu.sequence_number)))
    finally:
        session.close()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_nothing_accepted_is_lost_when_the_carrier_dies_under_load(start_server, how: signal.Signals) -> None:
    smsgw = start_server()
    session = RawSession(smsgw.smpp_address)
    assert session.bind("transceiver").command_status == 0
    stop = threading.Event()
    sender = threading.Thread(target=pump, args=(session, stop))
    sender.start()
    acknowledged: list[str] = []
    receipts: Counter[str] = Counter()
    try:
        read_all(session, acknowledged, receipts, until=ACKNOWLEDGED, timeout=30)
        smsgw.stop(how)
    finally:
        stop.set()
        sender.join(10)
    # What was already on its way to us before the end.
    read_all(session, acknowledged, receipts, until=10**9, timeout=2)
    session.close()

    smsgw.start()
    stored = stored_ids(smsgw)
    assert len(acknowledged) >= ACKNOWLEDGED
    assert len(set(acknowledged)) == len(acknowledged)
    missing = [m for m in acknowledged if m not in stored]
    twice = [m for m in acknowledged if stored[m] > 1]
    assert (missing, twice) == ([], []), f"{len(missing)} lost, {len(twice)} stored twice"
    collect_receipts(smsgw, set(acknowledged), receipts)
    duplicates = sum(n - 1 for m, n in receipts.items() if m in set(acknowledged) and n > 1)
    print(
        f"{how.name}: {len(acknowledged)} acknowledged, all stored once, all receipted; {duplicates} receipts came twice"
    )
    smsgw.stop()
    if smsgw.store_url is None:  # PostgreSQL checks its own pages; a SQLite file can be asked
        with sqlite3.connect(smsgw.db) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
