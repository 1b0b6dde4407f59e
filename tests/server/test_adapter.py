"""The Twisted adapter on an in-memory transport and clock: group commit, flow control, timers."""

from __future__ import annotations

from twisted.internet.testing import MemoryReactorClock, StringTransport

from smsgw.carrier.subscribers import HandsetState
from smsgw.server.listener import INPUT_SLICE
from smsgw.server.smpp import SmppServerFactory
from smsgw.smpp import codec
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, EnquireLink, EnquireLinkResp
from smsgw.smpp.session import SessionConfig
from smsgw.smpp.sm import DeliverSm, SubmitSmResp
from tests.carrier.helpers import OFF_PHONE, make_carrier, submit


def connect(factory: SmppServerFactory):
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def pdus(transport: StringTransport) -> list:
    data = transport.value()
    transport.clear()
    return [codec.decode(raw) for raw in PduBuffer().feed(data)]


def setup(window: int = 100):
    reactor = MemoryReactorClock()
    carrier = make_carrier()
    factory = SmppServerFactory(carrier, SessionConfig(window=window), reactor)
    protocol, transport = connect(factory)
    protocol.dataReceived(codec.encode(BindTransceiver(1, system_id="shop", password="pw")))
    reactor.advance(0)
    pdus(transport)
    return reactor, carrier, protocol, transport


def test_responses_wait_for_the_end_of_the_turn() -> None:
    """Nothing is written during dataReceived; resp and receipt go out together after the commit."""
    reactor, carrier, protocol, transport = setup()
    protocol.dataReceived(codec.encode(submit(sequence=2)) + codec.encode(submit(sequence=3)))
    assert transport.value() == b""
    assert carrier.store.urgent  # accepted, not yet committed
    reactor.advance(0)
    assert not carrier.store.urgent
    kinds = [type(p) for p in pdus(transport)]
    assert kinds == [SubmitSmResp, SubmitSmResp, DeliverSm, DeliverSm]


def test_paused_connection_is_not_read_and_gets_no_deliveries() -> None:
    """When the transport's buffer is full the adapter stops reading and holds deliveries back."""
    reactor, carrier, protocol, transport = setup()
    protocol.dataReceived(codec.encode(submit(OFF_PHONE, sequence=2)))
    reactor.advance(0)
    pdus(transport)
    protocol.pauseProducing()
    assert transport.producerState == "paused"
    carrier.handsets.set_state(OFF_PHONE, HandsetState.ON)
    protocol.factory.flusher.mark()
    reactor.advance(0)
    assert pdus(transport) == []
    protocol.resumeProducing()
    assert transport.producerState == "producing"
    reactor.advance(0)
    (receipt,) = pdus(transport)
    assert isinstance(receipt, DeliverSm) and receipt.message_state == 2


def test_timers_run_on_the_reactor_clock() -> None:
    """An idle session gets enquire_link after the interval, driven by the reactor's clock."""
    reactor = MemoryReactorClock()
    factory = SmppServerFactory(make_carrier(), SessionConfig(enquire_link_interval=30.0), reactor)
    factory.startFactory()
    protocol, transport = connect(factory)
    protocol.dataReceived(codec.encode(BindTransceiver(1, system_id="shop", password="pw")))
    reactor.advance(0)
    pdus(transport)
    reactor.advance(29.9)
    assert pdus(transport) == []
    reactor.advance(0.5)
    assert [type(p) for p in pdus(transport)] == [EnquireLink]
    factory.stopFactory()


def test_internal_error_answers_rsyserr_and_keeps_the_connection() -> None:
    """An exception in the carrier becomes ESME_RSYSERR for that PDU; the session carries on."""
    reactor, carrier, protocol, transport = setup()

    def broken(binding, pdu):
        raise RuntimeError("boom")

    carrier.smsc.request = broken  # type: ignore[method-assign]
    protocol.dataReceived(codec.encode(submit(sequence=2)) + codec.encode(EnquireLink(3)))
    reactor.advance(0)
    answers = {p.sequence_number: p for p in pdus(transport)}
    assert isinstance(answers[2], SubmitSmResp) and answers[2].command_status == 0x08
    assert isinstance(answers[3], EnquireLinkResp)
    assert not transport.disconnecting


def test_a_flood_is_handled_a_slice_a_turn_in_order() -> None:
    """64 KiB of enquire_link in one read: 16 KiB is handled now, the rest in the next turns
    while reading pauses, so other connections get turns in between; all answered, in order."""
    reactor, carrier, protocol, transport = setup()
    flood = b"".join(codec.encode(EnquireLink(sequence)) for sequence in range(2, 4098))  # 64 KiB
    protocol.dataReceived(flood)
    assert protocol.session.pdus_in[EnquireLink(1).command_id] == INPUT_SLICE // 16
    assert transport.producerState == "paused"
    protocol.dataReceived(codec.encode(EnquireLink(4098)))  # read meanwhile: waits its turn
    reactor.advance(0)
    assert transport.producerState == "producing"
    answers = pdus(transport)
    assert [type(p) for p in answers] == [EnquireLinkResp] * 4097
    assert [p.sequence_number for p in answers] == list(range(2, 4099))
