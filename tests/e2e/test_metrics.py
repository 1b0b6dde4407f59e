"""``GET /metrics``: what a load tester scrapes, checked against traffic it knows."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import DEMO, Smsgw, wait_until

pytestmark = pytest.mark.e2e


def scrape(server: Smsgw) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.ports["http_url"] + "/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_what_the_esme_did(start_server, connect) -> None:
    server = start_server()
    esme = connect(server)
    esme.bind("transceiver")
    ids = [esme.submit_ok(DEMO[0], f"m{n}") for n in range(3)]
    assert esme.submit("8619999990004", "throttled").status == 0x58  # a magic number
    esme.wait_deliveries(3)
    wait_until(
        lambda: value(scrape(server), "smsgw_deliveries_total", kind="receipt", outcome="accepted") == 3
    )
    samples = scrape(server)
    assert value(samples, "smsgw_sessions_bound", system_id="smsgw", bind_type="transceiver") == 1
    assert value(samples, "smsgw_pdus_received_total", command="submit_sm") == 4
    assert value(samples, "smsgw_pdus_sent_total", command="submit_sm_resp", status="ESME_ROK") == 3
    assert value(samples, "smsgw_pdus_sent_total", command="submit_sm_resp", status="ESME_RTHROTTLED") == 1
    assert value(samples, "smsgw_pdus_sent_total", command="deliver_sm", status="") == 3
    assert value(samples, "smsgw_messages_accepted_total", direction="MT") == len(ids)
    assert value(samples, "smsgw_message_states_total", direction="MT", state="DELIVRD") == 3
    assert value(samples, "smsgw_faults_fired_total", rule="magic:throttled", effect="refuse_submit") == 1
    assert value(samples, "smsgw_deliveries_pending", system_id="smsgw") == 0
    # smpplib answers each receipt at once: all 3 within a second.
    assert value(samples, "smsgw_esme_answer_seconds_count") == 3
    assert value(samples, "smsgw_esme_answer_seconds_bucket", le="1.0") == 3
    assert 0 < value(samples, "smsgw_esme_answer_seconds_sum") < 3
    esme.close()
    # A session that ended keeps its counts; it is no longer bound.
    wait_until(
        lambda: value(scrape(server), "smsgw_sessions_bound", system_id="smsgw", bind_type="transceiver") == 0
    )
    after = scrape(server)
    assert value(after, "smsgw_pdus_received_total", command="submit_sm") == 4
    assert value(after, "smsgw_binds_total", system_id="smsgw", bind_type="transceiver") == 1


def test_held_messages_and_ussd_dialogues_show(start_server, connect) -> None:
    server = start_server()
    esme = connect(server)
    esme.bind("transceiver")
    server.set_phone(DEMO[1], "off")
    esme.submit_ok(DEMO[1], "held")
    assert value(scrape(server), "smsgw_messages_held") == 1
    status, _ = server.api("POST", f"/api/handsets/{DEMO[2]}/ussd", {"dial": "*126#"})
    assert status == 200
    samples = scrape(server)
    assert value(samples, "smsgw_ussd_dialogues_open") == 1
    assert value(samples, "smsgw_ussd_dialogues_opened_total", origin="mobile") == 1
    server.api("DELETE", f"/api/handsets/{DEMO[2]}/ussd")
    samples = scrape(server)
    assert value(samples, "smsgw_ussd_dialogues_open") == 0
    assert value(samples, "smsgw_ussd_dialogues_ended_total", end="user_cancelled") == 1
