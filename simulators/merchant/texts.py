"""Every text a buyer sees, in English and Chinese, plus money and reference formatting.

Texts are looked up by key with :func:`say`. USSD screens are written to fit one screen in
the worst case the validators allow: 182 GSM characters, or 80 when the text needs UCS2
(Chinese, or a shop name outside GSM 03.38): 160 octets (GSM 04.80), see :func:`fits_screen`.
Money is shown as ``25.00 CNY`` in both languages so that a test can match it either way.
"""

from __future__ import annotations

import random
import re
from typing import Literal

from smsgw.text.gsm import gsm_septets

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

#: Digits after the decimal point for currencies that do not use two (ISO 4217).
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "UGX": 0, "RWF": 0, "BHD": 3, "KWD": 3, "OMR": 3}
#: The largest amount or balance, in minor units: its text stays short enough for one screen.
MAX_AMOUNT = 999_999_999
#: UCS2 USSD screens hold 160 octets, that is 80 characters.
MAX_UCS2_SCREEN = 80
MAX_GSM_SCREEN = 182

# Letters that cannot be misread as digits (no I, O), as on printed M-Pesa receipts.
_REF_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_REF_CHARS = _REF_LETTERS + "0123456789"

_TEXTS: dict[str, tuple[str, str]] = {
    # SMS (no screen limit: the edge may send them as several parts)
    "otp_sms": (
        "{shop}: your code is {code} to pay {money}. It expires in {validity}.",
        "{shop}：您的验证码是 {code}，用于支付 {money}，{validity}内有效。",
    ),
    "receipt_sms": (
        "Paid {money} to {shop}. Ref {ref}. Balance {balance}.",
        "已向 {shop} 支付 {money}。参考号 {ref}。余额 {balance}。",
    ),
    "insufficient_sms": (
        "Payment of {money} to {shop} failed: insufficient balance ({balance}).",
        "向 {shop} 支付 {money} 失败：余额不足（{balance}）。",
    ),
    "wrong_code_sms": (
        "Wrong code. Attempts left: {attempts}.",
        "验证码错误，还可尝试 {attempts} 次。",
    ),
    "code_expired_sms": (
        "Your code has expired. Please start the payment again.",
        "验证码已过期，请重新发起支付。",
    ),
    "code_reused_sms": ("This code was already used.", "该验证码已使用。"),
    "too_many_attempts_sms": (
        "Too many wrong codes. The payment of {money} to {shop} failed.",
        "验证码错误次数过多，向 {shop} 支付 {money} 失败。",
    ),
    "no_order_sms": ("You have no payment waiting for a code.", "您没有待验证的付款。"),
    "help_sms": (
        "{shop} payments: reply with the code from our SMS to pay. STOP cancels your pending payments.",
        "{shop} 支付：回复短信中的验证码即可付款。回复 TD 取消待付款项。",
    ),
    "stop_sms": (
        "Your pending payments to {shop} are cancelled. You have not been charged.",
        "您向 {shop} 的待付款项已取消，未扣款。",
    ),
    "unknown_sms": (
        "Sorry, we did not understand. Reply with your code, HELP or STOP.",
        "抱歉，无法识别。请回复验证码，或回复“帮助”或 TD。",
    ),
    # USSD push screens (<= 80 characters with a 20-character shop name and the largest amount)
    "push_prompt": (
        "Pay {money} to {shop}?\n1 Confirm\n2 Cancel",
        "向 {shop} 支付 {money}？\n1 确认\n2 取消",
    ),
    "answer_1_or_2": ("Answer 1 or 2.\n", "请回复 1 或 2。\n"),
    "push_pin": ("Enter PIN to pay {money} to {shop}:", "请输入密码，向 {shop} 支付 {money}："),
    "wrong_pin_retry": (
        "Wrong PIN. Tries left: {tries}.\nEnter PIN:",
        "密码错误，还可尝试 {tries} 次。\n请输入密码：",
    ),
    "wrong_pin_locked": ("Wrong PIN. Your wallet is locked.", "密码错误，钱包已锁定。"),
    "wallet_locked": ("Your wallet is locked.", "您的钱包已锁定。"),
    "paid_screen": ("Paid {money} to {shop}. Ref {ref}", "已向 {shop} 支付 {money}。参考号 {ref}"),
    "insufficient_screen": (
        "Insufficient balance ({balance}). Payment failed.",
        "余额不足（{balance}），支付失败。",
    ),
    "payment_cancelled": ("Payment cancelled.", "支付已取消。"),
    "payment_timed_out": ("Payment timed out.", "支付超时。"),
    "no_push": ("No payment is waiting.", "没有待确认的付款。"),
    # The *126# wallet menu
    "menu_main": ("1 Pay merchant\n2 My balance\n3 Last payments", "1 向商户付款\n2 我的余额\n3 最近付款"),
    "invalid_choice": ("Invalid choice.\n", "选项无效。\n"),
    "menu_till": ("Enter merchant number:\n0 Back", "请输入商户号：\n0 返回"),
    "unknown_till": ("Unknown merchant number.\n", "商户号不存在。\n"),
    "menu_amount": ("Enter amount ({currency}):\n0 Back", "请输入金额（{currency}）：\n0 返回"),
    "invalid_amount": ("Invalid amount.\n", "金额无效。\n"),
    "menu_pin": ("Enter PIN:\n0 Back", "请输入密码：\n0 返回"),
    "menu_confirm": (
        "Pay {money} to {shop} ({till})?\n1 Yes\n2 No",
        "向 {shop}（{till}）支付 {money}？\n1 是\n2 否",
    ),
    "balance": ("Balance: {balance}", "余额：{balance}"),
    "last_payments": ("Last payments ({currency}):", "最近付款（{currency}）："),
    "no_payments": ("No payments yet.", "暂无付款记录。"),
    "goodbye": ("Goodbye.", "再见。"),
    "no_wallet": ("You have no wallet. Visit a shop to open one.", "您还没有钱包。"),
}


