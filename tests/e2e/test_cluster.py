"""Two ``smsgw serve --node`` processes on one PostgreSQL database (docs/cluster.md): what one
accepts the other delivers, reads, and takes over when the first is killed."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DEMO, Esme, Smsgw, receipt_of, wait_until

pytestmark = pytest.mark.e2e

LEASE = 2.0  # seconds: a killed node's work moves within about this


class Node(Smsgw):
    """An smsgw of a cluster: the shared database, and its node name."""

    def __init__(self, workdir: Path, url: str, name: str) -> None:
        super().__init__(workdir, f"[store]\nlease = {LEASE:g}\n")
        self.store_url = url
        self.name = name

    def command(self) -> list[str]:
        return [*super().command(), "--node", self.name]


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    a = Node(tmp_path / "a", postgres_url, "a").start()
    b = Node(tmp_path / "b", postgres_url, "b").start()
    yield a, b
    for node in (a, b):
        node.stop(signal.SIGKILL)


def bound_on(node: Node, name: str, system_id: str) -> bool:
    """Whether the cluster's database records a bind of ``system_id`` on node ``name``."""
    import psycopg

    with psycopg.connect(node.store_url or "") as db:
        row = db.execute(
            "SELECT 1 FROM node_binds WHERE node = %s AND system_id = %s", (name, system_id)
        ).fetchone()
    return row is not None


def receipts(esme: Esme) -> set[str]:
    return {receipt_of(pdu)["receipted_message_id"] for pdu in esme.deliveries}


def test_a_receipt_reaches_the_bind_on_the_other_node(cluster: tuple[Node, Node]) -> None:
    a, b = cluster
    receiver = Esme(b.smpp_address)
    receiver.bind("receiver")
    sender = Esme(a.smpp_address)
    sender.bind("transmitter")  # takes no deliveries: a hands the receipt on
    message_id = sender.submit_ok(DEMO[0], "code 4711")
    wait_until(lambda: receiver.read(0.2) and message_id in receipts(receiver), what="the receipt on node b")
    assert receipt_of(receiver.deliveries[-1])["stat"] == "DELIVRD"
    assert "code 4711" in [m["text"] for m in b.get(f"/api/messages?msisdn={DEMO[0]}")["messages"]]
    sender.close()
    receiver.close()


def test_a_message_accepted_on_one_node_is_in_the_inbox_read_through_the_other(
    cluster: tuple[Node, Node],
) -> None:
    a, b = cluster
    sender = Esme(a.smpp_address)
    sender.bind("transceiver")
    sender.submit_ok(DEMO[1], "seen from b")
    inbox = b.get(f"/api/handsets/{DEMO[1]}/inbox")
    assert [m["text"] for m in inbox["messages"]][-1:] == ["seen from b"]
    sender.close()


def test_a_killed_nodes_receipts_are_delivered_by_the_other(cluster: tuple[Node, Node]) -> None:
    """kill -9 of a under load, with every receipt still owed to its ESME: every message a
    acknowledged is stored, and its receipt comes from b once a's lease has run out."""
    a, b = cluster
    # Its ESME refuses every receipt for now (ESME_RX_T_APPN): a keeps them owed, to retry.
    on_a = Esme(a.smpp_address, deliver_status=0x64)
    on_a.bind("transceiver")
    acknowledged: list[str] = []
    stop = threading.Event()

    def submit() -> None:
        try:
            while not stop.is_set():
                acknowledged.append(on_a.submit_ok(DEMO[2], f"load {len(acknowledged)}"))
        except Exception:  # the node was killed under it
            return

    load = threading.Thread(target=submit)
    load.start()
    wait_until(lambda: len(acknowledged) >= 100, timeout=20, what="100 messages acknowledged by node a")
    a.stop(signal.SIGKILL)
    stop.set()
    load.join(10)
    owed = set(acknowledged)  # none was accepted on a
    killed = time.monotonic()
    on_b = Esme(b.smpp_address)
    on_b.bind("receiver")  # the ESME reconnects to the survivor

    def all_came() -> bool:
        on_b.read(0.2)
        return owed <= receipts(on_b)

    wait_until(all_came, timeout=LEASE * 5, what=f"the {len(owed)} receipts node a owed, from node b")
    print(
        f"node a killed after {len(acknowledged)} acknowledged; the {len(owed)} receipts it still owed"
        f" came from node b {time.monotonic() - killed:.1f} s later (lease {LEASE:g} s)"
    )
    stored = {m["message_id"] for m in b.get(f"/api/messages?msisdn={DEMO[2]}&limit=1000")["messages"]}
    assert set(acknowledged) <= stored
    on_b.close()
    on_a.close()


