"""Overload limits answer with SMPP's own errors, and everybody else carries on."""

from __future__ import annotations

import pytest

from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.sm import SubmitSm

from .conftest import DEFAULT_ACCOUNT_TOML, DEMO, receipt_of, wait_until

pytestmark = pytest.mark.e2e


def test_one_connection_too_many_from_an_address_is_refused_and_closed(start_server, connect) -> None:
    server = start_server("[smpp]\nmax_connections_per_ip = 2\nper_ip_limit_on_loopback = true\n")
    first = connect(server)
    first.bind("transceiver")
    second = connect(server, raw=True)
    assert second.bind("transmitter").command_status == 0
    third = connect(server, raw=True)
    assert third.bind("transmitter").command_status == S.ESME_RTHROTTLED
    assert third.is_closed()
    assert len(server.get("/api/sessions")["sessions"]) == 2
    assert first.submit_ok(DEMO[0], "still served")  # the others carry on
    assert "max_connections_per_ip 2" in server.stderr()
    second.close()
    wait_until(lambda: len(server.get("/api/sessions")["sessions"]) == 1, what="the closed session to go")
    fourth = connect(server, raw=True)
    assert fourth.bind("transmitter").command_status == 0  # a place came free


def test_connections_that_never_bind_make_room_for_one_that_does(start_server, connect) -> None:
    """At max_connections the oldest connection that never bound is closed for a new one; bound
    sessions are never closed for room, so with all of them bound the next bind is refused."""
    server = start_server("[smpp]\nmax_connections = 2\n")
    first = connect(server)
    first.bind("transceiver")
    idle = connect(server, raw=True)
    second = connect(server, raw=True)
    assert second.bind("transmitter").command_status == 0
    assert idle.is_closed()
    third = connect(server, raw=True)
    assert third.bind("transmitter").command_status == S.ESME_RTHROTTLED
    assert third.is_closed()
    assert first.submit_ok(DEMO[0], "still served")
    assert "never bound: closed to make room" in server.stderr()


def test_a_bind_beyond_the_accounts_limit_gets_esme_rbindfail(start_server, connect) -> None:
    server = start_server(DEFAULT_ACCOUNT_TOML.replace("[[accounts]]", "[[accounts]]\nmax_binds = 1", 1))
    first = connect(server)
    first.bind("transceiver")
    second = connect(server, raw=True)
    assert second.bind("transmitter").command_status == S.ESME_RBINDFAIL
    assert first.submit_ok(DEMO[0], "still served")
    first.close()
    wait_until(lambda: server.get("/api/sessions")["sessions"] == [], what="the closed session to go")
    third = connect(server, raw=True)
    assert third.bind("transmitter").command_status == 0  # a place came free


def test_a_receiver_that_stops_answering_gets_no_more_than_its_window(start_server, connect) -> None:
    """Its receipts wait in its own queue; another bind of the same account is served meanwhile."""
    server = start_server("[smpp]\nwindow = 5\nresponse_timeout = 300\n")
    stuck = connect(server, raw=True)
    assert stuck.bind("transceiver").command_status == 0
    (stuck_id,) = [s["id"] for s in server.get("/api/sessions")["sessions"]]
    for n in range(20):
        stuck.request(SubmitSm, destination_addr=DEMO[0], dest_addr_ton=1, dest_addr_npi=1, source_addr="12345",
                      registered_delivery=1, short_message=f"stuck {n}".encode())  # fmt: skip

    def stuck_session() -> dict:
        (session,) = [s for s in server.get("/api/sessions")["sessions"] if s["id"] == stuck_id]
        return session

    wait_until(
        lambda: stuck_session()["queued_deliveries"] == 15, what="15 receipts queued behind the window"
    )
    assert stuck_session()["window"]["in_flight"] == 5
    healthy = connect(server)
    healthy.bind("transceiver")
    message_id = healthy.submit_ok(DEMO[1], "served at once")
    (receipt,) = healthy.wait_deliveries(1)
    assert receipt_of(receipt)["id"] == message_id
    assert stuck_session()["window"]["in_flight"] == 5  # still no more for the one that does not answer
