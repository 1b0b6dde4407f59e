"""A team's own tests against smsgw, with only the fixtures of its pytest plugin.

pip install smsgw && pytest examples/pytest
"""

import re

import pytest

from simulators.http import SmsgwError


def test_buyer_pays_with_the_code_from_the_sms(phone, merchant):
    buyer = phone(wallet="100.00")
    order = merchant.checkout(buyer, "25.00", method="otp")
    code = re.search(r"code is (\d+)", buyer.wait_for_sms(r"code is \d+").text)[1]
    assert merchant.confirm(order, code)["status"] == "paid"
    buyer.wait_for_sms(r"Paid 25\.00 CNY")


def test_the_code_expires_after_five_minutes(carrier, phone, merchant):
    buyer = phone(wallet="100.00")
    order = merchant.checkout(buyer, "9.00")
    code = re.search(r"code is (\d+)", buyer.wait_for_sms(r"code is \d+").text)[1]
    carrier.advance_clock(301)
    with pytest.raises(SmsgwError, match="code_expired"):
        merchant.confirm(order, code)
    assert merchant.order(order)["status"] == "expired"


def test_the_esme_gets_its_receipt(esme, phone):
    buyer = phone()
    (message_id,) = esme.submit("12345", buyer.msisdn, "Your parcel ships today", receipt=True).message_ids
    assert buyer.wait_for_sms("parcel").text == "Your parcel ships today"
    assert esme.receipts(message_id, wait=10)[0].stat == "DELIVRD"


def test_a_phone_that_is_off_gets_its_sms_later(carrier, esme, phone):
    buyer = phone(state="off")
    esme.submit("12345", buyer.msisdn, "Held for you", receipt=False)
    buyer.expect_no_sms(within=1)
    buyer.switch_on()
    buyer.wait_for_sms("Held for you")
    assert [m["state"] for m in carrier.messages()] == ["DELIVRD"]
