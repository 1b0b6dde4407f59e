"""Retention over the wire: past ``[store] keep_messages`` the oldest final messages go while
submits go on being answered, what is owed stays, and /metrics says so."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Smsgw, wait_until
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.e2e

CONFIG = "[store]\nkeep_messages = 1000\n"
OFF = "8617200000001"


def test_the_oldest_final_messages_go_and_what_is_owed_stays(start_server, connect) -> None:
    server: Smsgw = start_server(CONFIG)
    server.set_phone(OFF, "off")
    esme = connect(server)
    esme.bind("transceiver")
    held = [esme.submit_ok(OFF, f"held {n}") for n in range(5)]  # the lowest ids, owed to a phone
    # No receipt asked: delivered at once, these owe nothing.
    delivered = [esme.submit_ok(f"86173{n:08d}", f"m{n}", registered_delivery=0) for n in range(1500)]
    wait_until(
        lambda: value(scrape(server), "smsgw_messages_stored") <= 1005,
        what="retention to bring the store down to the newest 1000 final messages",
    )
    samples = scrape(server)
    assert value(samples, "smsgw_messages_pruned_total", rule="count") == 500
    status, _ = server.api("GET", f"/api/messages/{delivered[0]}")
    assert status == 404  # pruned: as at a real SMSC past its retention
    assert server.get(f"/api/messages/{delivered[-1]}")["state"] == "DELIVRD"
    for message_id in held:
        assert server.get(f"/api/messages/{message_id}")["state"] == "ENROUTE"
    # Submits were answered throughout, and numbering goes on from the newest.
    after = esme.submit_ok(f"86173{1500:08d}", "after")
    assert int(after) > int(delivered[-1])
    assert value(samples, "smsgw_store_bytes") > 0
