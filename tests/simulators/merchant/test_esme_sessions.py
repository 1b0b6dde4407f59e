"""The merchant's SMPP edge names every USSD screen by its own dialogue's session.

The edge is driven with deliver_sm PDUs and a stand-in for the bound client whose submits
are answered by hand, so a test can cross an answer with the carrier's abort or with the
shop's next order, which real sockets cannot order on demand. The whole path over TCP is in
tests/e2e/test_merchant_ussd_sessions.py.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock

from simulators.merchant.esme import EOS, ESME_RSUBMITFAIL, MerchantEsme, NotSaved
from simulators.merchant.orders import OrderStatus
from smsgw.server.esme import EsmeError
from smsgw.smpp.sm import DeliverSm, SubmitSm

from .helpers import EN, code_from, make_merchant

PSSR_INDICATION, USSR_REQUEST, USSN_REQUEST, PSSR_RESPONSE, USSR_CONFIRM, ABORT = 1, 2, 3, 17, 18, 0x81
MENU = 0x0100  # the carrier's session 1


class Client:
    """Takes submits and leaves each waiting until the test answers it."""

    def __init__(self) -> None:
        self.sent: list[tuple[SubmitSm, defer.Deferred[Any]]] = []

    def submit(self, pdu: SubmitSm) -> defer.Deferred[Any]:
        answer: defer.Deferred[Any] = defer.Deferred()
        self.sent.append((pdu, answer))
        return answer

    def answer_all(self) -> list[SubmitSm]:
        """Accept every submit not yet answered (each lets the next out); return all so far."""
        for _, answer in self.sent:
            if not answer.called:
                answer.callback(None)
        return [pdu for pdu, _ in self.sent]


def edge(save: Any = None) -> tuple[MerchantEsme, Client]:
    merchant = make_merchant()
    esme = MerchantEsme(
        merchant, Clock(), lambda factory: defer.Deferred(), system_id="m", password="p", save=save
    )
    client = Client()
    esme.client = client  # type: ignore[assignment]
    return esme, client


def deliver(esme: MerchantEsme, op: int, session: int | None, text: str = "") -> None:
    pdu = DeliverSm(
        service_type="USSD",
        source_addr=EN,
        destination_addr="*126#",
        short_message=text.encode(),
        its_session_info=session,
        ussd_service_op=op,
    )
    answers: list[int] = []
    esme.on_delivery(pdu).addCallback(answers.append)
    assert answers == [0]  # accepted at once: nothing here to save


def push(esme: MerchantEsme) -> str:
    order, actions = esme.merchant.create_order(EN, 100, "CNY", "ussd_push", None, esme.now())
    esme.carry_out(actions)
    return order.id


def after_a_menu() -> tuple[MerchantEsme, Client]:
    """The buyer dialled *126#, asked the balance, and the merchant ended the menu."""
    esme, client = edge()
    deliver(esme, PSSR_INDICATION, MENU, "*126#")
    deliver(esme, USSR_CONFIRM, MENU, "2")
    ended = client.answer_all()[-1]
    assert (ended.ussd_service_op, ended.its_session_info) == (PSSR_RESPONSE, MENU)
    return esme, client


def test_an_unanswered_push_is_cancelled_in_its_own_session() -> None:
    esme, client = after_a_menu()
    order = push(esme)
    prompt = client.answer_all()[-1]
    assert prompt.ussd_service_op == USSR_REQUEST
    assert prompt.its_session_info not in (None, MENU) and not prompt.its_session_info & EOS
    esme.carry_out(esme.merchant.cancel_order(order, esme.now()).actions)
    end = client.answer_all()[-1]
    assert (end.ussd_service_op, end.its_session_info) == (USSN_REQUEST, prompt.its_session_info | EOS)


def test_the_push_timeout_ends_the_push_in_its_own_session() -> None:
    esme, client = after_a_menu()
    push(esme)
    prompt = client.answer_all()[-1]
    esme.carry_out(esme.merchant.tick(esme.now() + esme.merchant.config.push_timeout))
    end = client.answer_all()[-1]
    assert (end.ussd_service_op, end.its_session_info) == (USSN_REQUEST, prompt.its_session_info | EOS)


