"""The mock merchant's HTTP API as a test holds it: open wallets, check out, confirm codes."""

from __future__ import annotations

import time
from typing import Any

from simulators.handset import Phone
from simulators.http import SmsgwError, call_api


class Shop:
    """A client of the mock merchant at ``base_url`` (``http://127.0.0.1:8776`` by default).

    Orders are the API's JSON (``id``, ``status``, ``reason``, ``amount`` in minor units, ...).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8776", *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Shop({self.base_url!r})"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return call_api(self.base_url, method, path, body=body, timeout=self.timeout)

    def open_wallet(
        self, buyer: Phone | str, balance: str | int = "100.00", *, pin: str = "1234", currency: str = "CNY"
    ) -> dict[str, Any]:
        """Open the buyer's wallet (``balance`` as ``"25.00"`` or minor units)."""
        msisdn = buyer.msisdn if isinstance(buyer, Phone) else buyer
        wallet: dict[str, Any] = self._call(
            "POST", "/wallets", {"msisdn": msisdn, "balance": balance, "pin": pin, "currency": currency}
        )
        return wallet

    def wallet(self, buyer: Phone | str) -> dict[str, Any]:
        msisdn = buyer.msisdn if isinstance(buyer, Phone) else buyer
        wallet: dict[str, Any] = self._call("GET", f"/wallets/{msisdn}")
        return wallet

    def checkout(
        self, buyer: Phone | str, amount: str | int, *, method: str = "otp", currency: str = "CNY"
    ) -> dict[str, Any]:
        """Start an order: ``otp`` sends the buyer a code by SMS, ``ussd_push`` a prompt."""
        msisdn = buyer.msisdn if isinstance(buyer, Phone) else buyer
        body = {"msisdn": msisdn, "amount": amount, "currency": currency, "method": method}
        order: dict[str, Any] = self._call("POST", "/orders", body)
        return order

    def confirm(self, order: dict[str, Any] | str, code: str) -> dict[str, Any]:
        """Type the code on the shop's page; the paid order.

        :raises SmsgwError: 422 with the refusal (``wrong_code``, ``code_expired``, ...).
        """
        confirmed: dict[str, Any] = self._call("POST", f"/orders/{_id(order)}/confirm", {"code": code})
        return confirmed

    def order(self, order: dict[str, Any] | str) -> dict[str, Any]:
        current: dict[str, Any] = self._call("GET", f"/orders/{_id(order)}")
        return current

    def wait_for_status(
        self, order: dict[str, Any] | str, status: str, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The order once it reaches ``status``.

        :raises AssertionError: it did not in time; the message says where it is instead.
        """
        deadline = time.monotonic() + timeout
        while (current := self.order(order))["status"] != status:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"order {current['id']} is {current['status']} (reason {current['reason']}), "
                    f"not {status}, after {timeout:g} s"
                )
            time.sleep(0.05)
        return current


def _id(order: dict[str, Any] | str) -> str:
    return order if isinstance(order, str) else str(order["id"])


__all__ = ["Shop", "SmsgwError"]
