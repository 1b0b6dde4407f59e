"""Fifty concurrent smpplib transceivers each submit twenty messages; every message gets exactly one receipt."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import DEMO, Esme, receipt_of

pytestmark = pytest.mark.e2e

SESSIONS = 50
PER_SESSION = 20
DEADLINE = 40.0


def test_fifty_sessions_get_one_receipt_per_message(start_server) -> None:
    """1000 receipt-requesting submits over 50 transceivers of one account yield exactly one DELIVRD receipt per message_id across the binds, and the API lists 1000 messages."""
    smsgw = start_server()
    lock = threading.Lock()
    submitted: list[str] = []
    receipts: Counter[str] = Counter()
    states: Counter[str] = Counter()
    finished = threading.Event()
    all_bound = threading.Barrier(SESSIONS, timeout=DEADLINE)
    deadline = time.monotonic() + DEADLINE

    def collect(esme: Esme, seen: int) -> int:
        with lock:
            for pdu in esme.deliveries[seen:]:
                receipt = receipt_of(pdu)
                receipts[receipt["receipted_message_id"]] += 1
                states[receipt["stat"]] += 1
            if len(submitted) == SESSIONS * PER_SESSION and sum(receipts.values()) >= len(submitted):
                finished.set()
        return len(esme.deliveries)

    def session(number: int) -> None:
        esme = Esme(smsgw.smpp_address)
        try:
            esme.bind("transceiver")
            all_bound.wait()
            seen = 0
            for i in range(PER_SESSION):
                message_id = esme.submit_ok(DEMO[(number + i) % 5], f"s{number} m{i}")
                with lock:
                    submitted.append(message_id)
                seen = collect(esme, seen)
            # Receipts are shared round robin among the account's binds: keep reading until all came.
            while not finished.is_set() and time.monotonic() < deadline:
                esme.read(0.05)
                seen = collect(esme, seen)
        finally:
            esme.close()

    with ThreadPoolExecutor(SESSIONS) as pool:
        for future in [pool.submit(session, n) for n in range(SESSIONS)]:
            future.result()

    assert len(submitted) == SESSIONS * PER_SESSION
    assert len(set(submitted)) == len(submitted), "a message_id was issued twice"
    assert set(receipts) == set(submitted)
    assert [m for m, count in receipts.items() if count != 1] == []
    assert states == Counter({"DELIVRD": len(submitted)})

    listed = smsgw.get("/api/messages?limit=1000")["messages"]
    assert sorted(m["message_id"] for m in listed) == sorted(submitted)
    assert (
        smsgw.get("/api/messages?limit=1000&state=DELIVRD&direction=MT&account=smsgw")["messages"] == listed
    )
