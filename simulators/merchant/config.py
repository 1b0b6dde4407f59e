"""The shop's settings, and the checks a new order request must pass."""

from __future__ import annotations

import re
from typing import TypeGuard

import attrs

from simulators.merchant.orders import SHOP_METHODS, Method
from simulators.merchant.otp import OtpPolicy
from simulators.merchant.texts import MAX_AMOUNT
from simulators.merchant.wallets import CURRENCY_RE, MSISDN_RE


def _shop_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    # 20 characters keeps every screen inside 80 UCS2 characters with the largest amount.
    if not 1 <= len(value) <= 20 or not value.isprintable() or value != value.strip():
        raise ValueError(f"shop_name must be 1..20 printable characters, not {value!r}")


def _is_url(value: str | None) -> bool:
    return value is None or value.startswith(("http://", "https://"))


def _url(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if not _is_url(value):
        raise ValueError(f"{attribute.name} must be an http(s) URL, not {value!r}")


@attrs.frozen
class MerchantConfig:
    """What the shop is called and how long it waits.

    :ivar shop_name: as buyers see it, 1 to 20 printable characters.
    :ivar till: the shop's merchant number, the one the ``*126#`` menu pays.
    :ivar push_timeout: seconds a USSD push waits for each answer before ``no_answer``
        (M-Pesa's prompt waits about 60 s, PROTOCOL.md §7.2).
    :ivar menu_timeout: seconds after which a silent ``*126#`` dialogue is forgotten.
    :ivar callback_url: the webhook URL of orders created without one, and of menu payments.
    """

    shop_name: str = attrs.field(default="ShopX", validator=_shop_name)
    # Up to 7 digits (M-Pesa till numbers have 5 to 7) so the confirmation fits a UCS2 screen.
    till: str = attrs.field(default="10086", validator=attrs.validators.matches_re(r"\d{3,7}"))
    otp: OtpPolicy = OtpPolicy()
    push_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    menu_timeout: float = attrs.field(default=180.0, validator=attrs.validators.gt(0))
    callback_url: str | None = attrs.field(default=None, validator=_url)


class InvalidOrder(ValueError):
    """The shop asked for an order that cannot exist (bad MSISDN, amount, currency, method or URL)."""


def _is_method(method: str) -> TypeGuard[Method]:
    return method in SHOP_METHODS


def check_request(msisdn: str, amount: int, currency: str, method: str, callback_url: str | None) -> Method:
    """Check a shop's order request field by field.

    :returns: ``method``, typed.
    :raises InvalidOrder: naming the first bad field, what was given and what is allowed.
    """
    if not isinstance(msisdn, str) or re.fullmatch(MSISDN_RE, msisdn) is None:
        raise InvalidOrder(f"msisdn must be E.164 digits without '+', not {msisdn!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidOrder(f"amount must be an int of minor units from 1 to {MAX_AMOUNT}, not {amount!r}")
    if not isinstance(currency, str) or re.fullmatch(CURRENCY_RE, currency) is None:
        raise InvalidOrder(f"currency must be an ISO 4217 code such as 'CNY', not {currency!r}")
    if not _is_method(method):
        raise InvalidOrder(f"method must be one of {', '.join(SHOP_METHODS)}, not {method!r}")
    if not _is_url(callback_url):
        raise InvalidOrder(f"callback_url must be an http(s) URL, not {callback_url!r}")
    return method
