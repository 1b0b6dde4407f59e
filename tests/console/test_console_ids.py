"""The console's message detail when two accounts have the same message_id (a decimal
account's row 10 and a hex account's row 16 are both "10"): each row opens its own message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess
from smsgw.client import SmppClient
from tests.console.conftest import Console
from tests.e2e.conftest import HEX_ACCOUNT_TOML

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.e2e

READER = "8613800000001"


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    process = CarrierProcess(Path(tmp_path_factory.mktemp("console-ids")), config=HEX_ACCOUNT_TOML)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def test_the_same_message_id_of_two_accounts_opens_each_ones_message(
    console: Console, carrier: dict[str, Any]
) -> None:
    page = console.open("traffic")
    decimal = SmppClient(carrier["smpp_host"], carrier["smpp"])
    hexa = SmppClient(carrier["smpp_host"], carrier["smpp"])
    try:
        decimal.bind("smsgw", "smsgw", receive=True)
        hexa.bind("hexa", "hexa", receive=True)
        ids = [decimal.submit("12345", READER, f"decimal {n}", receipt=True)[0] for n in range(15)]
        for _ in range(10):  # hex rows 16..25 read "10".."19": one is a decimal id
            (same,) = hexa.submit("10020", READER, "from hexa", receipt=True)
            if same in ids:
                break
        assert same in ids, (same, ids)
        decimal.wait_receipts(ids, timeout=10)
        hexa.wait_receipts([same], timeout=10)
    finally:
        decimal.close()
        hexa.close()
    detail = page.locator("#message-detail")
    for account, text in (("hexa", "from hexa"), ("smsgw", f"decimal {ids.index(same)}")):
        row = page.locator(f"#traffic-table tbody tr[data-kind=MT][data-id='{same}']", has_text=text)
        expect(row).to_contain_text("DELIVRD")
        row.click()
        expect(detail.locator("dd").first).to_have_text(account)
        expect(detail).to_contain_text(text)
        expect(row).to_have_class("selected")
        expect(detail.locator("[data-testid=pdu-hex]")).to_have_count(2)  # its submit_sm and receipt
