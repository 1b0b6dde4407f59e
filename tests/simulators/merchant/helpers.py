"""Shared set-up for the merchant core tests: a seeded merchant and action filters."""

from __future__ import annotations

import random
from typing import Any, TypeVar

from simulators.merchant.actions import Action, EndUssd, PushUssd, SendSms, ShowUssd, Webhook
from simulators.merchant.config import MerchantConfig
from simulators.merchant.service import Merchant
from simulators.merchant.wallets import Wallets, demo_wallets

EN = "8613800000001"  # PIN 1234, English
ZH = "8613800000002"  # PIN 2345, Chinese
OTHER = "8613800000003"  # PIN 3456, English
HOOK = "http://127.0.0.1:8999/hook"

T = TypeVar("T")


def make_merchant(seed: int = 7, wallets: Wallets | None = None, **config: Any) -> Merchant:
    """A merchant over the demo wallets with a seeded random source."""
    return Merchant(wallets or demo_wallets(), random.Random(seed), MerchantConfig(**config))


def of(kind: type[T], actions: Any) -> list[T]:
    """The actions of one type, in order."""
    return [a for a in actions if isinstance(a, kind)]


def texts(actions: Any) -> list[str]:
    """The texts of the SMS among ``actions``."""
    return [a.text for a in of(SendSms, actions)]


def hooks(actions: Any) -> list[tuple[str, str]]:
    """``(status, reason)`` of every webhook among ``actions``."""
    return [(str(a.payload["status"]), str(a.payload["reason"])) for a in of(Webhook, actions)]


def screens(actions: Any) -> list[str]:
    """The texts of every USSD action among ``actions``."""
    ussd = (PushUssd, ShowUssd, EndUssd)
    return [a.text for a in actions if isinstance(a, ussd)]


def code_from(actions: list[Action]) -> str:
    """The code in the one SMS of ``actions`` (as the buyer reads it off the phone)."""
    (text,) = texts(actions)
    return next(word for word in text.replace("，", " ").split() if word.isdigit())
