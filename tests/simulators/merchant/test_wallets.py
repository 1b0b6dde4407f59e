"""Wallets: validation, balances, PIN checks with limited tries, and the demo set."""

from __future__ import annotations

import hmac
from collections.abc import Callable

import pytest

from simulators.merchant.wallets import (
    CurrencyMismatch,
    InsufficientFunds,
    NoWallet,
    Payment,
    WalletExists,
    WalletLocked,
    Wallets,
    WrongPin,
    demo_wallets,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msisdn", "+8613800000001"),
        ("msisdn", "0861380000"),
        ("msisdn", "123"),
        ("pin", "123"),
        ("pin", "1234567"),
        ("pin", "12a4"),
        ("balance", -1),
        ("balance", 1.5),
        ("currency", "cny"),
        ("language", "fr"),
    ],
)
def test_create_validates(field: str, value: object) -> None:
    """A malformed MSISDN, PIN, balance, currency or language is refused with the field's name."""
    good: dict[str, object] = {
        "msisdn": "8613900000001",
        "pin": "1234",
        "balance": 0,
        "currency": "CNY",
        "language": "en",
    }
    with pytest.raises(ValueError, match=field):
        Wallets().create(**{**good, field: value})  # type: ignore[arg-type]


def test_create_get_and_duplicates() -> None:
    """A created wallet is found by MSISDN; a second one for the same MSISDN and an unknown MSISDN are errors."""
    wallets = Wallets()
    wallet = wallets.create("8613900000001", "123456", 500, "KES", "zh")
    assert wallets.get("8613900000001") is wallet and "8613900000001" in wallets and len(wallets) == 1
    assert (wallet.balance, wallet.currency, wallet.language, wallet.pin_tries_left) == (500, "KES", "zh", 3)
    with pytest.raises(WalletExists):
        wallets.create("8613900000001", "1234")
    with pytest.raises(NoWallet, match="no wallet for MSISDN 8613900000009"):
        wallets.get("8613900000009")
    assert wallets.find("8613900000009") is None


def test_pin_is_not_in_repr_or_errors() -> None:
    """The PIN never shows in a wallet's repr nor in a validation error."""
    wallet = Wallets().create("8613900000001", "9876")
    assert "9876" not in repr(wallet)
    with pytest.raises(ValueError) as error:
        Wallets().create("8613900000001", "98765432")
    assert "98765432" not in str(error.value)


def test_top_up_and_debit() -> None:
    """Top-ups add, debits subtract and land in the ledger; a debit larger than the balance changes nothing."""
    wallets = Wallets()
    wallets.create("8613900000001", "1234", 1000)
    assert wallets.top_up("8613900000001", 500) == 1500
    payment = wallets.debit(
        "8613900000001", 1200, "CNY", payee="ShopX", reference="QK1", at=5.0, order_id="ord_0001"
    )
    assert payment == Payment("QK1", 1200, "CNY", "ShopX", 5.0, "ord_0001")
    assert wallets.get("8613900000001").balance == 300
    with pytest.raises(InsufficientFunds) as error:
        wallets.debit("8613900000001", 301, "CNY", payee="ShopX", reference="QK2", at=6.0)
    assert (error.value.balance, error.value.amount) == (300, 301)
    assert wallets.get("8613900000001").balance == 300 and len(wallets.get("8613900000001").payments) == 1


@pytest.mark.parametrize("amount", [0, -5, 2.5, True])
def test_top_up_refuses_non_positive_amounts(amount: object) -> None:
    """Only a positive int of minor units tops a wallet up."""
    wallets = Wallets()
    wallets.create("8613900000001", "1234")
    with pytest.raises(ValueError):
        wallets.top_up("8613900000001", amount)  # type: ignore[arg-type]


def test_debit_in_another_currency_is_refused() -> None:
    """A wallet in CNY cannot pay a KES amount."""
    wallets = Wallets()
    wallets.create("8613900000001", "1234", 1000, "CNY")
    with pytest.raises(CurrencyMismatch):
        wallets.debit("8613900000001", 10, "KES", payee="ShopX", reference="QK1", at=0.0)


def test_pin_tries_lock_and_unlock() -> None:
    """Wrong PINs count down; the third locks; a locked wallet refuses even the right PIN until unlocked."""
    wallets = Wallets()
    wallet = wallets.create("8613900000001", "1234")
    with pytest.raises(WrongPin) as first:
        wallets.check_pin("8613900000001", "0000")
    assert first.value.tries_left == 2 and not first.value.locked
    wallets.check_pin("8613900000001", " 1234 ")
    assert wallet.pin_tries_left == 3, "a right PIN resets the tries"
    for left in (2, 1, 0):
        with pytest.raises(WrongPin) as wrong:
            wallets.check_pin("8613900000001", "4321")
        assert wrong.value.tries_left == left
    assert wrong.value.locked and wallet.locked
    with pytest.raises(WalletLocked):
        wallets.check_pin("8613900000001", "1234")
    wallets.unlock("8613900000001")
    wallets.check_pin("8613900000001", "1234")


def test_pin_check_uses_a_constant_time_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PIN is compared with hmac.compare_digest, never with ==."""
    calls: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wallets = Wallets()
    wallets.create("8613900000001", "1234")
    wallets.check_pin("8613900000001", "1234")
    with pytest.raises(WrongPin):
        wallets.check_pin("8613900000001", "密码")
    assert calls == [(b"1234", b"1234"), (b"1234", "密码".encode())]


def test_max_pin_tries_is_configurable() -> None:
    """With max_pin_tries=1 the first wrong PIN locks; zero tries is refused."""
    wallets = Wallets(max_pin_tries=1)
    wallets.create("8613900000001", "1234")
    with pytest.raises(WrongPin) as wrong:
        wallets.check_pin("8613900000001", "0000")
    assert wrong.value.locked
    with pytest.raises(ValueError):
        Wallets(max_pin_tries=0)


def test_demo_wallets() -> None:
    """The demo wallets are the five demo subscribers with 100.00 CNY each; 8613800000002 reads Chinese."""
    wallets = demo_wallets()
    assert [w.msisdn for w in wallets] == [f"861380000000{i}" for i in range(1, 6)]
    assert {w.balance for w in wallets} == {10_000} and {w.currency for w in wallets} == {"CNY"}
    assert [w.language for w in wallets] == ["en", "zh", "en", "en", "en"]
    for msisdn, pin in [("8613800000001", "1234"), ("8613800000002", "2345"), ("8613800000005", "5678")]:
        wallets.check_pin(msisdn, pin)


def test_every_change_is_noted_for_the_store_and_pages_hold_still() -> None:
    wallets = demo_wallets()
    assert len(wallets.take_changed()) == 5 and wallets.take_changed() == []
    wallets.top_up("8613800000002", 1)
    with pytest.raises(WrongPin):
        wallets.check_pin("8613800000003", "0000")
    wallets.debit("8613800000004", 1, "CNY", payee="ShopX", reference="R1", at=0.0)
    wallets.unlock("8613800000005")
    changed = [w.msisdn for w in wallets.take_changed()]
    assert changed == ["8613800000002", "8613800000003", "8613800000004", "8613800000005"]
    wallets.create("8613900000001", "1234")
    assert [w.msisdn for w in wallets.page(None, 2)] == ["8613800000001", "8613800000002"]
    assert [w.msisdn for w in wallets.page("8613800000005", 2)] == ["8613900000001"]
    with pytest.raises(NoWallet):
        wallets.page("8613999999999", 2)
