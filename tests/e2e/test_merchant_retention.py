"""The mock merchant's final orders follow the store's retention (issue 20), on real processes.

``[store] keep_days`` may be a fraction of a day: 0.00001 days is 0.864 s, so an order that
ended goes from ``GET /orders`` within a couple of the merchant's ticks, while an order still
waiting for its code stays, and numbering goes on after the highest id handed out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Smsgw, wait_until
from tests.e2e.test_merchant import MerchantProcess, _call
from tests.e2e.test_merchant_crash import ServeWithMerchant

pytestmark = pytest.mark.e2e

KEEP_DAYS = 0.00001  # 0.864 s
BUYER = "8613800000004"  # a demo wallet: its otp order waits for its code (300 s)
NO_WALLET = "8613900000404"  # no wallet: its order fails at once, final


def _order(url: str, msisdn: str) -> dict[str, Any]:
    status, order = _call(
        url + "/orders", "POST", {"msisdn": msisdn, "amount": 100, "currency": "CNY", "method": "otp"}
    )
    assert status == 201, order
    return dict(order)


def _listed(url: str) -> list[str]:
    status, page = _call(url + "/orders?limit=1000", "GET")
    assert status == 200, page
    return [order["id"] for order in page["orders"]]


def _final_order_goes_and_the_waiting_one_stays(url: str) -> tuple[str, str]:
    failed = _order(url, NO_WALLET)
    waiting = _order(url, BUYER)
    newest = _order(url, NO_WALLET)  # the newest order stays, final or not
    assert (failed["status"], waiting["status"]) == ("failed", "awaiting_confirmation")
    wait_until(lambda: failed["id"] not in _listed(url), 10, f"retention to forget {failed['id']}")
    assert _listed(url)[:2] == [newest["id"], waiting["id"]]
    status, error = _call(url + f"/orders/{failed['id']}", "GET")
    assert (status, error["error"]["code"]) == (404, "order_not_found")
    return waiting["id"], newest["id"]


def _number(order_id: str) -> int:
    return int(order_id[4:])


def test_smsgw_serve_forgets_the_merchants_final_orders_past_keep_days(tmp_path: Path) -> None:
    """With ``[store] keep_days``, a failed order leaves GET /orders; the waiting one stays."""
    carrier = ServeWithMerchant(tmp_path / "serve", config=f"[store]\nkeep_days = {KEEP_DAYS}\n").start()
    try:
        url = carrier.merchant_url
        wait_until(lambda: _call(url + "/health", "GET")[1]["bound"], 10, "the merchant's bind")
        _, newest = _final_order_goes_and_the_waiting_one_stays(url)
        assert _number(_order(url, BUYER)["id"]) == _number(newest) + 1
    finally:
        carrier.stop()


def test_smsgw_merchant_alone_takes_keep_days_and_numbers_on_after_a_restart(
    start_server: Any, tmp_path: Path
) -> None:
    """``smsgw merchant --keep-days`` forgets as the built-in one does; restarted on its store
    file, it numbers on from its newest order, not from an order it forgot."""
    carrier: Smsgw = start_server()
    workdir = tmp_path / "merchant"
    workdir.mkdir()
    merchant = MerchantProcess(workdir, carrier, "--keep-days", str(KEEP_DAYS))
    try:
        waiting, newest = _final_order_goes_and_the_waiting_one_stays(merchant.url)
        merchant.stop()
        merchant.ports_file.unlink()
        merchant = MerchantProcess(workdir, carrier, "--keep-days", str(KEEP_DAYS))
        assert waiting in _listed(merchant.url)
        assert _number(_order(merchant.url, BUYER)["id"]) == _number(newest) + 1
    finally:
        merchant.stop()
