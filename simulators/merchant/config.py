"""The shop's settings, and the checks a new order request must pass."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeGuard
from urllib.parse import urlsplit

import attrs

from simulators.merchant.orders import SHOP_METHODS, Method
from simulators.merchant.otp import OtpPolicy
from simulators.merchant.texts import MAX_AMOUNT
from simulators.merchant.wallets import CURRENCY_RE, MSISDN_RE


def _shop_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    # 20 characters keeps every screen inside 80 UCS2 characters with the largest amount.
    if not 1 <= len(value) <= 20 or not value.isprintable() or value != value.strip():
        raise ValueError(f"shop_name must be 1..20 printable characters, not {value!r}")


#: Where webhooks may go unless the config says more: this machine only, so an order cannot make
#: the merchant call into the developer's network (SSRF) on a web page's behalf.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class InvalidOrder(ValueError):
    """The shop asked for an order that cannot exist (bad MSISDN, amount, currency, method or URL)."""


def check_callback_url(url: str | None, allowed: Iterable[str]) -> None:
    """Refuse a webhook URL that is not plain http(s) to one of the ``allowed`` hosts.

    :raises InvalidOrder: saying what is wrong and how to allow the host.
    """
    if url is None:
        return
    if not isinstance(url, str) or not url.isascii() or not url.isprintable() or any(c in url for c in " \\"):
        raise InvalidOrder(f"callback_url must be an http(s) URL, not {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidOrder(f"callback_url must be an http(s) URL, not {url!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidOrder(f"callback_url must be an http(s) URL with a host, not {url!r}")
    # Credentials in the URL are read differently by different parsers (which host is it?).
    if "@" in parts.netloc:
        raise InvalidOrder(f"callback_url must not carry user:password@, not {url!r}")
    hosts = tuple(allowed)
    if parts.hostname.lower() not in hosts:
        raise InvalidOrder(
            f"callback_url host {parts.hostname!r} is not allowed (allowed: {', '.join(hosts)}); "
            "add it to [merchant] callback_hosts in the config (smsgw merchant: --callback-host)"
        )


def _url(instance: MerchantConfig, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    try:
        check_callback_url(value, instance.callback_hosts)
    except InvalidOrder as error:
        raise ValueError(str(error)) from None


def _hosts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(host.lower() for host in value)


@attrs.frozen
class MerchantConfig:
    """What the shop is called and how long it waits.

    :ivar shop_name: as buyers see it, 1 to 20 printable characters.
    :ivar till: the shop's merchant number, the one the ``*126#`` menu pays.
    :ivar push_timeout: seconds a USSD push waits for each answer before ``no_answer``
        (M-Pesa's STK prompt waits about 60 s before ResultCode 1037).
    :ivar menu_timeout: seconds after which a silent ``*126#`` dialogue is forgotten.
    :ivar callback_hosts: the host names and addresses a webhook may be sent to.
    :ivar callback_url: the webhook URL of orders created without one, and of menu payments.
    :ivar country_code: the network's, for MSISDNs the API is given in national notation.
    """

    shop_name: str = attrs.field(default="ShopX", validator=_shop_name)
    # Up to 7 digits (M-Pesa till numbers have 5 to 7) so the confirmation fits a UCS2 screen.
    till: str = attrs.field(default="10086", validator=attrs.validators.matches_re(r"\d{3,7}"))
    otp: OtpPolicy = OtpPolicy()
    push_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    menu_timeout: float = attrs.field(default=180.0, validator=attrs.validators.gt(0))
    callback_hosts: tuple[str, ...] = attrs.field(default=LOOPBACK_HOSTS, converter=_hosts)
    callback_url: str | None = attrs.field(default=None, validator=_url)
    #: The network's country code, which a national number (``13800000001``) is read with.
    country_code: str = "86"


def _is_method(method: str) -> TypeGuard[Method]:
    return method in SHOP_METHODS


def check_request(
    msisdn: str,
    amount: int,
    currency: str,
    method: str,
    callback_url: str | None,
    callback_hosts: Iterable[str] = LOOPBACK_HOSTS,
) -> Method:
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
    check_callback_url(callback_url, callback_hosts)
    return method
