"""Mobile-money wallets: a balance in minor units, a PIN with limited tries, a payment ledger.

A wallet belongs to one MSISDN. PINs are compared with :func:`hmac.compare_digest` so a
test suite that measures response times learns nothing about the digits (the length of the
guess still shows, as in any comparison of unequal lengths). After ``max_pin_tries`` wrong
PINs in a row the wallet locks until :meth:`Wallets.unlock`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Collection, Iterator

import attrs

from simulators.merchant.texts import MAX_AMOUNT, Language

DEFAULT_PIN_TRIES = 3

#: The demo subscribers of smsgw's default network (smsgw.config.DEMO_SUBSCRIBERS), with PINs.
DEMO_WALLETS: tuple[tuple[str, str, Language], ...] = (
    ("8613800000001", "1234", "en"),
    ("8613800000002", "2345", "zh"),
    ("8613800000003", "3456", "en"),
    ("8613800000004", "4567", "en"),
    ("8613800000005", "5678", "en"),
)
DEMO_BALANCE = 10_000
DEMO_CURRENCY = "CNY"


def _matches(pattern: str, what: str) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
            shown = "****" if attribute.name == "pin" else repr(value)
            raise ValueError(f"{attribute.name} must be {what}, not {shown}")

    return check


def _minor_units(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{attribute.name} must be an int from 0 to {MAX_AMOUNT} minor units, not {value!r}")


def _language(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {value!r}")


#: E.164 digits without ``+``, 7 to 15 of them.
MSISDN_RE = r"[1-9]\d{6,14}"
#: An ISO 4217 code.
CURRENCY_RE = r"[A-Z]{3}"
msisdn_validator = _matches(MSISDN_RE, "E.164 digits without '+' (7 to 15 digits)")
currency_validator = _matches(CURRENCY_RE, "an ISO 4217 code such as 'CNY'")


class WalletError(Exception):
    """A wallet operation was refused."""


class NoWallet(WalletError, LookupError):
    """No wallet belongs to this MSISDN."""

    def __init__(self, msisdn: str) -> None:
        super().__init__(f"no wallet for MSISDN {msisdn}")
        self.msisdn = msisdn


class WalletExists(WalletError):
    """The MSISDN already has a wallet."""


class InsufficientFunds(WalletError):
    """The balance is lower than the amount."""

    def __init__(self, balance: int, amount: int) -> None:
        super().__init__(f"balance {balance} is lower than {amount}")
        self.balance = balance
        self.amount = amount


class CurrencyMismatch(WalletError):
    """The wallet holds another currency than the payment's."""


