"""Group commit with a store whose commits land later (as PostgreSQL's do): the reactor goes
on serving, and nothing is written before what it answers is durable."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.testing import MemoryReactorClock, StringTransport

from smsgw.server.smpp import SmppServerProtocol
from smsgw.smpp import codec
from smsgw.smpp.pdu import EnquireLink, EnquireLinkResp
from smsgw.smpp.sm import DeliverSm, SubmitSmResp
from tests.carrier.helpers import submit
from tests.server.test_adapter import pdus, setup

Done = Callable[[BaseException | None], None]


class LateCommits:
    """Commits that land when the test says so: the writes are applied at once (so reads
    work), but ``done`` waits, as it would for a commit travelling to a database server."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.in_flight: list[Done] = []
        self.started = 0
        store.commit_then = self.commit_then  # type: ignore[attr-defined]

    def commit_then(self, done: Done) -> None:
        self.started += 1
        self.store.commit()  # type: ignore[attr-defined]
        self.in_flight.append(done)

    def land(self, error: BaseException | None = None) -> None:
        self.in_flight.pop(0)(error)


def late_setup() -> tuple[MemoryReactorClock, LateCommits, SmppServerProtocol, StringTransport]:
    reactor, carrier, protocol, transport = setup()
    return reactor, LateCommits(carrier.store), protocol, transport


def test_a_response_waits_for_its_commit_to_land() -> None:
    reactor, commits, protocol, transport = late_setup()
    protocol.dataReceived(codec.encode(submit(sequence=2)))
    reactor.advance(0)
    assert commits.started == 1 and transport.value() == b""  # accepted, the commit in flight
    commits.land()
    assert [type(p) for p in pdus(transport)] == [SubmitSmResp, DeliverSm]


def test_turns_served_during_a_commit_wait_for_the_next_one_and_keep_their_order() -> None:
    reactor, commits, protocol, transport = late_setup()
    protocol.dataReceived(codec.encode(submit(sequence=2)))
    reactor.advance(0)
    # While the first commit travels, the reactor reads and answers more: an enquire_link
    # (nothing to store) and another submit. Both wait behind the first commit.
    protocol.dataReceived(codec.encode(EnquireLink(3)) + codec.encode(submit(sequence=4)))
    reactor.advance(0)
    assert commits.started == 1 and transport.value() == b""
    commits.land()  # the first lands: its output goes, and the second commit starts at once
    first = pdus(transport)
    assert [(type(p), p.sequence_number) for p in first[:1]] == [(SubmitSmResp, 2)]
    assert commits.started == 2
    assert all(not (isinstance(p, SubmitSmResp) and p.sequence_number == 4) for p in first)
    commits.land()
    rest = [(type(p), p.sequence_number) for p in pdus(transport) if not isinstance(p, DeliverSm)]
    assert rest == [(EnquireLinkResp, 3), (SubmitSmResp, 4)]


def test_a_failed_commit_answers_nothing_and_drops_the_connection() -> None:
    reactor, commits, protocol, transport = late_setup()
    protocol.dataReceived(codec.encode(submit(sequence=2)))
    reactor.advance(0)
    commits.land(OSError("the database went away"))
    assert transport.value() == b""
    assert transport.disconnecting or transport.disconnected


def test_settle_fires_once_the_commit_in_flight_and_the_next_have_landed() -> None:
    reactor, commits, protocol, transport = late_setup()
    protocol.dataReceived(codec.encode(submit(sequence=2)))
    reactor.advance(0)
    protocol.dataReceived(codec.encode(submit(sequence=3)))  # read, not yet flushed
    settled: list[object] = []
    protocol.factory.flusher.settle().addCallback(settled.append)
    commits.land()
    assert settled == []  # sequence 3 is in the next commit
    commits.land()
    assert settled == [None]
    assert {p.sequence_number for p in pdus(transport) if isinstance(p, SubmitSmResp)} == {2, 3}
