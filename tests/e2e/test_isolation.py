"""One connection sending garbage cannot disturb another session of the same server."""

from __future__ import annotations

import random

import pytest

from .conftest import DEMO, header, receipt_of

pytestmark = pytest.mark.e2e


def test_garbage_on_other_connections_does_not_disturb_a_session(server, connect) -> None:
    """While other connections send a 5-octet command_length and random bytes, a transceiver keeps submitting and receiving every receipt."""
    esme = connect(server)
    esme.bind("transceiver")
    submitted = [esme.submit_ok(DEMO[0], f"before {i}") for i in range(3)]

    short = connect(server, raw=True)
    short.send(header(5, 0x00000004, 1))
    assert short.read_raw() is not None  # answered (generic_nack) ...
    assert short.is_closed(timeout=3)  # ... and dropped

    submitted.append(esme.submit_ok(DEMO[1], "between"))

    noise = random.Random(20240601)
    for round_number in range(10):
        garbage = connect(server, raw=True)
        if round_number % 2:
            assert garbage.bind("transmitter").command_status == 0
        for _ in range(3):
            try:
                garbage.send(noise.randbytes(noise.randint(16, 200)))
            except (BrokenPipeError, ConnectionResetError):
                break  # the server dropped it: that is its business
            submitted.append(esme.submit_ok(DEMO[2], f"during {round_number}"))

    submitted += [esme.submit_ok(DEMO[3], f"after {i}") for i in range(3)]
    deliveries = esme.wait_deliveries(len(submitted))
    receipts = [receipt_of(pdu) for pdu in deliveries]
    assert sorted(r["receipted_message_id"] for r in receipts) == sorted(submitted)
    assert {r["stat"] for r in receipts} == {"DELIVRD"}
    assert len(set(submitted)) == len(submitted)
