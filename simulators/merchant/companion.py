"""The mock merchant as ``smsgw serve`` runs it beside the carrier (:mod:`smsgw.companion`):
its ``[merchant]`` section read and checked, and its start from it.

The ``smsgw`` command hands :func:`read_section` to the carrier's config loader, which gives it
the section's table, and its mistakes are listed with the rest of the file's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer

from simulators.merchant.config import LOOPBACK_HOSTS, MerchantConfig
from simulators.merchant.otp import OtpPolicy
from simulators.merchant.runner import RunningMerchant, start_merchant
from smsgw.companion import TimelineSink
from smsgw.config import DEFAULT_USSD_CODE
from smsgw.configcheck import (
    Check,
    ConfigError,
    choice,
    count,
    digits,
    fields,
    flag,
    number,
    port,
    text,
    ussd_code,
)
from smsgw.store.interface import DocumentStore


@attrs.frozen
class MerchantSettings:
    """The mock merchant that ``smsgw serve`` runs beside the carrier, bound as its own ESME.

    :ivar password: its account's; None: smsgw makes one up at start (in the banner and the
        ports file), so no other local process can bind as the merchant with a known password.
    :ivar callback_hosts: the hosts an order's ``callback_url`` may name (loopback by default).
    """

    enabled: bool = True
    system_id: str = "merchant"
    password: str | None = None
    short_code: str = "10086"
    ussd_code: str = DEFAULT_USSD_CODE
    http_host: str = "127.0.0.1"
    http_port: int = 8776
    shop_name: str = "ShopX"
    seed: int | None = None
    otp_length: int = 6
    otp_ttl: float = 300.0
    otp_attempts: int = 3
    callback_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    #: ``cmpp``: its SMS (OTP out, replies in) go over CMPP as the SP ``sp_id``; USSD stays
    #: on its SMPP bind, since CMPP has none (docs/cmpp.md).
    protocol: str = "smpp"
    sp_id: str = "900001"

    def evolve(self, **changes: Any) -> MerchantSettings:
        """A copy with ``changes`` made."""
        return attrs.evolve(self, **changes)

    def merchant_config(self, country_code: str) -> MerchantConfig:
        """The shop's settings, in a network whose country code is ``country_code``."""
        return MerchantConfig(
            shop_name=self.shop_name,
            till=self.short_code,
            otp=OtpPolicy(self.otp_length, self.otp_ttl, self.otp_attempts),
            callback_hosts=self.callback_hosts,
            country_code=country_code,
        )

    def start(
        self,
        reactor: Any,
        *,
        carrier: tuple[str, int],
        country_code: str,
        clock: Callable[[], float],
        token: str | None,
        store: DocumentStore,
        cmpp: tuple[str, int] | None = None,
        ahead: Callable[[str], float] | None = None,
        timeline: TimelineSink | None = None,
        keep_days: float = 0.0,
        keep_orders: int = 0,
    ) -> defer.Deferred[RunningMerchant]:
        """The mock merchant, bound to the carrier at ``carrier`` over real SMPP like any shop's gateway.

        Its wallets and orders are kept in the carrier's store (a SQLite file is locked to one
        connection, so it gets the store object), and outlive a restart as the messages do.
        Its final orders follow the store's retention as the messages do (``keep_days``, and
        ``keep_orders`` from ``keep_messages``: :mod:`simulators.merchant.retention`).
        """
        if self.password is None:
            raise ValueError("the merchant's password is made up before it starts")
        host, smpp_port = carrier
        return start_merchant(
            reactor,
            carrier_host=host,
            carrier_port=smpp_port,
            system_id=self.system_id,
            password=self.password,
            http_port=self.http_port,
            http_host=self.http_host,
            seed=self.seed,
            short_code=self.short_code,
            config=self.merchant_config(country_code),
            clock=clock,  # the carrier's: advancing it expires codes and orders too
            ahead=ahead,  # and a namespace's clock: advancing it, those of its buyers
            token=token,
            store=store,
            cmpp=(cmpp[0], cmpp[1], self.sp_id) if self.protocol == "cmpp" and cmpp is not None else None,
            timeline=timeline,  # the carrier's: its orders, texts and webhooks, step by step
            keep_days=keep_days,
            keep_orders=keep_orders,
        )


def _is_host(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return bool(name) and name.isascii() and all(c.isalnum() or c in ".-_" for c in name)
    return True


def _host_names(where: str, value: Any) -> tuple[str, ...]:
    example = '["127.0.0.1", "localhost", "::1", "shop.internal"]'
    if not isinstance(value, list) or not all(isinstance(host, str) for host in value):
        raise ConfigError(f"{where}: expected a list of host names or addresses, e.g. {example}")
    for host in value:
        if not _is_host(host):
            raise ConfigError(
                f"{where}: {host!r} is not a host name or address; give the host alone, without "
                f"scheme, port or path, e.g. {example}"
            )
    return tuple(host.lower() for host in value)


def _sp_id(where: str, value: Any) -> str:
    sp_id = digits(where, value)
    if len(sp_id) > 6:
        raise ConfigError(f"{where}: a CMPP SP_Id is at most 6 digits, not {len(sp_id)}")
    return sp_id


def _otp_length(where: str, value: Any) -> int:
    length = int(number(where, value, minimum=4, integer=True))
    if length > 10:
        raise ConfigError(f"{where}: {length} digits is too long for a one-time code; use 4 to 10")
    return length


_CHECKS: dict[str, Check] = {
    "enabled": flag,
    "system_id": lambda w, v: text(w, v, max_length=15),
    "password": lambda w, v: text(w, v, max_length=8),
    "short_code": digits,
    "ussd_code": ussd_code,
    "http_host": text,
    "http_port": port,
    "shop_name": lambda w, v: text(w, v, max_length=20),
    "seed": lambda w, v: int(number(w, v, integer=True)),
    "otp_length": _otp_length,
    "otp_ttl": lambda w, v: float(number(w, v, minimum=1)),
    "otp_attempts": count,
    "callback_hosts": _host_names,
    "protocol": choice(("smpp", "cmpp")),
    "sp_id": lambda w, v: _sp_id(w, v),
}


def read_section(table: Any) -> MerchantSettings:
    """The ``[merchant]`` table, every key checked (``{}``: the defaults).

    :raises ConfigError: naming each wrong key (``merchant.otp_length: ...``) and the fix.
    """
    return MerchantSettings(**fields("merchant", table, _CHECKS))
