"""Orders: ids, the transition table, history and webhook payloads."""

from __future__ import annotations

import pytest

from simulators.merchant.actions import Webhook
from simulators.merchant.orders import (
    TRANSITIONS,
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
    book = Orders()
    for n in range(5):
        book.new("8613800000001", 100 + n, "CNY", "otp", "ShopX", float(n))
    assert [o.id for o in book.page(None, 2)] == ["ord_0005", "ord_0004"]
    assert [o.id for o in book.page(4, 2)] == ["ord_0003", "ord_0002"]
    assert [o.id for o in book.page(2, 2)] == ["ord_0001"]
    assert book.page(1, 2) == [] and [o.id for o in book.page(99, 1)] == ["ord_0005"]
    assert [o.id for o in book.since(3)] == ["ord_0004", "ord_0005"]