def test_the_answer_keeps_the_push_session_to_the_end() -> None:
    esme, client = after_a_menu()
    order = push(esme)
    session = client.answer_all()[-1].its_session_info
    deliver(esme, USSR_CONFIRM, session, "1")
    deliver(esme, USSR_CONFIRM, session, "1234")
    pin, paid = client.answer_all()[-3:-1]  # then the receipt SMS
    assert (pin.ussd_service_op, pin.its_session_info) == (USSR_REQUEST, session)
    assert (paid.ussd_service_op, paid.its_session_info) == (USSN_REQUEST, session | EOS)
    assert esme.merchant.orders.get(order).status is OrderStatus.PAID


def test_each_push_gets_a_new_session() -> None:
    esme, client = after_a_menu()
    first = push(esme)
    one = client.answer_all()[-1].its_session_info
    esme.carry_out(esme.merchant.cancel_order(first, esme.now()).actions)
    push(esme)
    two = client.answer_all()[-1].its_session_info
    assert None not in (one, two) and one != two


def test_an_abort_of_a_cancelled_push_does_not_fail_the_next_one() -> None:
    """The buyer hangs up on push A while the shop cancels A and pushes B: A's abort arrives
    after B began, and B still waits for the buyer."""
    esme, client = after_a_menu()
    first = push(esme)
    one = client.answer_all()[-1].its_session_info
    esme.carry_out(esme.merchant.cancel_order(first, esme.now()).actions)
    second = push(esme)
    deliver(esme, ABORT, one | EOS, "user_cancelled")
    assert esme.merchant.orders.get(second).status is OrderStatus.AWAITING_CONFIRMATION
    assert esme.merchant.orders.get(first).reason == "cancelled_by_merchant"


def test_a_refused_pin_prompt_fails_its_order_only() -> None:
    """0x45 to a push's PIN prompt: the buyer can no longer answer, so that order fails now."""
    esme, client = after_a_menu()
    order = push(esme)
    session = client.answer_all()[-1].its_session_info
    deliver(esme, USSR_CONFIRM, session, "1")
    pin, answer = client.sent[-1]
    assert pin.ussd_service_op == USSR_REQUEST
    answer.errback(EsmeError("late", ESME_RSUBMITFAIL))
    status = esme.merchant.orders.get(order)
    assert (status.status, status.reason) == (OrderStatus.FAILED, "no_answer")
    # The push is forgotten: a new one opens in a new session.
    push(esme)
    assert client.answer_all()[-1].its_session_info not in (None, session)


def test_what_the_core_decided_goes_out_once_it_is_saved_and_not_at_all_when_the_save_fails() -> None:
    """A save travels to the store without holding up the reactor: the OTP and the answer
    to the buyer's deliver_sm wait for it, and a failed save sends nothing and refuses the
    deliver_sm (ESME_RX_T_APPN), so the carrier delivers it again."""
    saves: list[defer.Deferred[None]] = []

    def save(actions: Any) -> defer.Deferred[None]:
        saves.append(defer.Deferred())
        return saves[-1]

    esme, client = edge(save)
    _, actions = esme.merchant.create_order(EN, 100, "CNY", "otp", None, esme.now())
    carried: list[Any] = []
    esme.carry_out(actions).addBoth(carried.append)
    assert client.sent == [] and carried == []
    saves[0].callback(None)
    assert carried == [None]
    (otp,) = client.answer_all()
    assert otp.destination_addr == EN

    # The buyer texts the code back: paying would send a receipt SMS, once saved.
    pdu = DeliverSm(source_addr=EN, destination_addr="12345", short_message=code_from(actions).encode())
    answers: list[Any] = []
    esme.on_delivery(pdu).addBoth(answers.append)
    assert answers == []
    saves[1].errback(OSError("disk full"))
    (failure,) = answers
    assert isinstance(failure.value, NotSaved) and "disk full" in str(failure.value)
    assert len(client.sent) == 1  # no receipt SMS
