"""smsgw's blocking ESME driver (EsmeLink) against a sans-I/O SMSC session over a socket pair."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from smsgw.client import EsmeLink, SmppClientError
from smsgw.smpp.constants import BindType
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.esme import EsmeConfig
from smsgw.smpp.session import BindRequested, ResponseReceived, SessionConfig, SmscSession
from smsgw.smpp.sm import DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp


class FakeSmsc:
    """An SmscSession over one end of a socket pair, run by a thread; answers submits with ids."""

    def __init__(self, connection: socket.socket, *, accept: bool = True, answer: bool = True) -> None:
        self.connection = connection
        self.accept = accept
        self.answer = answer
        self.session = SmscSession(SessionConfig(system_id="fake"), time.monotonic())
        self.answers: list[ResponseReceived] = []
        self.submits: list[SubmitSm] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        with contextlib.suppress(OSError):  # the test ended the connection under it
            self.serve()

    def serve(self) -> None:
        while data := self.connection.recv(65536):
            with self.lock:
                for event in self.session.receive_data(data, time.monotonic()):
                    if isinstance(event, BindRequested):
                        if self.accept:
                            self.session.accept_bind(event.pdu, "shop")
                        else:
                            self.session.reject_bind(event.pdu, S.ESME_RINVPASWD)
                    elif isinstance(event, SubmitSm):
                        self.submits.append(event)
                        if self.answer:
                            self.session.respond(event, message_id=f"id{len(self.submits)}")
                    elif isinstance(event, ResponseReceived):
                        self.answers.append(event)
                self.connection.sendall(self.session.data_to_send())

    def deliver(self, pdu: DeliverSm) -> None:
        with self.lock:
            self.session.send(pdu, time.monotonic(), "mo")
            self.connection.sendall(self.session.data_to_send())


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    esme_end, smsc_end = socket.socketpair()
    yield esme_end, smsc_end
    with contextlib.suppress(OSError):  # a test may have shut it down already
        smsc_end.shutdown(socket.SHUT_RDWR)
    smsc_end.close()


def config(**changes: object) -> EsmeConfig:
    return EsmeConfig("shop", "pw", BindType.TRANSCEIVER, enquire_link_interval=0, **changes)  # type: ignore[arg-type]  # the test's own keywords


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 5
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_binds_submits_and_answers_deliveries_with_the_handlers_status(pair) -> None:
    esme_end, smsc_end = pair
    smsc = FakeSmsc(smsc_end)
    delivered: list[DeliverSm] = []

    def on_delivery(pdu: object) -> int:
        delivered.append(pdu)  # type: ignore[arg-type]  # a deliver_sm here
        return S.ESME_RX_T_APPN if len(delivered) > 1 else 0

    link = EsmeLink(esme_end, config(), on_delivery=on_delivery)
    link.wait_bound(5)
    answer = link.request(SubmitSm(destination_addr="861"), 5)
    assert isinstance(answer, SubmitSmResp) and answer.message_id == "id1"
    smsc.deliver(DeliverSm(short_message=b"one"))
    smsc.deliver(DeliverSm(short_message=b"two"))
    wait_for(lambda: len(smsc.answers) == 2, "both deliveries answered")
    assert [d.short_message for d in delivered] == [b"one", b"two"]
    assert [(type(a.response), a.response.command_status) for a in smsc.answers] == [
        (DeliverSmResp, 0),
        (DeliverSmResp, S.ESME_RX_T_APPN),
    ]
    link.close()
    assert link.closed == "unbind answered"


def test_a_refused_bind_says_its_status(pair) -> None:
    esme_end, smsc_end = pair
    FakeSmsc(smsc_end, accept=False)
    link = EsmeLink(esme_end, config())
    with pytest.raises(SmppClientError, match="bind as 'shop' refused: ESME_RINVPASWD"):
        link.wait_bound(5)
    link.close(unbind=False)


def test_an_unanswered_request_times_out_and_a_lost_connection_fails_the_waiters(pair) -> None:
    esme_end, smsc_end = pair
    smsc = FakeSmsc(smsc_end, answer=False)
    lost: list[str] = []
    link = EsmeLink(esme_end, config(), on_closed=lost.append)
    link.wait_bound(5)
    with pytest.raises(SmppClientError, match="no answer to SubmitSm within 0.2 s"):
        link.request(SubmitSm(destination_addr="861"), 0.2)

    def drop() -> None:
        wait_for(lambda: len(smsc.submits) == 2, "the second submit")
        smsc_end.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=drop, daemon=True).start()
    with pytest.raises(SmppClientError, match="no answer to SubmitSm: the SMSC closed the connection"):
        link.request(SubmitSm(destination_addr="862"), 5)
    assert link.closed == "the SMSC closed the connection"
    wait_for(lambda: lost == [link.closed], "on_closed told why")
    with pytest.raises(SmppClientError, match="SubmitSm not sent: the SMSC closed the connection"):
        link.request(SubmitSm(destination_addr="863"), 5)
    link.close()


def test_the_window_holds_requests_until_answers_free_it(pair) -> None:
    esme_end, smsc_end = pair
    smsc = FakeSmsc(smsc_end, answer=False)
    link = EsmeLink(esme_end, config(window=1))
    link.wait_bound(5)
    failed: list[SmppClientError] = []

    def first() -> None:
        try:
            link.request(SubmitSm(destination_addr="861"), 5)
        except SmppClientError as error:
            failed.append(error)

    threading.Thread(target=first, daemon=True).start()
    wait_for(lambda: len(smsc.submits) == 1, "the first submit")
    with pytest.raises(SmppClientError, match="SubmitSm not sent: the window stayed full for 0.2 s"):
        link.request(SubmitSm(destination_addr="862"), 0.2)
    link.close(unbind=False)
    assert link.closed == "closed by the client"
    wait_for(lambda: len(failed) == 1, "the first submit failed")
    assert str(failed[0]) == "no answer to SubmitSm: closed by the client"
