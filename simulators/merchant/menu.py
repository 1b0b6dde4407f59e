"""The wallet menu a buyer reaches by dialling ``*126#``: pay the shop, see the balance or payments.

Theory of operation. A dialogue is a :class:`MenuSession` that consumes the buyer's answers
one at a time (:func:`advance`). Each answer moves it along this graph; ``0`` goes back one
step, and any other unexpected answer repeats the screen with a hint::

    MAIN --1--> TILL --shop's number--> AMOUNT --amount--> PIN --right PIN--> CONFIRM --1--> Pay
     |2 balance (end)   |0 MAIN            |0 TILL           |0 AMOUNT          |2 cancelled (end)
     |3 last payments (end)                                  |wrong PIN: retry, |0 AMOUNT
     |0 goodbye (end)                                        |  locked (end)

The PIN is checked before the confirmation screen, as M-Pesa's menu does. The money moves
only on the final ``1``: :func:`advance` then returns :class:`Pay` and the service makes the
order, debits the wallet and writes the end screen. Nothing here touches orders, so replaying
the same answers in a fresh session gives the same screens (PIN tries aside).
"""

from __future__ import annotations

import enum

import attrs

from simulators.merchant.texts import format_money, parse_amount, say
from simulators.merchant.wallets import Wallet, WalletLocked, Wallets, WrongPin

#: How many payments the ``Last payments`` screen lists, newest first.
LAST_PAYMENTS = 3
#: Payee names are cut to this length in the list, so three lines fit a UCS2 screen (80 characters).
_PAYEE_WIDTH = 8


class Step(enum.Enum):
    """The screen a menu dialogue shows."""

    MAIN = "main"
    TILL = "till"
    AMOUNT = "amount"
    PIN = "pin"
    CONFIRM = "confirm"


@attrs.define
class MenuSession:
    """One ``*126#`` dialogue.

    :ivar consumed: how many of the buyer's answers were already acted on, so a gateway
        that sends every answer so far (the ``CON``/``END`` style) acts on the new ones only.
    :ivar screen: the last screen shown, sent again if the same answers come again.
    """

    key: str
    msisdn: str
    last_at: float
    step: Step = Step.MAIN
    consumed: int = 0
    amount: int = 0
    screen: str = ""


@attrs.frozen
class Show:
    """Show a screen; ``end`` releases the dialogue."""

    text: str
    end: bool = False


@attrs.frozen
class Pay:
    """The buyer confirmed paying ``amount`` to the shop: the service carries it out and ends."""

    amount: int


def main_screen(wallet: Wallet) -> Show:
    """The first screen."""
    return Show(say(wallet.language, "menu_main"))


def advance(
    session: MenuSession, wallet: Wallet, wallets: Wallets, shop: str, till: str, answer: str
) -> Show | Pay:
    """Act on one answer of the buyer and say what to show next.

    :param shop: the shop's name (shown on the confirmation).
    :param till: the shop's merchant number, the only one this menu can pay.
    """
    lang = wallet.language
    text = answer.strip()
    step = session.step
    if step is Step.MAIN:
        if text == "1":
            return _go(session, Step.TILL, say(lang, "menu_till"))
        if text == "2":
            return Show(say(lang, "balance", balance=format_money(wallet.balance, wallet.currency)), end=True)
        if text == "3":
            return Show(_last_payments(wallet), end=True)
        if text == "0":
            return Show(say(lang, "goodbye"), end=True)
        return Show(say(lang, "invalid_choice") + say(lang, "menu_main"))
    if text == "0":
        return _back(session, wallet)
    if step is Step.TILL:
        if text == till:
            return _go(session, Step.AMOUNT, say(lang, "menu_amount", currency=wallet.currency))
        return Show(say(lang, "unknown_till") + say(lang, "menu_till"))
    if step is Step.AMOUNT:
        amount = parse_amount(text, wallet.currency)
        if amount is None:
            return Show(say(lang, "invalid_amount") + say(lang, "menu_amount", currency=wallet.currency))
        session.amount = amount
        return _go(session, Step.PIN, say(lang, "menu_pin"))
    if step is Step.PIN:
        try:
            wallets.check_pin(wallet.msisdn, text)
        except WalletLocked:
            return Show(say(lang, "wallet_locked"), end=True)
        except WrongPin as wrong:
            if wrong.locked:
                return Show(say(lang, "wrong_pin_locked"), end=True)
            return Show(say(lang, "wrong_pin_retry", tries=wrong.tries_left))
        return _go(session, Step.CONFIRM, _confirm(session, wallet, shop, till))
    # Step.CONFIRM
    if text == "1":
        return Pay(session.amount)
    if text == "2":
        return Show(say(lang, "payment_cancelled"), end=True)
    return Show(say(lang, "answer_1_or_2") + _confirm(session, wallet, shop, till))


def _go(session: MenuSession, step: Step, text: str) -> Show:
    session.step = step
    return Show(text)


def _back(session: MenuSession, wallet: Wallet) -> Show:
    lang = wallet.language
    if session.step is Step.TILL:
        return _go(session, Step.MAIN, say(lang, "menu_main"))
    if session.step is Step.AMOUNT:
        return _go(session, Step.TILL, say(lang, "menu_till"))
    # Back from the PIN or the confirmation both lead to the amount: going back past a
    # checked PIN means typing it again, so nobody confirms on someone else's PIN.
    return _go(session, Step.AMOUNT, say(lang, "menu_amount", currency=wallet.currency))


def _confirm(session: MenuSession, wallet: Wallet, shop: str, till: str) -> str:
    money = format_money(session.amount, wallet.currency)
    return say(wallet.language, "menu_confirm", money=money, shop=shop, till=till)


def _last_payments(wallet: Wallet) -> str:
    lang = wallet.language
    recent = wallet.payments[-LAST_PAYMENTS:][::-1]
    if not recent:
        return say(lang, "no_payments")
    # The currency is in the heading (a wallet holds one), which leaves room for the payee.
    lines = [f"{format_money(p.amount, p.currency).split()[0]} {p.payee[:_PAYEE_WIDTH]}" for p in recent]
    return "\n".join([say(lang, "last_payments", currency=wallet.currency), *lines])
