"""The merchant's steps of a payment on the carrier's timeline (``smsgw serve`` gives it a sink,
:class:`smsgw.companion.TimelineSink`; standalone it has none and records nothing).

Each step names the order and the buyer's number, so ``GET /api/timeline?order=`` finds it:

- ``merchant.order``: the order was created, and each status it moved to, with the reason;
- ``merchant.sms``: a text it sent (the one-time code among them), with the message_id the
  carrier answered (or why it was not sent);
- ``merchant.webhook``: a webhook posted to the shop, and its HTTP answer (or that it gave up);
- ``merchant.wallet``: the buyer's wallet debited for the order.

Orders are found as :class:`~simulators.merchant.persist.MerchantRecords` finds what to save:
every path out of the core passes :meth:`MerchantTimeline.changed`, which looks at the orders
made since and those still open, and records what their history gained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from simulators.merchant.actions import SendSms
from simulators.merchant.orders import Order, OrderStatus
from simulators.merchant.service import Merchant
from smsgw.companion import TimelineSink


@attrs.frozen
class Posted:
    """How a webhook's posting ended: the last HTTP status it got (None: no answer at all)
    after ``attempts`` tries; ``delivered`` when that status was a 2xx."""

    code: int | None
    attempts: int
    delivered: bool


class MerchantTimeline:
    """Records the merchant's steps into the carrier's timeline.

    :param merchant: the core, whose books it reads (orders kept from an earlier run are
        taken as already recorded).
    :param sink: the carrier's timeline.
    """

    def __init__(self, merchant: Merchant, sink: TimelineSink) -> None:
        self.merchant = merchant
        self.sink = sink
        self._seen = merchant.orders.count
        # Orders not yet final, by id, with how much of their history is recorded.
        self._open = {order.id: len(order.history) for order in merchant.orders if not order.status.final}

    def changed(self) -> None:
        """Record what the orders' histories gained since the last call (the core just acted)."""
        orders = self.merchant.orders
        touched: list[Order] = []
        for order_id in list(self._open):
            order = orders.find(order_id)
            if order is None:  # retention forgot it: it had ended, with nothing left to record
                del self._open[order_id]
            else:
                touched.append(order)
        touched += orders.since(self._seen)
        self._seen = orders.count
        for order in touched:
            for change in order.history[self._open.get(order.id, 0) :]:
                self.sink(
                    "merchant.order",
                    order.msisdn,
                    {
                        "status": change.status.value,
                        "final": change.status.final,
                        "reason": change.reason,
                        "amount": order.amount,
                        "currency": order.currency,
                        "method": order.method,
                    },
                    order_id=order.id,
                )
                if change.status is OrderStatus.PAID:
                    self._debited(order)
            if order.status.final:
                self._open.pop(order.id, None)
            else:
                self._open[order.id] = len(order.history)

    def _debited(self, order: Order) -> None:
        wallet = self.merchant.wallets.find(order.msisdn)
        if wallet is None:
            return
        payment = next((p for p in reversed(wallet.payments) if p.order_id == order.id), None)
        if payment is None:
            return
        detail = {
            "change": -payment.amount,
            "balance": wallet.balance,
            "currency": payment.currency,
            "reference": payment.reference,
            "payee": payment.payee,
        }
        self.sink("merchant.wallet", order.msisdn, detail, order_id=order.id)

    def sms(
        self, action: SendSms, part: int, parts: int, system_id: str, message_id: str, error: str | None
    ) -> None:
        """A part of a text was answered by the carrier: ``message_id``, or ``error`` when refused
        (or never sent). Its text is recorded whole: a one-time code shows here, as in the
        buyer's inbox."""
        detail: dict[str, Any] = {"text": action.text, "part": part, "parts": parts, "sent": error is None}
        if error is not None:
            detail["error"] = error
        self.sink(
            "merchant.sms",
            action.msisdn,
            detail,
            order_id=action.order_id or "",
            message_id=message_id,
            system_id=system_id,
        )

    def webhook_posted(self, url: str, payload: Mapping[str, Any]) -> None:
        """A webhook goes to the shop."""
        self._webhook(url, payload, {"outcome": "posted"})

    def webhook_done(self, posted: Any, url: str, payload: Mapping[str, Any]) -> Any:
        """A webhook's posting ended (``posted`` a :class:`Posted`); returns it on."""
        if isinstance(posted, Posted):
            outcome = "answered" if posted.delivered else "given_up"
            ended = {"outcome": outcome, "code": posted.code, "attempts": posted.attempts}
            self._webhook(url, payload, ended)
        return posted

    def _webhook(self, url: str, payload: Mapping[str, Any], detail: dict[str, Any]) -> None:
        msisdn = payload.get("msisdn")
        order_id = payload.get("order_id")
        if not isinstance(msisdn, str):
            return
        detail = {"url": url, "status": payload.get("status"), "reason": payload.get("reason"), **detail}
        self.sink("merchant.webhook", msisdn, detail, order_id=order_id if isinstance(order_id, str) else "")
