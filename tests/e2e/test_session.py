"""Session life over real TCP: enquire_link, unbind from either side, and the deliver_sm window."""

from __future__ import annotations

import signal

import pytest

from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.pdu import EnquireLink, Unbind

from .conftest import DEMO, wait_until

pytestmark = pytest.mark.e2e


def test_enquire_link_is_answered_before_bind(server, connect) -> None:
    """enquire_link on an open, unbound connection gets enquire_link_resp with its sequence_number."""
    session = connect(server, raw=True)
    sequence = session.request(EnquireLink)
    response = session.read_pdu()
    assert (response.command_id, response.sequence_number, response.command_status) == (
        C.ENQUIRE_LINK_RESP,
        sequence,
        0,
    )


def test_unbind_from_the_esme_is_answered_and_the_connection_closed(server, connect) -> None:
    """An ESME's unbind gets unbind_resp, then smsgw closes the connection and lists the session no more."""
    session = connect(server, raw=True)
    assert session.bind("transceiver").command_status == 0
    peer = "{}:{}".format(*session.sock.getsockname())

    def listed() -> bool:
        return any(s["peer"] == peer for s in server.get("/api/sessions")["sessions"])

    assert listed()
    sequence = session.request(Unbind)
    response = session.read_pdu()
    assert (response.command_id, response.sequence_number, response.command_status) == (
        C.UNBIND_RESP,
        sequence,
        0,
    )
    assert session.is_closed(timeout=3)
    wait_until(lambda: not listed(), what="the session to leave GET /api/sessions")


def test_sigterm_unbinds_every_bound_session(start_server, connect) -> None:
    """Stopping smsgw with SIGTERM sends unbind to each bound session, closes the connections and exits 0."""
    smsgw = start_server()
    sessions = [connect(smsgw, raw=True) for _ in range(3)]
    for session, kind in zip(sessions, ("transmitter", "receiver", "transceiver")):
        assert session.bind(kind).command_status == 0
    smsgw.process.send_signal(signal.SIGTERM)
    for session in sessions:
        unbind = session.read_pdu()
        assert unbind.command_id == C.UNBIND
    assert all(session.is_closed(timeout=5) for session in sessions)
    assert smsgw.stop() == 0


def test_default_window_lets_many_deliveries_be_unanswered(start_server, connect) -> None:
    """With the default window (documented as 100), 20 receipts reach a receiver that has not answered any of them yet."""
    smsgw = start_server()
    receiver = connect(smsgw, raw=True)
    assert receiver.bind("receiver").command_status == 0
    transmitter = connect(smsgw)
    transmitter.bind("transmitter")
    submitted = [transmitter.submit_ok(DEMO[i % 5], f"window {i}") for i in range(20)]

    received = []
    for _ in submitted:
        try:
            pdu = receiver.read_pdu(timeout=2)
        except AssertionError:
            break  # nothing more comes until the receiver answers
        assert pdu.command_id == C.DELIVER_SM
        received.append(pdu.receipted_message_id)
    assert received == submitted, f"only {len(received)} of {len(submitted)} receipts came before any answer"
