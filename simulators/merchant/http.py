"""The merchant's HTTP edge: a JSON API for the shop (orders) and for tests (wallets).

Routes (all JSON; errors use smsgw's envelope ``{"error": {"code": ..., "message": ...}}``):

| route | what it does |
|---|---|
| ``POST /orders`` ``{msisdn, amount, currency, method, callback_url?}`` | 201 the order; ``amount`` is minor units (int) or text such as ``"25.00"`` |
| ``GET /orders?limit=&before=``, ``GET /orders/{id}`` | the orders, newest first, a page at a time (``next_before`` pages on) / one order (never its code) |
| ``POST /orders/{id}/confirm`` ``{code}`` | 200 the paid order, or 422 with the reason (``wrong_code`` with ``attempts_left``, ``code_expired``, ``code_reused``, ``too_many_attempts``, ...) |
| ``POST /orders/{id}/cancel`` | 200 the cancelled order |
| ``GET /wallets?limit=&after=``, ``POST /wallets`` ``{msisdn, pin, balance, currency, language}`` | the wallets in the order they were opened, a page at a time (``next_after``; no PINs) / open one (201) |
| ``GET /wallets/{msisdn}``, ``POST /wallets/{msisdn}/topup`` ``{amount}`` | one wallet / add to it |
| ``GET /health`` | ``{"status": "ok", "bound": ...}`` |
| ``GET /openapi.json`` | the OpenAPI 3.1 document of this API (``simulators/merchant/openapi.json``) |

An MSISDN (in a body or a path) may be written in any notation the carrier takes
(:func:`~smsgw.carrier.subscribers.normalize_msisdn`); the API shows E.164 digits. Times are
ISO 8601 in UTC, as the carrier's API writes them. docs/merchant.md is the user's reference.

Every request passes the carrier's guard (:mod:`smsgw.web.guard`). ``callback_url`` must be
http(s) to a host of ``MerchantConfig.callback_hosts`` (loopback unless configured).

The core is synchronous; every request reads the clock once and hands the actions the core
returned to ``perform`` (the SMPP edge), which saves what changed before it acts, so a change
is durable before it is answered. A wallet shows its newest :data:`PAYMENTS_SHOWN` payments.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server

from simulators.merchant.actions import Action
from simulators.merchant.config import InvalidOrder
from simulators.merchant.orders import Order, OrderNotFound, OrderStateError, OrderStatus, order_number
from simulators.merchant.service import Merchant
from simulators.merchant.texts import parse_amount
from simulators.merchant.wallets import NoWallet, Wallet, WalletExists
from smsgw.carrier.subscribers import normalize_msisdn
from smsgw.web.api import ApiError, int_query, json_body, query, route
from smsgw.web.guard import LOOPBACK_NAMES, GuardedSite
from smsgw.web.render import iso

log = Logger(namespace="merchant.http")

Handler = Callable[..., Any]

#: A page of orders or wallets: the default size and the largest.
PAGE, MAX_PAGE = 100, 1000
#: Payments a wallet shows (the newest; ``payments_total`` counts them all).
PAYMENTS_SHOWN = 100


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, parsed once (the same object every time: do not change it);
    tests/e2e/test_merchant_openapi.py checks every real answer against it."""
    text = (
        importlib.resources.files("simulators.merchant").joinpath("openapi.json").read_text(encoding="utf-8")
    )
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def order_json(order: Order) -> dict[str, Any]:
    """An order as the API shows it (the one-time code is never part of it)."""
    return {
        "id": order.id,
        "msisdn": order.msisdn,
        "amount": order.amount,
        "currency": order.currency,
        "method": order.method,
        "status": order.status.value,
        "reason": order.reason,
        "reference": order.reference,
        "callback_url": order.callback_url,
        "created_at": iso(order.created_at),
        "expires_at": iso(order.expires_at),
        "history": [{"status": h.status.value, "reason": h.reason, "at": iso(h.at)} for h in order.history],
    }


