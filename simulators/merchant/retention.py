"""Retention: the merchant's final orders follow the store's rule, as the carrier's final
messages do (:mod:`smsgw.carrier.retention`).

A final order (``paid``, ``failed``, ``expired``, ``cancelled``) is forgotten once it ended
more than ``keep_days`` ago, or once more than ``keep_orders`` final orders newer than it are
kept. In ``smsgw serve`` the two are the store's ``[store] keep_days`` and ``keep_messages``
(the count of messages is taken as a count of orders); ``smsgw merchant`` takes
``--keep-days`` and ``--keep-orders``. With an order go its one-time code and its payment (the
line of its buyer's ledger; the balance stays as it is). An order not final yet is never
forgotten, and neither is the newest order.

Ids never repeat: the order counter stays where it was, and the store keeps it
(``merchant.state`` / ``orders``, written before the orders' documents are deleted, in the
same commit), so a restart numbers on from the highest id ever handed out, not from the last
order kept (:class:`~simulators.merchant.persist.MerchantRecords`).

Which clock: an order's times are on its buyer's clock (in ``smsgw serve``, the clock of the
buyer's handset's namespace), which tests move forward and which only ever runs ahead of the
wall clock. The age rule compares them with the wall clock (``wall``), so no jump of a test's
clock makes an order old: an order is kept at least ``keep_days`` of real time after it ended.

Cadence: :meth:`OrderRetention.tick` runs from the merchant's tick (every second). A pass
looks at the orders every :data:`PASS_SECONDS` (or every ``keep_days``, when that is shorter,
so an order is not kept much beyond twice its time) and forgets at most :data:`BATCH` of
them, so a pass never holds up the reactor; a pass that had more to forget runs again at the
next tick, until it catches up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simulators.merchant.orders import Order, Orders

#: Orders a pass forgets at most.
BATCH = 500
#: Seconds between two passes (fewer, when ``keep_days`` is shorter).
PASS_SECONDS = 60.0

#: Forgets orders by id from the books (and the store): :meth:`MerchantRecords.forget
#: <simulators.merchant.persist.MerchantRecords.forget>`, or :meth:`Merchant.forget
#: <simulators.merchant.service.Merchant.forget>` for a merchant that keeps no records.
Forget = Callable[[list[str]], list[Order]]


def due(
    orders: Orders,
    *,
    ended_before: float | None,
    keep: int,
    limit: int,
    ahead: Callable[[str], float] = lambda msisdn: 0.0,
) -> list[str]:
    """The ids of the final orders to forget, oldest first, at most ``limit``.

    :param ended_before: an order that ended before this goes (None: no age limit).
    :param keep: final orders kept at most, the newest (0: no count limit).
    :param ahead: how far a buyer's clock runs ahead of the wall clock now.
    """
    newest = orders.newest
    # Counting the final orders walks the whole book: only when it holds more than ``keep``.
    final = sum(order.status.final for order in orders.oldest_first()) if keep and len(orders) > keep else 0
    over = max(final - keep, 0)
    chosen: list[str] = []
    finals = 0  # final orders walked so far
    for order in orders.oldest_first():
        if len(chosen) >= limit:
            break
        # Orders are numbered as they are made, by the wall clock: once one was made after
        # the cut (its buyer's clock less how far that runs ahead now, which only grew since),
        # every later one ended after it too. So a pass walks the old orders, not the book.
        if finals >= over and (
            ended_before is None or order.created_at - ahead(order.msisdn) >= ended_before
        ):
            break
        if not order.status.final:
            continue
        finals += 1
        if order is newest:
            continue
        if finals <= over or (ended_before is not None and order.history[-1].at < ended_before):
            chosen.append(order.id)
    return chosen


class OrderRetention:
    """Forgets the merchant's final orders past the rule, a batch at a time.

    :param orders: the merchant's book of orders.
    :param forget: drops the chosen orders (see :data:`Forget`).
    :param keep_days: days a final order is kept after it ended, by the wall clock (0: no age
        limit); fractions of a day are fine.
    :param keep_orders: final orders kept at most, the newest (0: no count limit).
    :param wall: the wall clock (epoch seconds), which tests do not move.
    :ivar clock_for: a buyer's clock (the merchant's: in ``smsgw serve``, its handset's
        namespace's), which an order's times are on; the wall clock until told.
    """

    def __init__(
        self,
        orders: Orders,
        forget: Forget,
        *,
        keep_days: float = 0.0,
        keep_orders: int = 0,
        wall: Callable[[], float] = time.time,
        batch: int = BATCH,
    ) -> None:
        if keep_days < 0 or keep_orders < 0 or batch < 1:
            raise ValueError("keep_days and keep_orders must be 0 or more, and batch 1 or more")
        self.orders = orders
        self.forget = forget
        self.keep_days = keep_days
        self.keep_orders = keep_orders
        self.wall = wall
        self.clock_for: Callable[[str], float] = lambda msisdn: wall()
        self.batch = batch
        #: Orders forgotten so far.
        self.forgotten = 0
        self._next_pass = 0.0

    @property
    def on(self) -> bool:
        """Whether any order is ever forgotten."""
        return bool(self.keep_days or self.keep_orders)

    @property
    def interval(self) -> float:
        """Seconds between two passes."""
        if self.keep_days:
            return min(PASS_SECONDS, self.keep_days * 86400)
        return PASS_SECONDS

    def tick(self) -> int:
        """Run a pass when one is due.

        :returns: how many orders it forgot.
        """
        if not self.on:
            return 0
        now = self.wall()
        if now < self._next_pass:
            return 0
        # Set first: a pass that fails is not tried again before the next one is due.
        self._next_pass = now + self.interval
        ended_before = now - self.keep_days * 86400 if self.keep_days else None
        clock_for = self.clock_for
        chosen = due(
            self.orders, ended_before=ended_before, keep=self.keep_orders, limit=self.batch,
            ahead=lambda msisdn: clock_for(msisdn) - now,
        )  # fmt: skip
        if chosen:
            self.forget(chosen)
            self.forgotten += len(chosen)
        if len(chosen) >= self.batch:
            self._next_pass = now  # a full batch may have left more behind: on at the next tick
        return len(chosen)
