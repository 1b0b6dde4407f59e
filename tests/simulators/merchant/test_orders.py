"""Orders: ids, the transition table, history and webhook payloads."""

from __future__ import annotations

import pytest

from simulators.merchant.actions import Webhook
from simulators.merchant.orders import (
    TRANSITIONS,
    Order,
    OrderNotFound,
    Orders,
    OrderStateError,
    OrderStatus,
    StatusChange,
)


def test_ids_come_from_a_counter() -> None:
    """Ids are ord_0001, ord_0002, … in creation order, per book."""
    book = Orders()
    ids = [book.new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0).id for _ in range(3)]
    assert ids == ["ord_0001", "ord_0002", "ord_0003"]
    assert Orders().new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0).id == "ord_0001"
    assert [o.id for o in book] == ids and len(book) == 3
    with pytest.raises(OrderNotFound):
        book.get("ord_9999")


def test_every_move_is_recorded_and_reported() -> None:
    """A move appends (status, at, reason) and returns a webhook with the order's fields."""
    order = Orders().new("8613800000001", 2500, "CNY", "otp", "ShopX", 1.0, "http://shop.test/hook")
    assert order.history == [StatusChange(OrderStatus.PENDING, 1.0, "created")]
    hook = order.move(OrderStatus.AWAITING_CONFIRMATION, "code_sent", 2.0)
    assert hook == Webhook(
        "http://shop.test/hook",
        {
            "order_id": "ord_0001",
            "status": "awaiting_confirmation",
            "reason": "code_sent",
            "amount": 2500,
            "currency": "CNY",
            "msisdn": "8613800000001",
            "method": "otp",
            "reference": None,
            "at": 2.0,
        },
    )
    order.move(OrderStatus.PAID, "confirmed", 3.0)
    assert [(c.status.value, c.at, c.reason) for c in order.history] == [
        ("pending", 1.0, "created"),
        ("awaiting_confirmation", 2.0, "code_sent"),
        ("paid", 3.0, "confirmed"),
    ]


def test_no_webhook_without_callback_url() -> None:
    """An order without a callback URL records its moves but asks for no webhook."""
    order = Orders().new("8613800000001", 2500, "CNY", "otp", "ShopX", 1.0)
    assert order.move(OrderStatus.FAILED, "no_wallet", 1.0) is None
    assert order.status is OrderStatus.FAILED and order.reason == "no_wallet"


@pytest.mark.parametrize("start", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_transition_table(start: OrderStatus, target: OrderStatus) -> None:
    """Exactly the moves in TRANSITIONS are allowed; end statuses are final."""
    order = Orders().new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0)
    order.status = start
    if target in TRANSITIONS[start]:
        order.move(target, "because", 1.0)
        assert order.status is target
    else:
        with pytest.raises(OrderStateError):
            order.move(target, "because", 1.0)
        assert order.status is start
    assert start.final == (start not in (OrderStatus.PENDING, OrderStatus.AWAITING_CONFIRMATION))


def test_awaiting_filters_by_buyer_and_method() -> None:
    """awaiting() lists waiting orders oldest first, optionally of one buyer or one method."""
    book = Orders()
    a = book.new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0)
    b = book.new("8613800000001", 100, "CNY", "ussd_push", "ShopX", 0.0)
    c = book.new("8613800000002", 100, "CNY", "otp", "ShopX", 0.0)
    for order in (a, b, c):
        order.move(OrderStatus.AWAITING_CONFIRMATION, "asked", 0.0)
    book.new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0)
    assert book.awaiting() == [a, b, c]
    assert book.awaiting("8613800000001", "otp") == [a]
    assert book.awaiting(method="otp") == [a, c]


def test_pages_of_orders_newest_first() -> None:
    """page() is newest first below ``before``; since() lists the orders after a count."""
    book = Orders()
    for n in range(5):
        book.new("8613800000001", 100 + n, "CNY", "otp", "ShopX", float(n))
    assert [o.id for o in book.page(None, 2)] == ["ord_0005", "ord_0004"]
    assert [o.id for o in book.page(4, 2)] == ["ord_0003", "ord_0002"]
    assert [o.id for o in book.page(2, 2)] == ["ord_0001"]
    assert book.page(1, 2) == [] and [o.id for o in book.page(99, 1)] == ["ord_0005"]
    assert [o.id for o in book.since(3)] == ["ord_0004", "ord_0005"]


def _order(number: int) -> Order:
    return Order(f"ord_{number:04d}", "8613800000001", 100, "CNY", "otp", "ShopX", float(number))


def test_orders_kept_with_gaps_load_and_the_next_id_follows_the_last() -> None:
    """Retention leaves gaps: loading ord_0002, ord_0005, ord_0009 works, and the next is ord_0010."""
    book = Orders()
    for number in (2, 5, 9):
        book.load(_order(number))
    assert [o.id for o in book] == ["ord_0002", "ord_0005", "ord_0009"] and book.count == 9
    assert book.new("8613800000001", 100, "CNY", "otp", "ShopX", 10.0).id == "ord_0010"


@pytest.mark.parametrize("number", [10, 3])
def test_an_order_loaded_out_of_order_is_refused(number: int) -> None:
    """Numbers may skip, never repeat nor go back."""
    book = Orders()
    book.load(_order(3))
    book.load(_order(10))
    with pytest.raises(ValueError, match="out of sequence"):
        book.load(_order(number))
    assert [o.id for o in book] == ["ord_0003", "ord_0010"]


def test_the_counter_an_earlier_run_kept_is_not_gone_back_on() -> None:
    """continue_after raises the counter (orders forgotten past the last one kept), never lowers it."""
    book = Orders()
    book.load(_order(4))
    book.continue_after(7)
    book.continue_after(2)
    assert book.new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0).id == "ord_0008"


def test_pages_and_since_step_over_forgotten_orders() -> None:
    """After forget, a page holds ``limit`` kept orders below ``before``, whatever the gaps."""
    book = Orders()
    for n in range(10):
        book.new("8613800000001", 100 + n, "CNY", "otp", "ShopX", float(n))
    dropped = book.forget(["ord_0007", "ord_0002", "ord_0003", "ord_0008"])
    assert [o.id for o in dropped] == ["ord_0002", "ord_0003", "ord_0007", "ord_0008"]
    assert [o.id for o in book.page(None, 3)] == ["ord_0010", "ord_0009", "ord_0006"]
    assert [o.id for o in book.page(9, 3)] == ["ord_0006", "ord_0005", "ord_0004"]
    assert [o.id for o in book.page(8, 2)] == ["ord_0006", "ord_0005"]  # before a forgotten id
    assert [o.id for o in book.page(4, 3)] == ["ord_0001"]
    assert [o.id for o in book.since(2)] == ["ord_0004", "ord_0005", "ord_0006", "ord_0009", "ord_0010"]
    assert [o.id for o in book.since(7)] == ["ord_0009", "ord_0010"]
    assert len(book) == 6 and book.count == 10 and book.find("ord_0007") is None
    with pytest.raises(OrderNotFound):
        book.get("ord_0007")
    assert book.new("8613800000001", 100, "CNY", "otp", "ShopX", 11.0).id == "ord_0011"


def test_forgetting_an_unknown_order_forgets_nothing() -> None:
    """forget() checks every id before it drops any."""
    book = Orders()
    book.new("8613800000001", 100, "CNY", "otp", "ShopX", 0.0)
    with pytest.raises(OrderNotFound):
        book.forget(["ord_0001", "ord_0002"])
    assert [o.id for o in book] == ["ord_0001"] and book.page(None, 5)[0].id == "ord_0001"
