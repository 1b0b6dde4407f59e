"""A message_id names one message in the HTTP API and the PDU log, though ids repeat.

Each account formats its ids from one network-wide row counter: a decimal account's row 10 and
a hex account's row 16 are both "10". The API then needs ``?account=`` and says so (409).
"""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import DEMO, Smsgw, wait_until

pytestmark = pytest.mark.e2e

TWO_ACCOUNTS = """
[network]
default_account = "shop"

[[accounts]]
system_id = "shop"
password = "shop"
short_codes = ["10010"]

[[accounts]]
system_id = "hexa"
password = "hexa"
short_codes = ["10020"]
message_id_format = "hex"
"""


@pytest.fixture
def smsgw(start_server: Any) -> Smsgw:
    return start_server(TWO_ACCOUNTS)


@pytest.fixture
def followed(smsgw: Smsgw) -> Iterator[None]:
    """Someone follows /api/events, as the console does: only then are PDUs kept."""
    netloc = urllib.parse.urlsplit(smsgw.ports["http_url"]).netloc
    host, port = netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/api/events")
    # The stream subscribes before it answers: once the headers are in, it is followed.
    assert connection.getresponse().status == 200
    yield
    connection.close()


def bound(connect: Any, smsgw: Smsgw, system_id: str) -> Any:
    esme = connect(smsgw)
    esme.bind("transceiver", system_id=system_id, password=system_id)
    return esme


def error_of(answer: tuple[int, Any]) -> tuple[int, str, str]:
    status, body = answer
    assert status >= 400, f"answered {status}, not an error: {body}"
    return status, body["error"]["code"], body["error"]["message"]


def test_two_accounts_same_message_id_are_told_apart_by_account(
    smsgw: Smsgw, followed: None, connect: Any
) -> None:
    """shop's "10" (row 10) and hexa's "10" (row 16): 409 without ?account=, each with it,
    and each one's PDUs alone."""
    shop, hexa = bound(connect, smsgw, "shop"), bound(connect, smsgw, "hexa")
    shop_ids = [shop.submit_ok(DEMO[0], f"shop {n}") for n in range(15)]
    for _ in range(10):  # rows 16..25 read "10".."19" in hex: one is a shop id
        hexa_id = hexa.submit_ok(DEMO[1], "from hexa")
        if hexa_id in shop_ids:
            break
    assert hexa_id in shop_ids, (hexa_id, shop_ids)
    same = hexa_id
    shop.wait_deliveries(15)  # the receipts, so each message has two PDUs
    hexa.wait_deliveries(1)

    status, code, message = error_of(smsgw.api("GET", f"/api/messages/{same}"))
    assert (status, code) == (409, "ambiguous_message")
    assert "'shop' MT" in message and "'hexa' MT" in message and "?account=" in message
    assert error_of(smsgw.api("GET", f"/api/messages/{same}/pdus"))[:2] == (409, "ambiguous_message")
    assert error_of(smsgw.api("GET", f"/api/messages/{same}?direction=MT"))[:2] == (409, "ambiguous_message")

    of_shop = smsgw.get(f"/api/messages/{same}?account=shop")
    of_hexa = smsgw.get(f"/api/messages/{same}?account=hexa")
    assert (of_shop["account"], of_shop["text"]) == ("shop", f"shop {shop_ids.index(same)}")
    assert (of_hexa["account"], of_hexa["text"]) == ("hexa", "from hexa")

    def pdus(account: str) -> list[dict[str, Any]]:
        return smsgw.get(f"/api/messages/{same}/pdus?account={account}")["pdus"]

    for account, text in (("shop", of_shop["text"]), ("hexa", "from hexa")):
        logged = wait_until(lambda a=account: len(pdus(a)) == 2 and pdus(a), what=f"{account}'s receipt PDU")
        assert [p["command"] for p in logged] == ["submit_sm", "deliver_sm"], (account, logged)
        assert text.encode() in bytes.fromhex(logged[0]["hex"])

    # Qualifiers that match nothing, or a wrong one, say so; an id that does not repeat needs none.
    assert error_of(smsgw.api("GET", f"/api/messages/{same}?account=nobody"))[:2] == (404, "unknown_message")
    assert error_of(smsgw.api("GET", f"/api/messages/{same}?direction=MO"))[:2] == (404, "unknown_message")
    assert error_of(smsgw.api("GET", f"/api/messages/{same}?direction=up"))[:2] == (400, "bad_query")
    assert smsgw.get(f"/api/messages/{shop_ids[0]}")["account"] == "shop"


def test_an_mo_to_a_hex_account_has_a_hex_id_and_never_repeats_its_mts(smsgw: Smsgw, connect: Any) -> None:
    """The MO's id is in its account's format; an MT of that account later never reads the same."""
    shop = bound(connect, smsgw, "shop")
    for n in range(10):  # past row 9, where hex and decimal read the same
        shop.submit_ok(DEMO[0], f"filler {n}")
    status, body = smsgw.api("POST", f"/api/handsets/{DEMO[2]}/sms", {"to": "10020", "text": "STOP"})
    assert status == 201
    (mo_id,) = body["message_ids"]
    newest = smsgw.get("/api/messages?account=hexa&direction=MO&limit=1")
    row = newest["next_before"]  # the row id of the last message listed: the MO's
    assert row >= 10 and mo_id == f"{row:X}", (mo_id, row)
    mo = smsgw.get(f"/api/messages/{mo_id}")
    assert (mo["direction"], mo["account"], mo["text"]) == ("MO", "hexa", "STOP")

    # Old ids of hexa's MOs were decimal: the MT whose hex id reads like the MO's row in decimal
    # would have repeated it. Now the MT is its own message.
    hexa = bound(connect, smsgw, "hexa")
    target = f"{row}"
    for _ in range(int(target, 16) - row + 1):
        mt_id = hexa.submit_ok(DEMO[1], "to the buyer")
        if mt_id == target:
            break
    assert mt_id == target, (mt_id, target)
    mt = smsgw.get(f"/api/messages/{mt_id}")
    assert (mt["direction"], mt["account"], mt["text"]) == ("MT", "hexa", "to the buyer")
