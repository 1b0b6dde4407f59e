"""Texts, money and references: formatting that every other merchant module relies on."""

from __future__ import annotations

import random
import string

import pytest

from simulators.merchant import texts
from simulators.merchant.texts import fits_screen, format_money, make_reference, parse_amount, say, validity


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (2500, "CNY", "25.00 CNY"),
        (7, "CNY", "0.07 CNY"),
        (0, "KES", "0.00 KES"),
        (-150, "CNY", "-1.50 CNY"),
        (500, "JPY", "500 JPY"),
        (1234, "BHD", "1.234 BHD"),
        (999_999_999, "CNY", "9999999.99 CNY"),
    ],
)
def test_format_money(amount: int, currency: str, shown: str) -> None:
    """Minor units are shown with the currency's number of decimals and its code."""
    assert format_money(amount, currency) == shown


@pytest.mark.parametrize(
    ("typed", "currency", "amount"),
    [
        ("25", "CNY", 2500),
        ("25.5", "CNY", 2550),
        (" 25.50 ", "CNY", 2550),
        ("0.01", "CNY", 1),
        ("500", "JPY", 500),
        ("9999999.99", "CNY", 999_999_999),
        ("25.555", "CNY", None),
        ("0", "CNY", None),
        ("0.00", "CNY", None),
        ("-5", "CNY", None),
        ("25,00", "CNY", None),
        ("abc", "CNY", None),
        ("", "CNY", None),
        ("5.5", "JPY", None),
        ("10000000", "CNY", None),
    ],
)
def test_parse_amount(typed: str, currency: str, amount: int | None) -> None:
    """What a buyer types becomes minor units; zero, too many decimals, junk and huge amounts give None."""
    assert parse_amount(typed, currency) == amount


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (300, "5 minutes", "5 分钟"),
        (60, "1 minute", "1 分钟"),
        (90, "90 seconds", "90 秒"),
        (1, "1 second", "1 秒"),
    ],
)
def test_validity(seconds: float, english: str, chinese: str) -> None:
    """A code's lifetime reads as minutes when whole, else seconds, in both languages."""
    assert (validity("en", seconds), validity("zh", seconds)) == (english, chinese)


def test_references_are_reproducible_and_shaped_like_receipt_numbers() -> None:
    """The same seed gives the same references: ten upper-case letters and digits, a letter first, no I or O."""
    assert make_reference(random.Random(3)) == make_reference(random.Random(3))
    rng = random.Random(3)
    refs = [make_reference(rng) for _ in range(200)]
    allowed = set(string.ascii_uppercase + string.digits) - {"I", "O"}
    assert all(len(r) == 10 and r[0].isalpha() and set(r) <= allowed for r in refs)
    assert len(set(refs)) == 200


def test_every_text_exists_in_both_languages_with_the_same_fields() -> None:
    """English and Chinese versions of each text take the same placeholders, so any call works in both."""
    fields = string.Formatter()
    for key, (english, chinese) in texts._TEXTS.items():
        names_en = {name for _, name, _, _ in fields.parse(english) if name}
        names_zh = {name for _, name, _, _ in fields.parse(chinese) if name}
        assert names_en == names_zh, key
        assert english != chinese, key


def test_say_picks_the_language() -> None:
    """say() fills the text of the requested language."""
    assert say("en", "balance", balance="1.00 CNY") == "Balance: 1.00 CNY"
    assert say("zh", "balance", balance="1.00 CNY") == "余额：1.00 CNY"


def test_fits_screen_counts_gsm_septets_and_ucs2_characters() -> None:
    """A GSM screen holds 182 septets (extension characters count two); a UCS2 screen holds 80 characters."""
    assert fits_screen("a" * 182) and not fits_screen("a" * 183)
    assert fits_screen("€" * 91) and not fits_screen("€" * 92)
    assert fits_screen("付" * 80) and not fits_screen("付" * 81)