def test_a_second_process_with_a_running_nodes_name_is_refused(
    cluster: tuple[Node, Node], tmp_path: Path
) -> None:
    a, _ = cluster
    twin = Node(tmp_path / "twin", a.store_url or "", "a")
    with pytest.raises(RuntimeError, match="node 'a' is already running"):
        twin.start()


def test_a_handset_switched_on_through_one_node_gets_what_waits_for_it_on_the_other(
    cluster: tuple[Node, Node],
) -> None:
    a, b = cluster
    a.set_phone(DEMO[3], "off")
    wait_until(
        lambda: b.get(f"/api/handsets/{DEMO[3]}")["state"] == "off", what="node b to see the phone off"
    )
    receiver = Esme(b.smpp_address)
    receiver.bind("transceiver")
    message_id = receiver.submit_ok(DEMO[3], "held on b")
    assert b.message(message_id)["state"] == "ENROUTE"  # held: the phone is off
    a.set_phone(DEMO[3], "on")  # through the other node
    wait_until(
        lambda: receiver.read(0.2) and message_id in receipts(receiver),
        what="the receipt once the phone is on",
    )
    assert b.message(message_id)["state"] == "DELIVRD"
    receiver.close()


def test_fresh_numbers_made_through_both_nodes_at_once_are_all_different(cluster: tuple[Node, Node]) -> None:
    made: list[str] = []

    def make(node: Node) -> None:
        for _ in range(30):
            status, handset = node.api("POST", "/api/handsets", {})
            assert status == 201, handset
            made.append(handset["msisdn"])

    makers = [threading.Thread(target=make, args=(node,)) for node in cluster]
    for maker in makers:
        maker.start()
    for maker in makers:
        maker.join()
    assert len(made) == 60 and len(set(made)) == 60


def test_a_long_poll_on_one_node_answers_a_message_accepted_on_the_other(cluster: tuple[Node, Node]) -> None:
    a, b = cluster
    cursor = b.get(f"/api/handsets/{DEMO[4]}/inbox")["cursor"]
    answer: list[Any] = []
    poll = threading.Thread(
        target=lambda: answer.append(b.get(f"/api/handsets/{DEMO[4]}/inbox?wait=20&after={cursor}"))
    )
    poll.start()
    time.sleep(0.5)  # the poll waits on b
    sender = Esme(a.smpp_address)
    sender.bind("transceiver")
    sent = time.monotonic()
    sender.submit_ok(DEMO[4], "woken across nodes")
    poll.join(20)
    assert [m["text"] for m in answer[0]["messages"]] == ["woken across nodes"]
    assert time.monotonic() - sent < 5  # woken by node a's notification, not by the 20 s timeout
    sender.close()


def test_an_event_stream_on_one_node_shows_what_the_other_did(cluster: tuple[Node, Node]) -> None:
    """/api/events on b shows a's events too, each naming its node: a publishes them once it
    has heard that a stream is open on b."""
    a, b = cluster
    stream = urllib.request.urlopen(b.ports["http_url"] + "/api/events", timeout=10)
    assert stream.readline() == b": smsgw events\n"
    sender = Esme(a.smpp_address)
    sender.bind("transmitter")
    submitted: list[str] = []
    stop = threading.Event()

    def submit() -> None:  # until b's stream shows one: a starts publishing a moment after it opened
        while not stop.is_set():
            submitted.append(sender.submit_ok(DEMO[3], "watched from b", registered_delivery=0))
            stop.wait(0.3)

    load = threading.Thread(target=submit)
    load.start()
    try:
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("node") == "a" and event["type"] == "message_accepted":
                    seen = event
    finally:
        stop.set()
        load.join(5)
        stream.close()
        sender.close()
    assert seen, "no event of node a on node b's stream"
    assert seen["message_id"] in submitted and seen["msisdn"] == DEMO[3]


def test_the_clock_advanced_through_one_node_moves_on_the_other(cluster: tuple[Node, Node]) -> None:
    a, b = cluster
    status, moved = a.api("POST", "/api/clock", {"advance_seconds": 3600})
    assert status == 200
    wait_until(
        lambda: abs(b.get("/api/clock")["offset_seconds"] - moved["offset_seconds"]) < 0.01,
        what="node b's clock to follow node a's",
    )
    status, moved = a.api("POST", "/api/clock", {"advance_seconds": 600, "namespace": "ci-cluster"})
    assert status == 200 and moved["ahead_of_carrier_seconds"] == 600
    wait_until(
        lambda: b.get("/api/clock?namespace=ci-cluster.inner")["ahead_of_carrier_seconds"] == 600,
        what="node b's clock of namespace ci-cluster to follow node a's",
    )