def wallet_json(wallet: Wallet) -> dict[str, Any]:
    """A wallet as the API shows it (no PIN)."""
    return {
        "msisdn": wallet.msisdn,
        "balance": wallet.balance,
        "currency": wallet.currency,
        "language": wallet.language,
        "locked": wallet.locked,
        "pin_tries_left": wallet.pin_tries_left,
        "payments_total": len(wallet.payments),
        "payments": [
            {
                "reference": p.reference,
                "amount": p.amount,
                "currency": p.currency,
                "payee": p.payee,
                "at": iso(p.at),
                "order_id": p.order_id,
            }
            for p in wallet.payments[-PAYMENTS_SHOWN:]
        ],
    }


def _amount(value: Any, currency: Any, field: str = "amount") -> int:
    """Minor units from an int, or from text such as ``"25.00"`` in ``currency``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and isinstance(currency, str):
        parsed = parse_amount(value, currency)
        if parsed is not None:
            return parsed
    raise ApiError(
        400,
        "bad_field",
        f"{field} must be minor units (an int) or a decimal text such as '25.00', not {value!r}",
    )


#: How the API names the notations it takes for a phone number.
NOTATIONS = "+8613800000001, 8613800000001 or 13800000001 (spaces and dashes allowed)"


def _require(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if name not in body:
            raise ApiError(400, "missing_field", f"field {name!r} is required")


class MerchantApi(resource.Resource):
    """The whole API as one leaf resource that routes by method and path.

    :param merchant: the core.
    :param perform: carries out the core's actions (``MerchantEsme.carry_out``).
    :param clock_for: ``now`` for the core, for a buyer's number (the clock of its handset's
        namespace, in ``smsgw serve``).
    :param bound: whether the SMPP bind is up, for ``/health``.
    """

    isLeaf = True

    def __init__(
        self,
        merchant: Merchant,
        perform: Callable[[Iterable[Action]], defer.Deferred[None]],
        clock_for: Callable[[str], float],
        bound: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__()
        self.merchant = merchant
        self.perform = perform
        self.clock_for = clock_for
        self.bound = bound
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"health"), self.health),
            ("GET", re.compile(r"openapi\.json"), self.openapi),
            ("GET", re.compile(r"orders"), self.list_orders),
            ("POST", re.compile(r"orders"), self.create_order),
            ("GET", re.compile(r"orders/([^/]+)"), self.get_order),
            ("POST", re.compile(r"orders/([^/]+)/confirm"), self.confirm),
            ("POST", re.compile(r"orders/([^/]+)/cancel"), self.cancel),
            ("GET", re.compile(r"wallets"), self.list_wallets),
            ("POST", re.compile(r"wallets"), self.create_wallet),
            ("GET", re.compile(r"wallets/([^/]+)"), self.get_wallet),
            ("POST", re.compile(r"wallets/([^/]+)/topup"), self.top_up),
        ]

    # -- plumbing --------------------------------------------------------------------

    def render(self, request: server.Request) -> Any:
        path = "/".join(seg.decode("utf-8", "replace") for seg in request.postpath or () if seg)
        method = request.method.decode("ascii", "replace")
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        try:
            handler, arguments = route(self.routes, method, path)
            result = handler(request, *arguments)
        except Exception as error:
            return self._answer(request, method, path, Failure(error))
        if not isinstance(result, defer.Deferred):
            return self._answer(request, method, path, result)

        gone: list[Failure] = []
        request.notifyFinish().addErrback(gone.append)

        def answer(result: Any) -> None:
            body = self._answer(request, method, path, result)
            if not gone:
                request.write(body)
                request.finish()

        # A change answers once it is saved (the save does not hold up the reactor).
        result.addBoth(answer)
        return server.NOT_DONE_YET

    @staticmethod
    def _answer(request: server.Request, method: str, path: str, result: Any) -> bytes:
        """The response body of a handler's result (``payload`` or ``(status, payload)``) or failure."""
        if isinstance(result, Failure):
            error = result.value
            if isinstance(error, ApiError):
                if error.allow:
                    request.setHeader(b"allow", ", ".join(error.allow).encode())
                status, payload = error.status, {"error": {"code": error.code, "message": error.message}}
            else:
                log.failure("{method} /{path} failed", result, method=method, path=path)
                status, payload = (
                    500,
                    {"error": {"code": "internal", "message": "internal error; see the log"}},
                )
        else:
            status, payload = result if isinstance(result, tuple) else (200, result)
        request.setResponseCode(status)
        return json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n"

    def _order(self, order_id: str) -> Order:
        try:
            return self.merchant.orders.get(order_id)
        except OrderNotFound:
            raise ApiError(404, "order_not_found", f"no order {order_id!r}") from None

    def _msisdn(self, given: Any) -> str | None:
        """``given`` in any notation the carrier takes, as E.164 digits; None if not a number."""
        if not isinstance(given, str):
            return None
        return normalize_msisdn(given, self.merchant.config.country_code)

    def _wallet(self, given: str) -> Wallet:
        msisdn = self._msisdn(given)
        if msisdn is None:
            raise ApiError(
                404, "wallet_not_found", f"{given!r} is not a phone number; write it as {NOTATIONS}"
            )
        wallet = self.merchant.wallets.find(msisdn)
        if wallet is None:
            raise ApiError(404, "wallet_not_found", f"no wallet for MSISDN {msisdn}")
        return wallet

    # -- routes ----------------------------------------------------------------------

    def health(self, request: server.Request) -> Any:
        return {"status": "ok", "bound": self.bound(), "orders": len(self.merchant.orders)}

    def openapi(self, request: server.Request) -> Any:
        return openapi_document()

    def list_orders(self, request: server.Request) -> Any:
        limit = int_query(request, "limit", PAGE, MAX_PAGE, minimum=1)
        before = query(request, "before")
        number = None
        if before is not None:
            number = order_number(before)
            if number is None:
                raise ApiError(
                    400, "bad_query", f"?before={before!r} is not an order id; pass a page's next_before"
                )
        limit = limit or PAGE
        # One more than asked tells whether an older order is kept (retention leaves gaps).
        page = self.merchant.orders.page(number, limit + 1)
        return {
            "orders": [order_json(order) for order in page[:limit]],
            "next_before": page[limit - 1].id if len(page) > limit else None,
        }

    def create_order(self, request: server.Request) -> Any:
        body = json_body(request, ("msisdn", "amount", "currency", "method", "callback_url"))
        _require(body, "msisdn", "amount", "currency", "method")
        amount = _amount(body["amount"], body["currency"])
        msisdn = self._msisdn(body["msisdn"])
        if msisdn is None:
            raise ApiError(
                400,
                "invalid_order",
                f"msisdn must be a phone number such as {NOTATIONS}, not {body['msisdn']!r}",
            )
        try:
            order, actions = self.merchant.create_order(
                msisdn,
                amount,
                body["currency"],
                body["method"],
                body.get("callback_url"),
                self.clock_for(msisdn),
            )
        except InvalidOrder as error:
            raise ApiError(400, "invalid_order", str(error)) from None
        return self.perform(actions).addCallback(lambda _: (201, order_json(order)))

    def get_order(self, request: server.Request, order_id: str) -> Any:
        return order_json(self._order(order_id))

    def confirm(self, request: server.Request, order_id: str) -> Any:
        body = json_body(request, ("code",))
        _require(body, "code")
        code = body["code"]
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str):
            raise ApiError(400, "bad_field", f"code must be text, not {code!r}")
        buyer = self._order(order_id).msisdn
        try:
            outcome = self.merchant.confirm_otp(order_id, code, self.clock_for(buyer))
        except OrderStateError as error:
            raise ApiError(409, "wrong_method", str(error)) from None
        return self.perform(outcome.actions).addCallback(lambda _: self._confirmed(order_id, outcome))

    def _confirmed(self, order_id: str, outcome: Any) -> Any:
        order = outcome.order or self._order(order_id)
        if order.status is OrderStatus.PAID and outcome.reason == order.reason:
            return order_json(order)
        detail: dict[str, Any] = {
            "code": outcome.reason,
            "message": _explain(outcome.reason, outcome.attempts_left),
        }
        if outcome.attempts_left is not None:
            detail["attempts_left"] = outcome.attempts_left
        detail["order"] = order_json(order)
        return 422, {"error": detail}

    def cancel(self, request: server.Request, order_id: str) -> Any:
        buyer = self._order(order_id).msisdn
        try:
            outcome = self.merchant.cancel_order(order_id, self.clock_for(buyer))
        except OrderStateError as error:
            raise ApiError(409, "order_closed", str(error)) from None
        return self.perform(outcome.actions).addCallback(lambda _: order_json(self._order(order_id)))

    def list_wallets(self, request: server.Request) -> Any:
        limit = int_query(request, "limit", PAGE, MAX_PAGE, minimum=1) or PAGE
        after = query(request, "after")
        if after is not None:
            after = self._msisdn(after) or after
        try:
            # One more than asked tells whether another page follows.
            page = self.merchant.wallets.page(after, limit + 1)
        except NoWallet:
            raise ApiError(
                400, "bad_query", f"?after={after!r} is not a wallet's MSISDN; pass a page's next_after"
            ) from None
        return {
            "wallets": [wallet_json(wallet) for wallet in page[:limit]],
            "next_after": page[limit - 1].msisdn if len(page) > limit else None,
        }

    def create_wallet(self, request: server.Request) -> Any:
        body = json_body(request, ("msisdn", "pin", "balance", "currency", "language"))
        _require(body, "msisdn", "pin")
        currency = body.get("currency", "CNY")
        balance = _amount(body.get("balance", 0), currency, "balance")
        msisdn = self._msisdn(body["msisdn"])
        if msisdn is None:
            raise ApiError(
                400, "bad_field", f"msisdn must be a phone number such as {NOTATIONS}, not {body['msisdn']!r}"
            )
        try:
            wallet = self.merchant.wallets.create(
                msisdn, body["pin"], balance, currency, body.get("language", "en")
            )
        except WalletExists as error:
            raise ApiError(409, "wallet_exists", str(error)) from None
        except ValueError as error:
            raise ApiError(400, "bad_field", str(error)) from None
        # The new wallet is saved before it is answered.
        return self.perform(()).addCallback(lambda _: (201, wallet_json(wallet)))

    def get_wallet(self, request: server.Request, msisdn: str) -> Any:
        return wallet_json(self._wallet(msisdn))

    def top_up(self, request: server.Request, msisdn: str) -> Any:
        body = json_body(request, ("amount",))
        _require(body, "amount")
        wallet = self._wallet(msisdn)
        try:
            self.merchant.wallets.top_up(wallet.msisdn, _amount(body["amount"], wallet.currency))
        except NoWallet:
            raise ApiError(404, "wallet_not_found", f"no wallet for MSISDN {wallet.msisdn}") from None
        except ValueError as error:
            raise ApiError(400, "bad_field", str(error)) from None
        # The new balance is saved before it is answered.
        return self.perform(()).addCallback(lambda _: wallet_json(wallet))


_EXPLAIN = {
    "wrong_code": "wrong code; {attempts_left} attempts left",
    "code_expired": "the code has expired; the order is expired",
    "code_reused": "this code was already used",
    "too_many_attempts": "too many wrong codes; the order failed",
    "order_closed": "the order no longer waits for a code",
    "insufficient_balance": "the buyer's balance is too low; the order failed",
}


def _explain(reason: str, attempts_left: int | None) -> str:
    return _EXPLAIN.get(reason, reason.replace("_", " ")).format(attempts_left=attempts_left)


def make_site(api: MerchantApi, *, host: str, token: str | None, max_open: int = 1000) -> server.Site:
    """A Site serving the API at the root, behind the carrier's guard: a web page cannot read
    or change wallets and orders (Host check on loopback, no cross-origin writes), and beyond
    loopback every request wants ``token``.

    :param host: the interface the API listens on (loopback or not decides the Host check).
    """
    site = GuardedSite(api, token=token, loopback=host in LOOPBACK_NAMES, max_open=max_open)
    site.displayTracebacks = False
    site.noisy = False
    return site