class WrongPin(WalletError):
    """The PIN was wrong; ``tries_left == 0`` means this try locked the wallet."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN, {tries_left} tries left")
        self.tries_left = tries_left

    @property
    def locked(self) -> bool:
        """Whether this wrong PIN locked the wallet."""
        return self.tries_left == 0


class WalletLocked(WalletError):
    """The wallet was already locked by wrong PINs."""


@attrs.frozen
class Payment:
    """One debit, as the ``Last payments`` menu and the receipts show it."""

    reference: str
    amount: int
    currency: str
    payee: str
    at: float
    order_id: str | None = None


@attrs.define
class Wallet:
    """A subscriber's wallet (an entity: it changes in place, validated on every change).

    :ivar msisdn: E.164 digits without ``+``.
    :ivar pin: 4 to 6 digits; never shown in ``repr``.
    :ivar balance: minor units of ``currency``.
    :ivar language: the language of every text the holder gets, ``"en"`` or ``"zh"``.
    :ivar payments: the ledger, oldest first.
    """

    msisdn: str = attrs.field(validator=msisdn_validator)
    pin: str = attrs.field(repr=False, validator=_matches(r"\d{4,6}", "4 to 6 digits"))
    balance: int = attrs.field(default=0, validator=_minor_units)
    currency: str = attrs.field(default=DEMO_CURRENCY, validator=currency_validator)
    language: Language = attrs.field(default="en", validator=_language)
    pin_tries_left: int = DEFAULT_PIN_TRIES
    payments: list[Payment] = attrs.Factory(list)

    @property
    def locked(self) -> bool:
        """Whether wrong PINs locked the wallet."""
        return self.pin_tries_left <= 0


class Wallets:
    """Every wallet, by MSISDN.

    :param max_pin_tries: wrong PINs in a row that lock a wallet.
    """

    def __init__(self, max_pin_tries: int = DEFAULT_PIN_TRIES) -> None:
        if max_pin_tries < 1:
            raise ValueError(f"max_pin_tries must be at least 1, not {max_pin_tries}")
        self.max_pin_tries = max_pin_tries
        self._wallets: dict[str, Wallet] = {}
        # Creation order, for pages that hold still while wallets are added.
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        self._changed: set[str] = set()

    def create(
        self,
        msisdn: str,
        pin: str,
        balance: int = 0,
        currency: str = DEMO_CURRENCY,
        language: Language = "en",
    ) -> Wallet:
        """Open a wallet.

        :raises ValueError: a malformed MSISDN, PIN, balance, currency or language.
        :raises WalletExists: the MSISDN already has one.
        """
        wallet = Wallet(msisdn, pin, balance, currency, language, self.max_pin_tries)
        if msisdn in self._wallets:
            raise WalletExists(f"MSISDN {msisdn} already has a wallet")
        self.load(wallet)
        self._changed.add(msisdn)
        return wallet

    def load(self, wallet: Wallet) -> None:
        """Put a wallet kept from an earlier run in place of any of the same MSISDN."""
        if wallet.msisdn not in self._wallets:
            self._position[wallet.msisdn] = len(self._order)
            self._order.append(wallet.msisdn)
        self._wallets[wallet.msisdn] = wallet

    def take_changed(self) -> list[Wallet]:
        """The wallets created or changed since the last call (for the merchant's store)."""
        changed, self._changed = self._changed, set()
        return [self._wallets[msisdn] for msisdn in sorted(changed)]

    def page(self, after: str | None, limit: int) -> list[Wallet]:
        """At most ``limit`` wallets in the order they were opened, after the one of ``after``.

        :raises NoWallet: ``after`` has no wallet.
        """
        start = 0
        if after is not None:
            if after not in self._position:
                raise NoWallet(after)
            start = self._position[after] + 1
        return [self._wallets[msisdn] for msisdn in self._order[start : start + limit]]

    def get(self, msisdn: str) -> Wallet:
        """The wallet of ``msisdn``.

        :raises NoWallet: when there is none.
        """
        wallet = self._wallets.get(msisdn)
        if wallet is None:
            raise NoWallet(msisdn)
        return wallet

    def find(self, msisdn: str) -> Wallet | None:
        """The wallet of ``msisdn``, or None."""
        return self._wallets.get(msisdn)

    def __contains__(self, msisdn: object) -> bool:
        return msisdn in self._wallets

    def __iter__(self) -> Iterator[Wallet]:
        return iter(list(self._wallets.values()))

    def __len__(self) -> int:
        return len(self._wallets)

    def top_up(self, msisdn: str, amount: int) -> int:
        """Add ``amount`` minor units and return the new balance.

        :raises ValueError: a non-positive amount, or a balance past the maximum.
        :raises NoWallet: no such wallet.
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"a top-up must be a positive int of minor units, not {amount!r}")
        wallet = self.get(msisdn)
        wallet.balance = wallet.balance + amount
        self._changed.add(msisdn)
        return wallet.balance

    def debit(
        self,
        msisdn: str,
        amount: int,
        currency: str,
        *,
        payee: str,
        reference: str,
        at: float,
        order_id: str | None = None,
    ) -> Payment:
        """Take ``amount`` from the wallet and record the payment in its ledger.

        :raises NoWallet: no such wallet.
        :raises CurrencyMismatch: the wallet holds another currency.
        :raises InsufficientFunds: the balance is lower than ``amount``; nothing changes.
        """
        wallet = self.get(msisdn)
        if currency != wallet.currency:
            raise CurrencyMismatch(f"wallet {msisdn} holds {wallet.currency}, not {currency}")
        if amount > wallet.balance:
            raise InsufficientFunds(wallet.balance, amount)
        wallet.balance -= amount
        payment = Payment(reference, amount, currency, payee, at, order_id)
        wallet.payments.append(payment)
        self._changed.add(msisdn)
        return payment

    def forget_payments(self, msisdn: str, order_ids: Collection[str]) -> list[Payment]:
        """Drop from the ledger of ``msisdn`` the payments of these orders (retention forgot
        them); the balance stays as it is.

        :returns: the payments dropped, oldest first (none when there is no such wallet).
        """
        wallet = self._wallets.get(msisdn)
        if wallet is None:
            return []
        dropped = [p for p in wallet.payments if p.order_id in order_ids]
        if dropped:
            wallet.payments = [p for p in wallet.payments if p.order_id not in order_ids]
        return dropped

    def check_pin(self, msisdn: str, pin: str) -> None:
        """Check a PIN in constant time; a right one resets the tries.

        :raises NoWallet: no such wallet.
        :raises WalletLocked: the wallet was locked before this try (the PIN is not looked at).
        :raises WrongPin: the PIN is wrong; ``tries_left`` 0 means it is now locked.
        """
        wallet = self.get(msisdn)
        if wallet.locked:
            raise WalletLocked(f"wallet {msisdn} is locked")
        self._changed.add(msisdn)
        if hmac.compare_digest(wallet.pin.encode(), pin.strip().encode()):
            wallet.pin_tries_left = self.max_pin_tries
            return
        wallet.pin_tries_left -= 1
        raise WrongPin(wallet.pin_tries_left)

    def unlock(self, msisdn: str) -> None:
        """Give a locked wallet its tries back (what a call to customer care does)."""
        self.get(msisdn).pin_tries_left = self.max_pin_tries
        self._changed.add(msisdn)


def demo_wallets(max_pin_tries: int = DEFAULT_PIN_TRIES) -> Wallets:
    """The demo wallets: 8613800000001..5, PINs 1234, 2345, 3456, 4567, 5678, 100.00 CNY each.

    8613800000002 (Wang Fang) reads Chinese; the others English.
    """
    wallets = Wallets(max_pin_tries)
    for msisdn, pin, language in DEMO_WALLETS:
        wallets.create(msisdn, pin, DEMO_BALANCE, DEMO_CURRENCY, language)
    return wallets