def test_a_fault_put_in_force_through_one_node_strikes_on_the_other(cluster: tuple[Node, Node]) -> None:
    a, b = cluster
    status, _ = a.api(
        "POST",
        "/api/faults",
        {"name": "busy", "effect": "refuse_submit", "status": "ESME_RSYSERR", "msisdn": DEMO[0]},
    )
    assert status == 201
    wait_until(lambda: [f["name"] for f in b.get("/api/faults")["faults"] if f["source"] == "api"] == ["busy"],
               what="node b to have the rule")  # fmt: skip
    esme = Esme(b.smpp_address)
    esme.bind("transmitter")
    assert esme.submit(DEMO[0], "refused on b").status == 0x08  # ESME_RSYSERR
    assert a.api("DELETE", "/api/faults/busy")[0] == 200
    wait_until(
        lambda: not [f for f in b.get("/api/faults")["faults"] if f["source"] == "api"],
        what="the rule gone on b",
    )
    esme.submit_ok(DEMO[0], "accepted again")
    esme.close()


def test_a_ussd_menu_with_the_application_on_one_node_and_the_phone_on_the_other(
    cluster: tuple[Node, Node],
) -> None:
    """The phone dials, reads and answers through node b; the application is bound on node a:
    b passes the phone's calls to a, where the dialogue lives."""
    from .test_ussd import PSSR_INDICATION, PSSR_RESPONSE, USSR_CONFIRM, USSR_REQUEST, next_ussd, ussd_submit

    a, b = cluster
    app = Esme(a.smpp_address)
    app.bind("transceiver")
    phone = DEMO[5] if len(DEMO) > 5 else "8613800000051"
    wait_until(lambda: bound_on(a, "a", "smsgw"), what="node a to record its bind")  # each third of a lease
    assert b.api("POST", f"/api/handsets/{phone}/ussd", {"dial": "*126#"})[0] == 200
    indication = next_ussd(app, 1)
    assert indication.ussd_service_op == PSSR_INDICATION and bytes(indication.short_message) == b"*126#"
    session = indication.its_session_info
    assert ussd_submit(app, phone, "1 Pay merchant\n2 My balance", USSR_REQUEST, session).status == 0
    menu = b.get(f"/api/handsets/{phone}/ussd?after=0&wait=5")
    assert menu["screen"] == "1 Pay merchant\n2 My balance" and menu["expects_reply"] is True
    assert b.api("POST", f"/api/handsets/{phone}/ussd/reply", {"text": "2"})[0] == 200
    confirm = next_ussd(app, 2)
    assert (confirm.ussd_service_op, bytes(confirm.short_message)) == (USSR_CONFIRM, b"2")
    ussd_submit(app, phone, "Balance: 120.00 CNY", PSSR_RESPONSE, session)
    final = b.get(f"/api/handsets/{phone}/ussd?after={menu['cursor']}&wait=5")
    assert (final["screen"], final["state"]) == ("Balance: 120.00 CNY", "closed")
    app.close()


class MerchantNode(Node):
    """A node that runs the mock merchant if it may (the cluster runs one)."""

    def command(self) -> list[str]:
        return [arg for arg in super().command() if arg != "--no-merchant"] + ["--merchant-port", "0"]


def test_one_node_runs_the_mock_merchant_and_the_others_pass_its_ussd_there(
    postgres_url: str, tmp_path: Path
) -> None:
    a = MerchantNode(tmp_path / "a", postgres_url, "a").start()
    b = MerchantNode(tmp_path / "b", postgres_url, "b").start()
    try:
        assert "merchant_url" in a.ports and "merchant_url" not in b.ports
        phone = "8613800000061"
        status, _ = b.api("POST", f"/api/handsets/{phone}/ussd", {"dial": "*126#"})
        assert status == 200
        shown = wait_until(
            lambda: (s := b.get(f"/api/handsets/{phone}/ussd?after=0&wait=2"))["screen"] and s,
            what="the merchant's answer on a phone calling node b",
        )
        assert "wallet" in shown["screen"]  # a phone with no wallet: the merchant says so, and ends
        assert shown == a.get(f"/api/handsets/{phone}/ussd")  # the dialogue lives on node a
    finally:
        for node in (a, b):
            node.stop(signal.SIGKILL)
