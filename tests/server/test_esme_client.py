"""smsgw's own ESME (the Twisted client) against smsgw's SMPP server, connected in memory (iosim)."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.testing import MemoryReactorClock
from twisted.test import iosim

from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.server.esme import EsmeClient, EsmeError
from smsgw.server.smpp import SmppServerFactory
from smsgw.smpp.constants import BindType
from smsgw.smpp.esme import EsmeConfig
from smsgw.smpp.session import SessionConfig
from smsgw.smpp.sm import SubmitSm
from tests.carrier.helpers import make_carrier


class Rig:
    """A carrier's SMPP server and an EsmeClient, wired through an in-memory pump."""

    def __init__(self, password: str = "pw", faults: FaultBook | None = None) -> None:
        self.reactor = MemoryReactorClock()
        self.carrier = make_carrier(faults=faults)
        self.server = SmppServerFactory(self.carrier, SessionConfig(), self.reactor)
        self.delivered: list[Any] = []
        self.client = EsmeClient(
            EsmeConfig("shop", password, bind_type=BindType.TRANSCEIVER),
            self.reactor,
            self._connect,
            self._on_delivery,
        )
        self.pump: iosim.IOPump | None = None

    def _on_delivery(self, pdu: Any) -> int:
        self.delivered.append(pdu)
        return 0

    def _connect(self, factory: Any) -> defer.Deferred[Any]:
        _, _, self.pump = iosim.connectedServerAndClient(
            lambda: self.server.buildProtocol(None), lambda: factory.buildProtocol(None)
        )
        return defer.succeed(None)

    def run(self) -> None:
        """Move bytes both ways and let each side's end-of-turn work happen, until quiet."""
        assert self.pump is not None
        for _ in range(10):
            self.reactor.advance(0)
            if not self.pump.pump():
                self.reactor.advance(0)
                if not self.pump.pump():
                    return


def result_of(deferred: defer.Deferred[Any]) -> Any:
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, "the Deferred has not fired"
    return results[0]


def test_binds_submits_and_gets_its_receipt() -> None:
    """The client binds, its submit fires with the message_id, and the receipt reaches its handler."""
    rig = Rig()
    rig.client.start()
    bound = rig.client.when_bound()
    rig.run()
    assert result_of(bound) is None
    answer = rig.client.submit(
        SubmitSm(
            source_addr="12345", destination_addr="8613800000001", short_message=b"hi", registered_delivery=1
        )
    )
    rig.run()
    assert result_of(answer).message_id == "1"
    (receipt,) = rig.delivered
    assert receipt.receipted_message_id == "1" and receipt.message_state == 2
    assert rig.carrier.outbox.pending("shop") == 0  # the receipt was answered with 0 and settled


def test_refused_submit_and_not_bound_fail_with_esme_error() -> None:
    """An error status, or a submit before the bind, fails the Deferred with EsmeError."""
    rig = Rig()
    early = rig.client.submit(SubmitSm(destination_addr="861"))
    assert isinstance(result_of(early).value, EsmeError)
    rig.client.start()
    rig.run()
    refused = rig.client.submit(SubmitSm(destination_addr="not-a-number"))
    rig.run()
    failure = result_of(refused)
    assert isinstance(failure.value, EsmeError) and failure.value.command_status == 0x0B


def test_wrong_password_never_binds() -> None:
    """A refused bind leaves when_bound waiting."""
    rig = Rig(password="nope")
    rig.client.start()
    waiting = rig.client.when_bound()
    rig.run()
    with pytest.raises(AssertionError):
        result_of(waiting)


def submit_to(msisdn: str) -> SubmitSm:
    return SubmitSm(source_addr="12345", destination_addr=msisdn, short_message=b"hi")


def test_a_submit_lost_with_its_connection_is_resent_once_bound_again() -> None:
    """The carrier drops the connection at the submit (an injected fault): the client binds
    again and resends it; it is accepted once, and a submit made meanwhile waits for the bind."""
    rig = Rig(faults=FaultBook([FaultRule("cut", "drop_connection", limit=1)]))
    rig.client.start()
    rig.run()
    first = rig.client.submit(submit_to("8613800000001"))
    rig.run()
    assert rig.client.connection is None and not first.called
    meanwhile = rig.client.submit(submit_to("8613800000002"))
    rig.reactor.advance(rig.client.retry_delay)
    rig.run()
    assert (result_of(first).message_id, result_of(meanwhile).message_id) == ("1", "2")
    assert rig.carrier.store.count_messages() == 2


def test_a_request_gives_up_after_the_resend_limit() -> None:
    rig = Rig(faults=FaultBook([FaultRule("cut", "drop_connection")]))
    rig.client.resend_limit = 1
    rig.client.start()
    rig.run()
    answer = rig.client.submit(submit_to("8613800000001"))
    for _ in range(2):
        rig.run()
        rig.reactor.advance(rig.client.retry_delay)
    rig.run()
    failure = result_of(answer)
    assert isinstance(failure.value, EsmeError) and "lost 2 times" in str(failure.value)
    assert rig.carrier.store.count_messages() == 0
