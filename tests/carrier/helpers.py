"""A carrier on an in-memory store and a fake clock, with ESME links made of real sessions."""

from __future__ import annotations

from typing import Any

from smsgw.carrier.accounts import Account
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import FakeClock
from smsgw.carrier.events import EventBus
from smsgw.carrier.faults import FaultBook
from smsgw.carrier.outbox import RetryPolicy
from smsgw.carrier.retention import Keep
from smsgw.carrier.subscribers import Subscriber, SubscriberRegistry
from smsgw.carrier.timeline import Timeline
from smsgw.carrier.ussd import UssdRoute
from smsgw.frontend.cmpp.deliveries import CmppDeliveries
from smsgw.frontend.later import ReadLater, read_now
from smsgw.frontend.smpp.deliveries import SmppDeliveries
from smsgw.frontend.smpp.link import SmppLink
from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.smpp import codec
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, Pdu
from smsgw.smpp.session import (
    BindRequested,
    ResponseReceived,
    SessionConfig,
    SmscSession,
)
from smsgw.smpp.sm import DeliverSmResp, SubmitSm
from smsgw.store.sqlite import SqliteStore

OFF_PHONE = "8613800000009"


class Link:
    """An ESME connection without a socket: bytes in, PDUs out, through the SMPP front end."""

    def __init__(
        self,
        carrier: Carrier,
        bind: type = BindTransceiver,
        system_id: str = "shop",
        window: int = 10,
        password: str = "pw",
        address_range: str = "",
        read_later: ReadLater = read_now,
    ) -> None:
        self.carrier = carrier
        self.session = SmscSession(SessionConfig(window=window), now=0.0)
        self.session_id = id(self)
        self.smpp = SmppLink(
            carrier,
            self.session,
            self.session_id,
            "test",
            lambda: None,
            pdu_log=pdu_log(carrier),
            read_later=read_later,
        )
        (event,) = self.session.receive_data(
            codec.encode(bind(1, system_id=system_id, password=password, address_range=address_range)), 0.0
        )
        assert isinstance(event, BindRequested)
        self.bound = self.smpp.bind(event)
        self.session.data_to_send()  # the bind_resp

    def send(self, pdu: Pdu) -> None:
        for event in self.session.receive_data(codec.encode(pdu), 0.0):
            if isinstance(event, ResponseReceived):
                self.smpp.answered(event)
            else:
                self.smpp.request(event)

    def read(self) -> list[Any]:
        self.carrier.flush()
        return [codec.decode(raw) for raw in PduBuffer().feed(self.session.data_to_send())]

    def ack(self, pdus: list[Any], status: int = 0) -> None:
        for pdu in pdus:
            self.send(DeliverSmResp(pdu.sequence_number, status))


def pdu_log(carrier: Carrier) -> PduLog:
    """The SMPP front end's PDU log of a carrier made by :func:`make_carrier`."""
    encoder = carrier.center.encoders["smpp"]
    assert isinstance(encoder, SmppDeliveries)
    return encoder.pdu_log


def make_carrier(
    path: str = ":memory:",
    clock: FakeClock | None = None,
    faults: FaultBook | None = None,
    ussd_routes: tuple[UssdRoute, ...] = (),
    accounts: list[Account] | None = None,
    timeline: Timeline | None = None,
    keep: Keep = Keep(),
    **account: Any,
) -> Carrier:
    store = SqliteStore(path)
    subscribers = SubscriberRegistry([Subscriber("8613800000001", "A"), Subscriber(OFF_PHONE, "Off")])
    subscribers.get(OFF_PHONE).state = subscribers.get(OFF_PHONE).state.OFF  # type: ignore[union-attr]
    events = EventBus()
    carrier = Carrier(
        store,
        accounts or [Account("shop", "pw", short_codes=("12345",), **account)],
        subscribers,
        clock or FakeClock(),
        encoders={"smpp": SmppDeliveries(events), "cmpp": CmppDeliveries()},
        events=events,
        retry=RetryPolicy(base=1.0, maximum=4.0, validity=60.0),
        default_system_id="shop",
        faults=faults,
        ussd_routes=ussd_routes,
        timeline=timeline,
        keep=keep,
    )
    carrier.start()
    return carrier


def submit(to: str = "8613800000001", sequence: int = 1, **fields: Any) -> SubmitSm:
    fields.setdefault("registered_delivery", 1)
    return SubmitSm(
        sequence_number=sequence,
        source_addr="12345",
        destination_addr=to,
        short_message=b"Your code is 123456",
        **fields,
    )
