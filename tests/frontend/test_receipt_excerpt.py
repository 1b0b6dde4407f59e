"""The receipt's ``text:`` excerpt: the message's first 20 characters, made safe for any
receipt parser, whichever way they are read (plain bytes, no I/O)."""

from __future__ import annotations

import re

import pytest

from smsgw.frontend.smpp.receipts import receipt_excerpt
from smsgw.text.coding import DefaultAlphabet, decode_text

#: What the excerpt keeps: the characters GSM 03.38 and ASCII give the same code.
UNSAFE = re.compile(r"[^ !\"#%&'()*+,\-./0-9:;<=>?A-Za-z]")

BODIES = [
    b"Your code is 482913. Do not share it.",  # the common case: safe and over 20 bytes
    b"short",
    b"",
    b"Pay 25.00 CNY? Reply YES",
    b"user@example $5 _x_",  # GSM reads 0x40 as inverted !, 0x24 as currency, 0x5F as section
    b"mail me at a@b.cn",  # one character unsafe among safe ones: each alone below
    b"cost $5",
    b"x_y",
    b"[x]",
    b"price \x1be 5",  # the euro sign, escaped in GSM
    b"ABC[]{}~|^\\`",
    "Café à 5€".encode("latin-1", "replace"),
    b"\x00\x01 control",
]


@pytest.mark.parametrize("data_coding", [0x00, 0x01, 0x03])
@pytest.mark.parametrize("alphabet", ["gsm", "latin-1"])
@pytest.mark.parametrize("body", BODIES)
def test_the_excerpt_is_the_decoded_text_made_safe(
    body: bytes, data_coding: int, alphabet: DefaultAlphabet
) -> None:
    expected = UNSAFE.sub("?", decode_text(body[:80], data_coding, default_alphabet=alphabet)[:20])
    assert receipt_excerpt(body, 0, data_coding, alphabet) == expected.encode("ascii")


def test_a_ucs2_text_is_decoded_before_it_is_made_safe() -> None:
    body = "Code 1234 支付".encode("utf-16-be")
    assert receipt_excerpt(body, 0, 0x08) == b"Code 1234 ??"


def test_the_udh_is_not_part_of_the_excerpt() -> None:
    udh = bytes((5, 0, 3, 0x2A, 2, 1))
    assert receipt_excerpt(udh + b"Your code is 4829", 0x40, 0) == b"Your code is 4829"