def say(language: Language, key: str, **values: object) -> str:
    """The text for ``key`` in ``language``, with ``values`` filled in.

    :raises KeyError: for an unknown key (a bug: every text lives in this module).
    """
    english, chinese = _TEXTS[key]
    return (chinese if language == "zh" else english).format(**values)


def exponent(currency: str) -> int:
    """How many minor-unit digits ``currency`` has (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency, 2)


def format_money(amount: int, currency: str) -> str:
    """Minor units as text: ``format_money(2500, "CNY") == "25.00 CNY"``.

    :param amount: minor units; negative amounts get a leading ``-``.
    """
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    if digits == 0:
        return f"{sign}{whole} {currency}"
    return f"{sign}{whole}.{minor:0{digits}d} {currency}"


def parse_amount(text: str, currency: str) -> int | None:
    """What a buyer typed as an amount, in minor units: ``"25"`` and ``"25.00"`` give 2500.

    :returns: the amount, or None when it is not a positive amount up to :data:`MAX_AMOUNT`
        with at most the currency's number of decimals.
    """
    digits = exponent(currency)
    fraction = rf"(?:\.(\d{{1,{digits}}}))?" if digits else ""
    match = re.fullmatch(rf"(\d{{1,12}}){fraction}", text.strip())
    if match is None:
        return None
    minor = (match.group(2) or "") if digits else ""
    amount = int(match.group(1)) * 10**digits + int(minor.ljust(digits, "0") or "0")
    return amount if 0 < amount <= MAX_AMOUNT else None


def validity(language: Language, seconds: float) -> str:
    """How long a code lives, in words: ``"5 minutes"``, ``"1 minute"``, ``"90 seconds"``, ``"5 分钟"``."""
    whole = int(seconds)
    if whole % 60 == 0 and whole >= 60:
        minutes = whole // 60
        if language == "zh":
            return f"{minutes} 分钟"
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    if language == "zh":
        return f"{whole} 秒"
    return f"{whole} second" if whole == 1 else f"{whole} seconds"


def make_reference(rng: random.Random) -> str:
    """A payment reference in the shape of an M-Pesa receipt number, e.g. ``QKH94M1Z11``.

    Ten characters, a letter first; drawn from ``rng`` so a seed reproduces it.
    """
    return rng.choice(_REF_LETTERS) + "".join(rng.choice(_REF_CHARS) for _ in range(9))


def fits_screen(text: str) -> bool:
    """Whether ``text`` fits one USSD screen: 182 GSM septets, or 80 characters in UCS2."""
    septets = gsm_septets(text)
    if septets is None:
        return len(text) <= MAX_UCS2_SCREEN
    return septets <= MAX_GSM_SCREEN
