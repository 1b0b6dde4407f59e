"""The merchant's records in a store: saved before the merchant acts, put back at start.

What is kept, each as a JSON document of the store (``kind`` / key):

- ``merchant.wallet`` / MSISDN: balance, PIN, currency, language, PIN tries left;
- ``merchant.payment`` / reference: one debit of a wallet's ledger, written once;
- ``merchant.order`` / order id: the order, its status history and its one-time code record
  (the code itself, so a waiting order still takes the code the buyer holds after a restart);
  the next order number follows the last order kept, or ``merchant.state`` / ``orders`` when
  that is higher;
- ``merchant.webhook`` / ``<order id>/<status>``: a webhook not yet delivered (or given up);
  put back, it is posted again, so a shop may get a webhook twice, never zero times;
- ``merchant.state`` / ``rng``: the random generator's state, so codes and references carry on
  from where they were instead of repeating a seeded run's first ones;
- ``merchant.state`` / ``orders``: the order counter (the highest order number ever handed
  out), written when retention forgets orders (:meth:`MerchantRecords.forget`), before their
  documents are deleted, so their ids are not handed out again after a restart.

:meth:`MerchantRecords.save` runs on every path out of the core (the edges call it with the
core's actions, before they carry them out) and commits: what the merchant answers, acknowledges
or sends is durable first. It writes only what changed: new orders and those not yet final
(a final order never changes), the wallets the book says changed, new payments, new webhooks.

Not kept: USSD dialogues in flight (push prompts and ``*126#`` menus) and parts of a long MO
text. A dialogue does not survive a restart at the carrier either; a push order that was
waiting on one fails at start-up (``merchant_restarted``, see :meth:`Merchant.restored`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from twisted.internet import defer

from simulators.merchant.actions import Action, Webhook
from simulators.merchant.orders import Order, OrderStatus, StatusChange, order_number
from simulators.merchant.service import Merchant
from simulators.merchant.wallets import Payment, Wallet

ORDER = "merchant.order"
WALLET = "merchant.wallet"
PAYMENT = "merchant.payment"
WEBHOOK = "merchant.webhook"
STATE = "merchant.state"
#: The key of the order counter among the ``merchant.state`` documents.
ORDER_COUNTER = "orders"


class DocumentStore(Protocol):
    """What the merchant needs of a store (:class:`smsgw.store.sqlite.SqliteStore` has it)."""

    def put_document(self, kind: str, key: str, value: Any) -> None: ...

    def delete_document(self, kind: str, key: str) -> None: ...

    def documents(self, kind: str) -> list[tuple[str, Any]]: ...

    def commit(self) -> None: ...

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None: ...


class RecordsError(Exception):
    """A kept record cannot be read back; the message names it and says what is wrong."""


def webhook_key(payload: Mapping[str, Any]) -> str:
    """An order moves to each status at most once, so its id and new status name the webhook."""
    return f"{payload.get('order_id')}/{payload.get('status')}"


def order_document(order: Order, code: dict[str, Any] | None) -> dict[str, Any]:
    """An order and its code record as plain values."""
    return {
        "id": order.id,
        "msisdn": order.msisdn,
        "amount": order.amount,
        "currency": order.currency,
        "method": order.method,
        "shop": order.shop,
        "created_at": order.created_at,
        "callback_url": order.callback_url,
        "status": order.status.value,
        "reason": order.reason,
        "history": [[change.status.value, change.at, change.reason] for change in order.history],
        "reference": order.reference,
        "expires_at": order.expires_at,
        "code": code,
    }


def order_from(document: dict[str, Any]) -> Order:
    """The order of :func:`order_document` (KeyError, ValueError or TypeError when malformed)."""
    return Order(
        document["id"],
        document["msisdn"],
        document["amount"],
        document["currency"],
        document["method"],
        document["shop"],
        document["created_at"],
        document["callback_url"],
        OrderStatus(document["status"]),
        document["reason"],
        [StatusChange(OrderStatus(status), at, reason) for status, at, reason in document["history"]],
        document["reference"],
        document["expires_at"],
    )


def wallet_document(wallet: Wallet) -> dict[str, Any]:
    """A wallet without its ledger (payments are documents of their own, written once)."""
    return {
        "msisdn": wallet.msisdn,
        "pin": wallet.pin,
        "balance": wallet.balance,
        "currency": wallet.currency,
        "language": wallet.language,
        "pin_tries_left": wallet.pin_tries_left,
    }


def payment_document(msisdn: str, payment: Payment) -> dict[str, Any]:
    """One debit of the wallet of ``msisdn``."""
    return {
        "msisdn": msisdn,
        "reference": payment.reference,
        "amount": payment.amount,
        "currency": payment.currency,
        "payee": payment.payee,
        "at": payment.at,
        "order_id": payment.order_id,
    }


class MerchantRecords:
    """Saves a :class:`Merchant`'s changes into a store and puts them back.

    :param merchant: the core whose books are saved (it is never told about the store).
    :param store: where the documents go; :meth:`save` commits it.
    """

    def __init__(self, merchant: Merchant, store: DocumentStore) -> None:
        self.merchant = merchant
        self.store = store
        # Orders not yet final, by id, with the text last saved: the only orders that can change.
        self._open: dict[str, str] = {}
        self._saved_orders = 0
        self._saved_payments: dict[str, int] = {}
        self._rng_state: object = None

    # -- start-up --------------------------------------------------------------------

    def restore(self) -> list[tuple[str, dict[str, Any]]]:
        """Load what the store keeps into the merchant's books.

        Call :meth:`Merchant.restored` next, and carry out its actions.

        :returns: the webhooks still owed, as ``(url, payload)``: post them again.
        :raises RecordsError: a record cannot be read.
        """
        merchant = self.merchant
        for key, document in self.store.documents(WALLET):
            wallet = self._read(WALLET, key, document, _wallet_from)
            merchant.wallets.load(wallet)
            self._saved_payments[wallet.msisdn] = 0
        for key, document in self.store.documents(PAYMENT):
            msisdn, payment = self._read(PAYMENT, key, document, _payment_from)
            owner = merchant.wallets.find(msisdn)
            if owner is None:
                raise RecordsError(f"the merchant's payment {key} belongs to {msisdn}, which has no wallet")
            owner.payments.append(payment)
            self._saved_payments[msisdn] += 1
        kept = [(key, document) for key, document in self.store.documents(ORDER)]
        kept.sort(key=lambda item: order_number(item[0]) or 0)
        for key, document in kept:
            order = self._read(ORDER, key, document, order_from)
            try:
                merchant.orders.load(order)
                if document.get("code") is not None:
                    merchant.codes.load(order.id, document["code"])
            except ValueError as error:
                raise RecordsError(
                    f"the merchant's order {key} in the store cannot be used: {error}"
                ) from None
            if not order.status.final:
                self._open[order.id] = _text(document)
        for key, document in self.store.documents(STATE):
            if key == "rng":
                version, internal, gauss = document
                merchant.rng.setstate((version, tuple(internal), gauss))
            elif key == ORDER_COUNTER:
                if isinstance(document, bool) or not isinstance(document, int) or document < 0:
                    raise RecordsError(
                        f"the merchant's {STATE} {key} in the store cannot be read: "
                        f"{document!r} is not an order number"
                    )
                # Orders retention forgot: their ids are not handed out again.
                merchant.orders.continue_after(document)
        self._saved_orders = merchant.orders.count
        self._rng_state = merchant.rng.getstate()
        return [(document["url"], document["payload"]) for _, document in self.store.documents(WEBHOOK)]

    @staticmethod
    def _read(kind: str, key: str, document: Any, build: Any) -> Any:
        try:
            return build(document)
        except (KeyError, ValueError, TypeError) as error:
            raise RecordsError(
                f"the merchant's {kind} {key} in the store cannot be read: {error!r}"
            ) from None

    # -- changes -----------------------------------------------------------------------

    def save(self, actions: Iterable[Action] = ()) -> defer.Deferred[None]:
        """Write what changed since the last save, and the webhooks among ``actions``, and
        commit without waiting (a database server's round trip must not hold up the reactor);
        fires once that is durable. Saves land in the order they were made."""
        store = self.store
        merchant = self.merchant
        for wallet in merchant.wallets.take_changed():
            store.put_document(WALLET, wallet.msisdn, wallet_document(wallet))
            saved = self._saved_payments.get(wallet.msisdn, 0)
            for payment in wallet.payments[saved:]:
                store.put_document(PAYMENT, payment.reference, payment_document(wallet.msisdn, payment))
            self._saved_payments[wallet.msisdn] = len(wallet.payments)
        changed = [merchant.orders.get(order_id) for order_id in self._open]
        changed += merchant.orders.since(self._saved_orders)
        self._saved_orders = merchant.orders.count
        for order in changed:
            document = order_document(order, merchant.codes.export(order.id))
            text = _text(document)
            if self._open.get(order.id) != text:
                store.put_document(ORDER, order.id, document)
            if order.status.final:
                self._open.pop(order.id, None)
            else:
                self._open[order.id] = text
        state = merchant.rng.getstate()
        if state != self._rng_state:
            version, internal, gauss = state
            store.put_document(STATE, "rng", [version, list(internal), gauss])
            self._rng_state = state
        for action in actions:
            if isinstance(action, Webhook):
                payload = dict(action.payload)
                store.put_document(WEBHOOK, webhook_key(payload), {"url": action.url, "payload": payload})
        durable: defer.Deferred[None] = defer.Deferred()

        def done(error: BaseException | None) -> None:
            if error is None:
                durable.callback(None)
            else:
                durable.errback(error)

        store.commit_then(done)
        return durable

    def forget(self, order_ids: list[str]) -> list[Order]:
        """Drop final orders, as retention asks (:meth:`Merchant.forget`), and their documents
        and their payments' with the next commit (the merchant's tick commits right after).

        The order counter is written first, in the same commit, so a restart numbers on from
        the highest id ever handed out, however many of the newest orders were forgotten.

        :returns: the orders dropped.
        :raises OrderNotFound: one is not in the books; nothing is dropped.
        :raises OrderStateError: one is not final yet; nothing is dropped.
        """
        merchant = self.merchant
        ids = set(order_ids)
        # Their payments, and how many of each ledger's saved ones they are: the ledger is
        # saved by position (the first ``_saved_payments[msisdn]`` are in the store).
        payments: list[str] = []
        saved_gone: dict[str, int] = {}
        for msisdn in {merchant.orders.get(order_id).msisdn for order_id in ids}:
            wallet = merchant.wallets.find(msisdn)
            if wallet is None:
                continue
            saved = self._saved_payments.get(msisdn, 0)
            for index, payment in enumerate(wallet.payments):
                if payment.order_id in ids:
                    payments.append(payment.reference)
                    saved_gone[msisdn] = saved_gone.get(msisdn, 0) + (index < saved)
        dropped = merchant.forget(order_ids)
        for msisdn, gone in saved_gone.items():
            self._saved_payments[msisdn] = self._saved_payments.get(msisdn, 0) - gone
        store = self.store
        store.put_document(STATE, ORDER_COUNTER, merchant.orders.count)
        for order in dropped:
            self._open.pop(order.id, None)
            store.delete_document(ORDER, order.id)
        for reference in payments:
            store.delete_document(PAYMENT, reference)
        return dropped

    def delivered(self, payload: Mapping[str, Any]) -> None:
        """A webhook was delivered or given up: forget it (with the next commit)."""
        self.store.delete_document(WEBHOOK, webhook_key(payload))

    def durable(self, poster: Any) -> Any:
        """``poster`` that forgets each webhook once posted (the edge saved it before posting);
        its Deferred fires with what ``poster``'s did (how the posting ended)."""

        def forget(result: Any, payload: Mapping[str, Any]) -> Any:
            self.delivered(payload)
            return result

        def post(url: str, payload: Mapping[str, Any]) -> defer.Deferred[Any]:
            return poster(url, payload).addBoth(forget, payload)

        return post


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def _wallet_from(document: dict[str, Any]) -> Wallet:
    return Wallet(
        document["msisdn"],
        document["pin"],
        document["balance"],
        document["currency"],
        document["language"],
        document["pin_tries_left"],
    )


def _payment_from(document: dict[str, Any]) -> tuple[str, Payment]:
    payment = Payment(
        document["reference"],
        document["amount"],
        document["currency"],
        document["payee"],
        document["at"],
        document["order_id"],
    )
    return document["msisdn"], payment
