"""Orders: what the shop asked to be paid, and every status it went through.

Theory of operation. An order starts ``pending``. Once the buyer has been asked (a code by
SMS, or a USSD prompt) it is ``awaiting_confirmation``. It ends ``paid``, ``failed``,
``expired`` or ``cancelled``, always with a reason (the vocabulary below). The allowed moves
are one table, :data:`TRANSITIONS`; an end status is final. A menu payment (the buyer
dials ``*126#``) has nothing to wait for, so it goes from ``pending`` straight to its end.

Every move appends ``(status, at, reason)`` to the history and, when the order has a
callback URL, returns the :class:`~simulators.merchant.actions.Webhook` that tells the shop.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator
from typing import Literal

import attrs

from simulators.merchant.actions import Action, PayloadValue, Webhook

Method = Literal["otp", "ussd_push", "ussd_menu"]
#: Methods a shop may ask for; ``ussd_menu`` orders are made by the buyer's menu payment.
SHOP_METHODS: tuple[Method, ...] = ("otp", "ussd_push")

# Reasons, one word each, so that a webhook consumer can switch on them.
CREATED = "created"
CODE_SENT = "code_sent"
PROMPT_SENT = "prompt_sent"
CONFIRMED = "confirmed"
NO_WALLET = "no_wallet"
CURRENCY_MISMATCH = "currency_mismatch"
WALLET_LOCKED = "wallet_locked"
WRONG_CODE = "wrong_code"
CODE_EXPIRED = "code_expired"
CODE_REUSED = "code_reused"
TOO_MANY_ATTEMPTS = "too_many_attempts"
INSUFFICIENT_BALANCE = "insufficient_balance"
WRONG_PIN = "wrong_pin"
CANCELLED_BY_USER = "cancelled_by_user"
CANCELLED_BY_MERCHANT = "cancelled_by_merchant"
HANDSET_BUSY = "handset_busy"
HANDSET_UNREACHABLE = "handset_unreachable"
NO_ANSWER = "no_answer"
#: A push order whose dialogue was in flight when the merchant stopped: dialogues do not
#: survive a restart (the carrier's neither), so the order fails at start-up.
MERCHANT_RESTARTED = "merchant_restarted"


class OrderStatus(enum.Enum):
    """Where an order is; the value is what the API and webhooks show."""

    PENDING = "pending"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Whether the order can no longer change."""
        return not TRANSITIONS[self]


_ENDS = frozenset({OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.EXPIRED, OrderStatus.CANCELLED})
#: The moves an order may make; anything else is a bug in the caller.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: _ENDS | {OrderStatus.AWAITING_CONFIRMATION},
    OrderStatus.AWAITING_CONFIRMATION: _ENDS,
    OrderStatus.PAID: frozenset(),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


class OrderNotFound(LookupError):
    """No order has this id."""


class OrderStateError(Exception):
    """The order cannot do that in its status (an end status is final)."""


@attrs.frozen
class StatusChange:
    """One line of an order's history."""

    status: OrderStatus
    at: float
    reason: str


@attrs.define
class Order:
    """A payment the shop asked for (or a buyer made from the menu).

    :ivar amount: minor units of ``currency``.
    :ivar shop: the shop's name as the buyer sees it.
    :ivar reason: the reason of the last status change.
    :ivar reference: the payment reference once paid (it is on the receipt).
    :ivar expires_at: when the one-time code stops working (OTP orders).
    """

    id: str
    msisdn: str
    amount: int
    currency: str
    method: Method
    shop: str
    created_at: float
    callback_url: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    reason: str = CREATED
    history: list[StatusChange] = attrs.Factory(list)
    reference: str | None = None
    expires_at: float | None = None

    def __attrs_post_init__(self) -> None:
        if not self.history:
            self.history.append(StatusChange(self.status, self.created_at, self.reason))

    def move(self, status: OrderStatus, reason: str, at: float) -> Webhook | None:
        """Change status, record it, and return the webhook for it (None without a callback URL).

        :raises OrderStateError: the move is not in :data:`TRANSITIONS`.
        """
        if status not in TRANSITIONS[self.status]:
            raise OrderStateError(f"order {self.id} is {self.status.value}; it cannot become {status.value}")
        self.status = status
        self.reason = reason
        self.history.append(StatusChange(status, at, reason))
        if self.callback_url is None:
            return None
        return Webhook(self.callback_url, self.payload(at))

    def payload(self, at: float) -> dict[str, PayloadValue]:
        """The order as a webhook (and the HTTP API) shows it."""
        return {
            "order_id": self.id,
            "status": self.status.value,
            "reason": self.reason,
            "amount": self.amount,
            "currency": self.currency,
            "msisdn": self.msisdn,
            "method": self.method,
            "reference": self.reference,
            "at": at,
        }


