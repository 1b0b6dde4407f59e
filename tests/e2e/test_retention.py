"""Retention over the wire: a store filled past ``[store] keep_messages`` under load loses its
oldest final messages while submits go on being answered; what is owed stays; the SQLite file
gives the space back; /metrics says so."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from benchmarks.loadgen import run_load
from tests.e2e.conftest import DEFAULT_ACCOUNT_TOML, DEMO, Esme, Smsgw, wait_until
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.e2e

KEEP = 2000
QUIET_CODE = "10030"
#: ``quiet`` submits asking for receipts and never binds to take them: its receipts stay owed.
CONFIG = (
    DEFAULT_ACCOUNT_TOML
    + f"""
[[accounts]]
system_id = "quiet"
password = "quiet"
short_codes = ["{QUIET_CODE}"]

[store]
keep_messages = {KEEP}
keep_days = 0
"""
)
OFF = "8617200000001"
LOAD = 12_000
#: Relative time (SMPP v3.4 §7.1.1): a day from now.
TOMORROW = "000001000000000R"


def _owed_messages(server: Smsgw, connect: Any) -> dict[str, list[str]]:
    """Messages still owed to someone, submitted first so that they have the lowest ids."""
    server.set_phone(OFF, "off")
    esme = connect(server)
    esme.bind("transmitter")
    owed = {
        "held for a phone that is off": [esme.submit_ok(OFF, f"held {n}") for n in range(20)],
        "scheduled a day ahead": [
            esme.submit_ok(DEMO[1], f"later {n}", schedule_delivery_time=TOMORROW) for n in range(20)
        ],
    }
    quiet = connect(server)
    quiet.bind("transmitter", system_id="quiet", password="quiet")
    owed["receipt owed to an ESME not bound to take it"] = [
        quiet.submit_ok(DEMO[2], f"receipt {n}", registered_delivery=1) for n in range(20)
    ]
    mo = []
    for n in range(5):
        status, answer = server.api(
            "POST", f"/api/handsets/{DEMO[3]}/sms", {"to": QUIET_CODE, "text": f"mo {n}"}
        )
        assert status == 201, answer
        mo += answer["message_ids"]
    owed["MO owed to an ESME not bound to take it"] = mo
    return owed


class Trickle(threading.Thread):
    """One submit every 20 ms on a connection of its own, until stopped; records each answer,
    how many prunes /metrics had counted by then, and the store file's largest size."""

    def __init__(self, server: Smsgw) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.esme = Esme(server.smpp_address)
        self.esme.bind("transmitter")  # receipts go to the load's transceiver, not here
        self.ids: list[str] = []
        self.statuses: list[int] = []
        #: (submits answered so far, messages pruned so far), sampled along the way.
        self.progress: list[tuple[int, float]] = []
        self.largest_file = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.02):
            response = self.esme.submit(DEMO[4], f"trickle {len(self.ids)}", registered_delivery=0)
            self.statuses.append(response.status)
            if response.status == 0:
                self.ids.append(bytes(response.message_id).decode("ascii"))
            if len(self.statuses) % 10 == 0:
                pruned = value(scrape(self.server), "smsgw_messages_pruned_total", rule="count")
                self.progress.append((len(self.statuses), pruned))
            if self.server.store_url is None:
                self.largest_file = max(self.largest_file, os.path.getsize(self.server.db))

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.esme.close()


def test_a_store_filled_past_its_limit_under_load_keeps_the_newest_and_what_is_owed(
    start_server, connect
) -> None:
    server: Smsgw = start_server(CONFIG)
    owed = _owed_messages(server, connect)
    trickle = Trickle(server)
    trickle.start()
    try:
        wait_until(lambda: len(trickle.ids) >= 5, what="the first trickled submits")
        host, port = server.smpp_address
        load = run_load(host, port, "smsgw", "smsgw", LOAD, window=100)
        assert (load["responses"], load["ok_responses"], load["errors"]) == (LOAD, LOAD, 0), load
        assert load["receipts"] == LOAD, load
        stored = KEEP + sum(map(len, owed.values()))
        wait_until(
            lambda: value(scrape(server), "smsgw_messages_stored") <= stored,
            timeout=60,
            what=f"retention to bring the store down to the newest {KEEP} final messages and the owed ones",
        )
    finally:
        trickle.stop()
    # Submits were answered throughout: every trickled one, also while batches were removed.
    assert set(trickle.statuses) == {0}
    pruned_while = [answered for answered, pruned in trickle.progress if 0 < pruned < LOAD - KEEP]
    assert pruned_while, f"no submit was answered while retention was removing messages: {trickle.progress}"

    samples = scrape(server)
    assert value(samples, "smsgw_messages_pruned_total", rule="count") >= LOAD - KEEP
    assert server.api("GET", f"/api/messages/{trickle.ids[0]}")[0] == 404  # the oldest final ones went
    for what, message_ids in owed.items():
        for message_id in message_ids:
            status, message = server.api("GET", f"/api/messages/{message_id}")
            assert status == 200, f"{what}: {message_id} was removed"
    assert {server.message(m)["state"] for m in owed["held for a phone that is off"]} == {"ENROUTE"}
    assert server.message(trickle.ids[-1])["state"] == "DELIVRD"  # the newest stays
    esme = connect(server)
    esme.bind("transmitter")
    assert int(esme.submit_ok(DEMO[0], "after")) > int(trickle.ids[-1])  # numbering goes on
    if server.store_url is None:
        _the_file_shrank(server, trickle.largest_file)


def _the_file_shrank(server: Smsgw, largest: int) -> None:
    wait_until(
        lambda: value(scrape(server), "smsgw_store_free_bytes") == 0,
        what="the freed pages to be given back to the disk",
    )
    assert server.stop() == 0
    size = Path(server.db).stat().st_size
    assert size < largest * 0.5, f"the store file is {size} bytes, after {largest} at its largest"
