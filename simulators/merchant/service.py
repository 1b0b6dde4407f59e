"""The mock merchant: one shop that takes payments by SMS code, USSD push and the ``*126#`` menu.

:class:`Merchant` is the only entry point the edges need. Every input is a method call that
carries ``now``; every method returns what happened and the actions to carry out, in order
(:mod:`simulators.merchant.actions`). Nothing here sleeps, reads a clock, or does I/O, so a
test drives a whole payment with plain calls and a seeded :class:`random.Random`.

Order of actions: the buyer-facing USSD screen first (the gateway is waiting for it), then
SMS, then webhooks.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable
from typing import Literal

import attrs

from simulators.merchant import orders as r
from simulators.merchant.actions import Action, EndUssd, PushUssd, SendSms, ShowUssd
from simulators.merchant.config import MerchantConfig, check_request
from simulators.merchant.menu import MenuSession, Pay, Show, advance, main_screen
from simulators.merchant.orders import Order, Orders, OrderStateError, OrderStatus, Outcome
from simulators.merchant.otp import CodeExpired, CodeReused, NoCode, OtpBook, TooManyAttempts, WrongCode
from simulators.merchant.texts import Language, format_money, make_reference, say, validity
from simulators.merchant.wallets import InsufficientFunds, Wallet, WalletLocked, Wallets, WrongPin

#: Reasons :meth:`Merchant.ussd_push_failed` accepts (M-Pesa STK push ResultCodes 1001, 1037, 1032).
PUSH_FAILURES = frozenset({r.HANDSET_BUSY, r.HANDSET_UNREACHABLE, r.NO_ANSWER, r.CANCELLED_BY_USER})

_HELP = frozenset({"HELP", "帮助"})
# "TD" (退订) is how Chinese carriers spell STOP.
_STOP = frozenset({"STOP", "TD", "退订"})
# A bare code, or a code after a confirmation word ("YES 123456", as the README shows).
_CODE = re.compile(r"(?:YES|Y|OK|PAY|是|确认)?\s*(\d{4,10})")


@attrs.define
class _Push:
    order_id: str
    deadline: float
    session_key: str
    step: Literal["confirm", "pin"] = "confirm"


@attrs.define
class _Menu:
    session: MenuSession
    answers: list[str]
    ended: bool = False


class Merchant:
    """The shop and its payment provider.

    :param wallets: the buyers' wallets (shared with whatever tops them up).
    :param rng: the only randomness (codes, references); seed it for reproducible runs.
    """

    def __init__(
        self, wallets: Wallets, rng: random.Random, config: MerchantConfig = MerchantConfig()
    ) -> None:
        self.wallets = wallets
        self.rng = rng
        self.config = config
        self.orders = Orders()
        self.codes = OtpBook(rng, config.otp)
        self._pushes: dict[str, _Push] = {}
        self._menus: dict[str, _Menu] = {}
        self._references: set[str] = set()

    # -- the shop's side (HTTP API) ---------------------------------------------------

    def create_order(
        self, msisdn: str, amount: int, currency: str, method: str, callback_url: str | None, now: float
    ) -> tuple[Order, list[Action]]:
        """Create an order and ask the buyer to confirm it.

        ``otp`` texts a code and waits for it; ``ussd_push`` pushes a confirm prompt. A buyer
        without a wallet (``no_wallet``), with a wallet in another currency
        (``currency_mismatch``), with a locked wallet (``wallet_locked``, push only) or already
        in a push (``handset_busy``) gives an order that is ``failed`` at once: the shop sees
        the same order lifecycle and webhook whatever went wrong on the buyer's side.

        :param callback_url: the webhook URL, or None for the configured default.
        :raises InvalidOrder: the request itself is malformed; no order is made.
        """
        typed = check_request(msisdn, amount, currency, method, callback_url, self.config.callback_hosts)
        shop = self.config.shop_name
        url = callback_url or self.config.callback_url
        order = self.orders.new(msisdn, amount, currency, typed, shop, now, url)
        wallet = self.wallets.find(msisdn)
        if wallet is None:
            return order, self._move(order, OrderStatus.FAILED, r.NO_WALLET, now)
        if wallet.currency != currency:
            return order, self._move(order, OrderStatus.FAILED, r.CURRENCY_MISMATCH, now)
        lang, money = wallet.language, format_money(amount, currency)
        if method == "otp":
            code = self.codes.issue(order.id, now)
            order.expires_at = self.codes.expires_at(order.id)
            when = validity(lang, self.config.otp.ttl)
            otp = say(lang, "otp_sms", shop=shop, code=code, money=money, validity=when)
            sms = SendSms(msisdn, otp, order_id=order.id)
            return order, [sms, *self._move(order, OrderStatus.AWAITING_CONFIRMATION, r.CODE_SENT, now)]
        if wallet.locked:
            return order, self._move(order, OrderStatus.FAILED, r.WALLET_LOCKED, now)
        if msisdn in self._pushes:
            # One USSD dialogue per handset: the network would refuse the push anyway.
            return order, self._move(order, OrderStatus.FAILED, r.HANDSET_BUSY, now)
        self._pushes[msisdn] = _Push(order.id, now + self.config.push_timeout, msisdn)
        push = PushUssd(msisdn, say(lang, "push_prompt", money=money, shop=shop), order_id=order.id)
        return order, [push, *self._move(order, OrderStatus.AWAITING_CONFIRMATION, r.PROMPT_SENT, now)]

    def confirm_otp(self, order_id: str, code: str, now: float) -> Outcome:
        """The buyer typed the code on the shop's page.

        :raises OrderNotFound: no such order.
        :raises OrderStateError: the order is not an ``otp`` order.
        """
        order = self.orders.get(order_id)
        if order.method != "otp":
            raise OrderStateError(f"order {order_id} is paid by {order.method}, not by code")
        return self._verify(order, code, now, by_sms=False)

    def cancel_order(self, order_id: str, now: float) -> Outcome:
        """The shop gives up on a waiting order (``cancelled_by_merchant``).

        :raises OrderNotFound: no such order.
        :raises OrderStateError: the order already ended.
        """
        order = self.orders.get(order_id)
        if order.status.final:
            raise OrderStateError(f"order {order_id} is already {order.status.value}")
        self.codes.withdraw(order.id)
        actions: list[Action] = []
        push = self._pushes.get(order.msisdn)
        if push is not None and push.order_id == order.id:
            cancelled = say(self._language(order.msisdn), "payment_cancelled")
            actions.append(EndUssd(push.session_key, cancelled, order_id=order.id))
        actions += self._end(order, OrderStatus.CANCELLED, r.CANCELLED_BY_MERCHANT, now)
        return Outcome(order, r.CANCELLED_BY_MERCHANT, tuple(actions))

    # -- SMS from buyers (MO to the short code) --------------------------------------

    def sms_received(self, msisdn: str, text: str, now: float) -> Outcome:
        """A buyer texted the short code: a code for their latest waiting OTP order, HELP or STOP.

        STOP (or TD, 退订) cancels the buyer's waiting OTP orders (``cancelled_by_user``).
        Every text gets an answer by SMS.
        """
        lang = self._language(msisdn)
        shop = self.config.shop_name
        word = text.strip().upper()
        if word in _HELP:
            return Outcome(None, "help", (SendSms(msisdn, say(lang, "help_sms", shop=shop)),))
        if word in _STOP:
            actions: list[Action] = [SendSms(msisdn, say(lang, "stop_sms", shop=shop))]
            cancelled = None
            for cancelled in self.orders.awaiting(msisdn, "otp"):
                self.codes.withdraw(cancelled.id)
                actions += self._move(cancelled, OrderStatus.CANCELLED, r.CANCELLED_BY_USER, now)
            return Outcome(cancelled, "stop", tuple(actions))
        match = _CODE.fullmatch(word)
        if match is None:
            return Outcome(None, "unknown_command", (SendSms(msisdn, say(lang, "unknown_sms")),))
        waiting = self.orders.awaiting(msisdn, "otp")
        if not waiting:
            return Outcome(None, "no_order", (SendSms(msisdn, say(lang, "no_order_sms")),))
        # The newest order is the one whose code the buyer just read.
        return self._verify(waiting[-1], match.group(1), now, by_sms=True)

    # -- USSD push (network-initiated) -------------------------------------------------

    def ussd_push_answer(self, msisdn: str, text: str, now: float, session_key: str | None = None) -> Outcome:
        """The buyer answered a pushed prompt: ``1`` asks for the PIN, ``2`` cancels; then the PIN.

        :param session_key: the edge's key for the dialogue; later screens carry it. Without
            one, screens carry the MSISDN (a handset has one USSD dialogue at a time).
        """
        push = self._pushes.get(msisdn)
        lang = self._language(msisdn)
        if push is None:
            return Outcome(None, "no_push", (EndUssd(session_key or msisdn, say(lang, "no_push")),))
        if session_key is not None:
            push.session_key = session_key
        key, order = push.session_key, self.orders.get(push.order_id)
        money, shop, answer = format_money(order.amount, order.currency), order.shop, text.strip()
        screen = functools.partial(ShowUssd, key, order_id=order.id)
        end = functools.partial(EndUssd, key, order_id=order.id)
        push.deadline = now + self.config.push_timeout
        if push.step == "confirm":
            if answer == "1":
                push.step = "pin"
                return Outcome(
                    order, "pin_requested", (screen(say(lang, "push_pin", money=money, shop=shop)),)
                )
            if answer == "2":
                cancelled = end(say(lang, "payment_cancelled"))
                return self._push_ends(order, cancelled, OrderStatus.CANCELLED, r.CANCELLED_BY_USER, now)
            again = say(lang, "answer_1_or_2") + say(lang, "push_prompt", money=money, shop=shop)
            return Outcome(order, "invalid_choice", (screen(again),))
        try:
            self.wallets.check_pin(msisdn, answer)
        except WalletLocked:
            return self._push_ends(
                order, end(say(lang, "wallet_locked")), OrderStatus.FAILED, r.WALLET_LOCKED, now
            )
        except WrongPin as wrong:
            if wrong.locked:
                locked = end(say(lang, "wrong_pin_locked"))
                return self._push_ends(order, locked, OrderStatus.FAILED, r.WRONG_PIN, now)
            retry = screen(say(lang, "wrong_pin_retry", tries=wrong.tries_left))
            return Outcome(order, r.WRONG_PIN, (retry,), attempts_left=wrong.tries_left)
        del self._pushes[msisdn]
        show, actions = self._pay(order, self.wallets.get(msisdn), now)
        return Outcome(order, order.reason, (end(show.text), *actions))

    def ussd_push_failed(self, msisdn: str, reason: str, now: float, order_id: str | None = None) -> Outcome:
        """The network could not hold the push dialogue: the order fails with ``reason``.

        :param reason: ``handset_busy`` (in another dialogue), ``handset_unreachable`` (off or
            absent), ``no_answer`` (timed out), or ``cancelled_by_user`` (the order is then
            ``cancelled``).
        :param order_id: the order whose dialogue failed, when the edge knows it (a refused
            screen names its order): a refusal that comes back after that push ended and
            another began then leaves the new one alone.
        :raises ValueError: any other reason.
        """
        if reason not in PUSH_FAILURES:
            raise ValueError(f"reason must be one of {', '.join(sorted(PUSH_FAILURES))}, not {reason!r}")
        push = self._pushes.get(msisdn)
        if push is None or (order_id is not None and push.order_id != order_id):
            return Outcome(None, "no_push")
        del self._pushes[msisdn]
        order = self.orders.get(push.order_id)
        status = OrderStatus.CANCELLED if reason == r.CANCELLED_BY_USER else OrderStatus.FAILED
        return Outcome(order, reason, tuple(self._move(order, status, reason, now)))

    # -- USSD menu (handset-initiated, *126#) ------------------------------------------

    def ussd_menu(self, session_key: str, msisdn: str, inputs: list[str], now: float) -> list[Action]:
        """One step of the ``*126#`` menu; ``inputs`` are all the buyer's answers so far.

        Only answers beyond those already seen are acted on, so the ``CON``/``END`` style
        (every answer each time) and a repeated request both work; several new answers at
        once (``*126*1*10086#``) are taken in order.

        :returns: first, the :class:`ShowUssd` for ``session_key`` (``end`` set on the
            last screen); then any receipt SMS and webhooks of a payment.
        """
        wallet = self.wallets.find(msisdn)
        if wallet is None:
            return [ShowUssd(session_key, say("en", "no_wallet"), end=True)]
        menu = self._menus.get(session_key)
        if menu is not None and menu.session.msisdn == msisdn and inputs == menu.answers:
            menu.session.last_at = now
            return [ShowUssd(session_key, menu.session.screen, end=menu.ended)]
        if (
            menu is None
            or menu.ended
            or menu.session.msisdn != msisdn
            or inputs[: len(menu.answers)] != menu.answers
        ):
            menu = _Menu(MenuSession(session_key, msisdn, now, screen=main_screen(wallet).text), [])
            self._menus[session_key] = menu
        menu.session.last_at = now
        actions: list[Action] = []
        for answer in inputs[len(menu.answers) :]:
            menu.answers.append(answer)
            step = advance(
                menu.session, wallet, self.wallets, self.config.shop_name, self.config.till, answer
            )
            if isinstance(step, Pay):
                step, actions = self._menu_pay(wallet, step.amount, now)
            menu.session.screen = step.text
            if step.end:
                # Kept (ended) until menu_timeout so a repeated last request is not paid twice.
                menu.ended = True
                break
        return [ShowUssd(session_key, menu.session.screen, end=menu.ended), *actions]

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: float, ahead: Callable[[str], float] | None = None) -> list[Action]:
        """Expire codes past their lifetime and pushes past ``push_timeout``; forget idle menus.

        :param ahead: how far a buyer's clock runs ahead of ``now`` (the carrier's clock of
            the buyer's handset's namespace, in ``smsgw serve``): each order, push and menu
            keeps its buyer's time.
        """
        actions: list[Action] = []
        for order in self.orders.awaiting(method="otp"):
            then = now + ahead(order.msisdn) if ahead else now
            if order.expires_at is not None and then >= order.expires_at:
                actions += self._move(order, OrderStatus.EXPIRED, r.CODE_EXPIRED, then)
        for msisdn, push in sorted(self._pushes.items(), key=lambda item: item[1].order_id):
            then = now + ahead(msisdn) if ahead else now
            if then >= push.deadline:
                order = self.orders.get(push.order_id)
                del self._pushes[msisdn]
                timed_out = say(self._language(msisdn), "payment_timed_out")
                actions.append(EndUssd(push.session_key, timed_out, order_id=order.id))
                actions += self._move(order, OrderStatus.FAILED, r.NO_ANSWER, then)
        for key, menu in list(self._menus.items()):
            then = now + ahead(menu.session.msisdn) if ahead else now
            if then - menu.session.last_at >= self.config.menu_timeout:
                del self._menus[key]
        return actions

    # -- restart -------------------------------------------------------------------------

    def restored(self, now: float) -> list[Action]:
        """Take up the orders and wallets an earlier run left (loaded into the books).

        Their references are never given again. A ``ussd_push`` order still waiting had its
        dialogue in flight, and dialogues do not survive a restart (neither the carrier's nor
        this one's), so it fails now with ``merchant_restarted``; a waiting OTP order keeps
        waiting for its code.
        """
        for order in self.orders:
            if order.reference is not None:
                self._references.add(order.reference)
        for wallet in self.wallets:
            self._references.update(payment.reference for payment in wallet.payments)
        actions: list[Action] = []
        for order in self.orders.awaiting(method="ussd_push"):
            if self._pushes.get(order.msisdn, _Push("", 0.0, "")).order_id != order.id:
                actions += self._move(order, OrderStatus.FAILED, r.MERCHANT_RESTARTED, now)
        return actions

    # -- retention -----------------------------------------------------------------------

    def forget(self, order_ids: Iterable[str]) -> list[Order]:
        """Drop final orders from the books, as retention asks: each with its code and its
        payment (from its buyer's ledger; the balance stays). Their ids are never given again
        (the order counter stays), and their references may be.

        :returns: the orders dropped, in id order.
        :raises OrderNotFound: one is not in the books; nothing is dropped.
        :raises OrderStateError: one is not final yet; nothing is dropped.
        """
        orders = [self.orders.get(order_id) for order_id in order_ids]
        for order in orders:
            if not order.status.final:
                raise OrderStateError(f"order {order.id} is {order.status.value}, not final: it is kept")
        dropped = self.orders.forget(order.id for order in orders)
        by_buyer: dict[str, set[str]] = {}
        for order in dropped:
            self.codes.withdraw(order.id)
            by_buyer.setdefault(order.msisdn, set()).add(order.id)
            if order.reference is not None:
                self._references.discard(order.reference)
        for msisdn, ids in by_buyer.items():
            for payment in self.wallets.forget_payments(msisdn, ids):
                self._references.discard(payment.reference)
        return dropped

    # -- inside --------------------------------------------------------------------------

    def _verify(self, order: Order, code: str, now: float, *, by_sms: bool) -> Outcome:
        lang = self._language(order.msisdn)
        money, shop = format_money(order.amount, order.currency), order.shop
        texts: list[Action] = []

        def tell(key: str, **values: object) -> None:
            # A code typed on the shop's page gets its answer there; one sent by SMS, by SMS.
            if by_sms:
                texts.append(SendSms(order.msisdn, say(lang, key, **values), order_id=order.id))

        try:
            self.codes.verify(order.id, code, now)
        except WrongCode as wrong:
            tell("wrong_code_sms", attempts=wrong.attempts_left)
            return Outcome(order, r.WRONG_CODE, tuple(texts), attempts_left=wrong.attempts_left)
        except CodeReused:
            tell("code_reused_sms")
            return Outcome(order, r.CODE_REUSED, tuple(texts))
        except (CodeExpired, TooManyAttempts) as error:
            status = OrderStatus.EXPIRED if isinstance(error, CodeExpired) else OrderStatus.FAILED
            tell(f"{error.reason}_sms", money=money, shop=shop)
            moved = [] if order.status.final else self._move(order, status, error.reason, now)
            return Outcome(
                order,
                error.reason,
                (*texts, *moved),
                attempts_left=0 if status is OrderStatus.FAILED else None,
            )
        except NoCode:
            return Outcome(order, "order_closed")
        _, actions = self._pay(order, self.wallets.get(order.msisdn), now)
        return Outcome(order, order.reason, tuple(actions))

    def _pay(self, order: Order, wallet: Wallet, now: float) -> tuple[Show, list[Action]]:
        """Debit the wallet for ``order``: ``paid`` with a receipt, or ``failed`` for the balance."""
        lang, shop = wallet.language, order.shop
        money = format_money(order.amount, order.currency)
        reference = self._reference()
        try:
            self.wallets.debit(
                wallet.msisdn,
                order.amount,
                order.currency,
                payee=shop,
                reference=reference,
                at=now,
                order_id=order.id,
            )
        except InsufficientFunds:
            self._references.discard(reference)
            balance = format_money(wallet.balance, wallet.currency)
            sms = SendSms(
                wallet.msisdn,
                say(lang, "insufficient_sms", money=money, shop=shop, balance=balance),
                order_id=order.id,
            )
            show = Show(say(lang, "insufficient_screen", balance=balance), end=True)
            return show, [sms, *self._move(order, OrderStatus.FAILED, r.INSUFFICIENT_BALANCE, now)]
        order.reference = reference
        balance = format_money(wallet.balance, wallet.currency)
        receipt = say(lang, "receipt_sms", money=money, shop=shop, ref=reference, balance=balance)
        show = Show(say(lang, "paid_screen", money=money, shop=shop, ref=reference), end=True)
        paid = self._move(order, OrderStatus.PAID, r.CONFIRMED, now)
        return show, [SendSms(wallet.msisdn, receipt, order_id=order.id), *paid]

    def _menu_pay(self, wallet: Wallet, amount: int, now: float) -> tuple[Show, list[Action]]:
        shop = self.config.shop_name
        order = self.orders.new(
            wallet.msisdn, amount, wallet.currency, "ussd_menu", shop, now, self.config.callback_url
        )
        return self._pay(order, wallet, now)

    def _push_ends(self, order: Order, end: EndUssd, status: OrderStatus, reason: str, now: float) -> Outcome:
        return Outcome(order, reason, (end, *self._end(order, status, reason, now)))

    def _end(self, order: Order, status: OrderStatus, reason: str, now: float) -> list[Action]:
        push = self._pushes.get(order.msisdn)
        if push is not None and push.order_id == order.id:
            del self._pushes[order.msisdn]
        return self._move(order, status, reason, now)

    @staticmethod
    def _move(order: Order, status: OrderStatus, reason: str, now: float) -> list[Action]:
        webhook = order.move(status, reason, now)
        return [] if webhook is None else [webhook]

    def _language(self, msisdn: str) -> Language:
        wallet = self.wallets.find(msisdn)
        return "en" if wallet is None else wallet.language

    def _reference(self) -> str:
        while True:
            reference = make_reference(self.rng)
            if reference not in self._references:
                self._references.add(reference)
                return reference