@attrs.frozen
class Outcome:
    """What one input did.

    :ivar order: the order it concerned, or None (a HELP text, no order waiting, …).
    :ivar reason: what happened: a final reason of the order (``paid`` orders: ``confirmed``),
        or a step that leaves it waiting: ``wrong_code`` / ``wrong_pin`` (see
        ``attempts_left``), ``pin_requested``, ``invalid_choice``, ``code_reused``; or, with no
        order, ``help``, ``stop``, ``unknown_command``, ``no_order``, ``no_push``, ``order_closed``.
    :ivar attempts_left: after ``wrong_code``, codes left; after ``wrong_pin``, PIN tries left.
    """

    order: Order | None
    reason: str
    actions: tuple[Action, ...] = ()
    attempts_left: int | None = None


def order_number(order_id: str) -> int | None:
    """The counter value in ``ord_0042`` (42), or None for anything else."""
    digits = order_id[4:]
    if not order_id.startswith("ord_") or not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits)


class Orders:
    """Every order kept, by id (``ord_0001``, ``ord_0002``, … from a counter of this book).

    Retention may forget final orders (:meth:`forget`), so the numbers kept can have gaps; the
    counter never goes back, so an id is never handed out twice.
    """

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        # The numbers kept, ascending, and their orders at the same index: a page is a bisect
        # and a slice, however many orders were forgotten in between.
        self._numbers: list[int] = []
        self._list: list[Order] = []
        self._count = 0

    def new(
        self,
        msisdn: str,
        amount: int,
        currency: str,
        method: Method,
        shop: str,
        now: float,
        callback_url: str | None = None,
    ) -> Order:
        """Record a new ``pending`` order under the next id."""
        order = Order(f"ord_{self._count + 1:04d}", msisdn, amount, currency, method, shop, now, callback_url)
        self.load(order)
        return order

    def load(self, order: Order) -> None:
        """Put back an order kept from an earlier run; the next id continues after it.

        Numbers may skip (retention forgot the orders between), never go back.

        :raises ValueError: its id is not an order id, or not above the last one loaded
            (orders are loaded in id order).
        """
        number = order_number(order.id)
        if number is None or number <= self._count:
            raise ValueError(
                f"order {order.id} is out of sequence: the next order is number {self._count + 1} or above"
            )
        self._count = number
        self._orders[order.id] = order
        self._numbers.append(number)
        self._list.append(order)

    def continue_after(self, count: int) -> None:
        """Number the next order after ``count`` at least: the counter an earlier run kept, so
        the ids of orders it forgot are not handed out again."""
        self._count = max(self._count, count)

    def forget(self, order_ids: Iterable[str]) -> list[Order]:
        """Drop these orders from the book (retention); the counter stays where it is.

        :returns: the orders dropped, in id order.
        :raises OrderNotFound: one of them is not in the book (then none is dropped).
        """
        gone = sorted({self._number_of(self.get(order_id)) for order_id in order_ids})
        at = [bisect.bisect_left(self._numbers, number) for number in gone]
        # Retention forgets the oldest orders, mostly side by side: a run of them goes in one
        # slice, not a rebuild of the whole book (which a book of a million would feel).
        runs: list[list[int]] = []
        for index in at:
            if runs and runs[-1][1] == index:
                runs[-1][1] = index + 1
            else:
                runs.append([index, index + 1])
        dropped: list[Order] = []
        for start, end in reversed(runs):
            dropped[:0] = self._list[start:end]
            del self._numbers[start:end], self._list[start:end]
        for order in dropped:
            del self._orders[order.id]
        return dropped

    @staticmethod
    def _number_of(order: Order) -> int:
        number = order_number(order.id)
        assert number is not None, "an order in the book has an order id"
        return number

    @property
    def count(self) -> int:
        """How many orders were ever made (the last id's number), forgotten ones included."""
        return self._count

    @property
    def newest(self) -> Order | None:
        """The order with the highest number kept, or None."""
        return self._list[-1] if self._list else None

    def since(self, count: int) -> list[Order]:
        """The orders kept numbered above ``count``, oldest first."""
        return self._list[bisect.bisect_right(self._numbers, count) :]

    def page(self, before: int | None, limit: int) -> list[Order]:
        """At most ``limit`` orders, newest first, numbered below ``before`` (None: the newest)."""
        end = len(self._list) if before is None else bisect.bisect_left(self._numbers, before)
        return self._list[max(0, end - limit) : end][::-1]

    def find(self, order_id: str) -> Order | None:
        """The order with this id, or None (never made, or forgotten)."""
        return self._orders.get(order_id)

    def get(self, order_id: str) -> Order:
        """The order with this id.

        :raises OrderNotFound: when there is none.
        """
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id!r}")
        return order

    def __iter__(self) -> Iterator[Order]:
        """Orders oldest first (a copy: moving orders while iterating is fine)."""
        return iter(list(self._orders.values()))

    def oldest_first(self) -> Iterator[Order]:
        """Orders oldest first, without a copy: the book must not change meanwhile."""
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._orders)

    def awaiting(self, msisdn: str | None = None, method: Method | None = None) -> list[Order]:
        """Orders waiting for the buyer, oldest first, optionally of one buyer or method."""
        return [
            o
            for o in self._orders.values()
            if o.status is OrderStatus.AWAITING_CONFIRMATION
            and (msisdn is None or o.msisdn == msisdn)
            and (method is None or o.method == method)
        ]
