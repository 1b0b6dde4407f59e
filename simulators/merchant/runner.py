"""Run the mock merchant: its HTTP API, bound to a carrier over SMPP.

    python -m simulators.merchant.runner --carrier 127.0.0.1:2775 --http-port 8776 --seed 1

:func:`start_merchant` does the wiring for a program already running a reactor (tests,
``smsgw serve`` through :mod:`simulators.merchant.companion`, which passes the carrier's store); :func:`main` is the command line, with a store
file of its own (``--store``, default ``merchant.db`` in the working directory).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer, endpoints
from twisted.web.client import Agent

from simulators.merchant.config import LOOPBACK_HOSTS, MerchantConfig
from simulators.merchant.esme import MerchantEsme, WebhookPoster
from simulators.merchant.http import MerchantApi, make_site
from simulators.merchant.otp import OtpPolicy
from simulators.merchant.persist import DocumentStore, MerchantRecords, RecordsError
from simulators.merchant.retention import OrderRetention
from simulators.merchant.service import Merchant
from simulators.merchant.wallets import demo_wallets
from smsgw.atomic import write_json
from smsgw.companion import TimelineSink
from smsgw.config import FEWEST_KEPT
from smsgw.web.guard import LOOPBACK_NAMES

#: ``smsgw merchant``'s store file, in the working directory, unless ``--store`` says otherwise.
DEFAULT_STORE = "merchant.db"


@attrs.define
class RunningMerchant:
    """A started merchant.

    :ivar http_port: the port the API listens on (the chosen one when asked for 0).
    """

    merchant: Merchant
    esme: MerchantEsme
    listening: Any
    http_host: str
    http_port: int
    #: The API as a resource, for a site that serves it under a path too (the console's).
    api: Any = None
    #: The token its HTTP API wants, if any.
    token: str | None = None

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://{self.http_host}:{self.http_port}"

    def tick(self) -> None:
        """Catch up with the clock, which has just jumped (expire codes, time out pushes)."""
        self.esme.tick()

    def when_bound(self) -> defer.Deferred[Any]:
        """Fires once the SMPP bind is up."""
        return self.esme.when_bound()

    def stop(self) -> defer.Deferred[Any]:
        """Unbind and stop listening."""
        self.esme.stop()
        return defer.maybeDeferred(self.listening.stopListening)


def start_merchant(
    reactor: Any,
    *,
    carrier_host: str,
    carrier_port: int,
    system_id: str,
    password: str,
    http_port: int = 8776,
    http_host: str = "127.0.0.1",
    seed: int | None = None,
    short_code: str = "12345",
    config: MerchantConfig = MerchantConfig(),
    clock: Callable[[], float] | None = None,
    ahead: Callable[[str], float] | None = None,
    token: str | None = None,
    store: DocumentStore | None = None,
    cmpp: tuple[str, int, str] | None = None,
    timeline: TimelineSink | None = None,
    keep_days: float = 0.0,
    keep_orders: int = 0,
    wall: Callable[[], float] = time.time,
) -> defer.Deferred[RunningMerchant]:
    """Listen on HTTP and start binding to the carrier (the bind comes up in the background).

    The merchant starts with the demo wallets (:func:`~simulators.merchant.wallets.demo_wallets`),
    and with what ``store`` kept of an earlier run over them: wallets, orders, webhooks still owed.

    :param token: wanted on every HTTP request when set (``Authorization: Bearer``), as the
        carrier's; :func:`http_token` gives the one to use.
    :param store: where the merchant's records are kept (in ``smsgw serve``, the carrier's own
        store: it cannot be opened twice); None keeps them in memory only.
    :param cmpp: ``(host, port, SP_Id)``: SMS go over CMPP as that SP (with ``password`` as
        its shared secret), USSD stays on the SMPP bind; None: everything over SMPP.
    :param timeline: the carrier's timeline (``smsgw serve``'s), where the merchant records its
        steps of payments; None records nothing.
    :param keep_days: days a final order is kept after it ended, by ``wall`` (0: no age limit).
    :param keep_orders: final orders kept at most, the newest (0: no count limit); see
        :mod:`simulators.merchant.retention`.
    :param wall: the wall clock, for ``keep_days`` (never ``clock``, which tests move).
    """
    merchant = Merchant(demo_wallets(), random.Random(seed), config)
    records = None if store is None else MerchantRecords(merchant, store)
    retention = OrderRetention(
        merchant.orders,
        merchant.forget if records is None else records.forget,
        keep_days=keep_days,
        keep_orders=keep_orders,
        wall=wall,
    )
    try:
        owed = [] if records is None else records.restore()
    except RecordsError as error:
        return defer.fail(error)
    poster: Any = WebhookPoster(reactor, Agent(reactor))
    if records is not None:
        poster = records.durable(poster)
    esme = MerchantEsme(
        merchant,
        reactor,
        lambda factory: endpoints.TCP4ClientEndpoint(reactor, carrier_host, carrier_port).connect(factory),
        system_id=system_id,
        password=password,
        poster=poster,
        short_code=short_code,
        clock=clock,
        ahead=ahead,
        save=None if records is None else records.save,
        timeline=timeline,
        retention=retention if retention.on else None,
        cmpp=(
            None
            if cmpp is None
            else (
                cmpp[2],
                lambda factory: endpoints.TCP4ClientEndpoint(reactor, cmpp[0], cmpp[1]).connect(factory),
            )
        ),
    )
    retention.clock_for = esme.now_for  # an order's times are on its buyer's clock
    api = MerchantApi(merchant, esme.carry_out, esme.now_for, lambda: esme.bound)

    def listen(_: None) -> defer.Deferred[Any]:
        for url, payload in owed:
            poster(url, payload)
        return endpoints.TCP4ServerEndpoint(reactor, http_port, interface=http_host).listen(
            make_site(api, host=http_host, token=token)
        )

    # Saved before the API answers anything: push orders whose dialogue died with the last run fail.
    listening = esme.carry_out(merchant.restored(esme.now())).addCallback(listen)

    def listened(port: Any) -> RunningMerchant:
        esme.start()
        return RunningMerchant(merchant, esme, port, http_host, port.getHost().port, api, token)

    return listening.addCallback(listened)


def http_token(given: str | None, http_host: str) -> str | None:
    """The token the API wants: the one given (``--token``, ``$SMSGW_TOKEN``, ``[http] token``),
    else a fresh one when it listens beyond loopback (to be printed), else none."""
    if given is None and http_host not in LOOPBACK_NAMES:
        return secrets.token_urlsafe(24)
    return given


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdecimal():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def _keep_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"expected days, 0 or more (0: however old), not {text!r}")
    return days


def _keep_orders(text: str) -> int:
    if not text.isdecimal() or 0 < int(text) < FEWEST_KEPT:
        raise argparse.ArgumentTypeError(
            f"expected 0 (keep them all) or at least {FEWEST_KEPT} orders, not {text!r}: fewer would "
            "forget a test's orders as they end"
        )
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="smsgw merchant",
        description="The mock merchant (a shop's payments), bound to a running carrier.",
    )
    parser.add_argument("--carrier", type=_address, default=("127.0.0.1", 2775), metavar="HOST:PORT",
                        help="the carrier's SMPP listener (default 127.0.0.1:2775)")  # fmt: skip
    parser.add_argument("--system-id", default="smsgw", help="the SMPP account (default smsgw)")
    parser.add_argument("--password", default="smsgw", help="its password (default smsgw)")
    parser.add_argument("--http-host", default="127.0.0.1", help="the API's interface (default 127.0.0.1)")
    parser.add_argument("--http-port", type=int, default=8776, help="the API's port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=None, help="seed codes and references")
    parser.add_argument("--short-code", default="12345", help="the number SMS come from (default 12345)")
    parser.add_argument("--shop-name", default="ShopX", help="the shop's name as buyers see it")
    parser.add_argument("--callback-url", default=None, help="the default webhook URL")
    parser.add_argument("--callback-host", action="append", default=[], metavar="HOST",
                        help="a host webhooks may go to besides loopback (repeat for more)")  # fmt: skip
    parser.add_argument("--token", default=os.environ.get("SMSGW_TOKEN") or None,
                        help="wanted on every API request as Authorization: Bearer (default $SMSGW_TOKEN; "
                        "made up and printed when --http-host is beyond loopback)")  # fmt: skip
    parser.add_argument("--ports-file", metavar="FILE", help="write the API's port and URL here as JSON")
    parser.add_argument("--store", metavar="FILE", default=DEFAULT_STORE,
                        help=f"keep wallets and orders in this SQLite file across restarts (default "
                             f"{DEFAULT_STORE} in the working directory; :memory: keeps nothing)")  # fmt: skip
    parser.add_argument("--country-code", default="86",
                        help="the network's country code, for numbers given without it (default 86)")  # fmt: skip
    parser.add_argument("--otp-length", type=int, default=6, help="digits of a one-time code (default 6)")
    parser.add_argument("--otp-ttl", type=float, default=300.0, help="seconds a code is valid (default 300)")
    parser.add_argument("--otp-attempts", type=int, default=3, help="tries per code (default 3)")
    parser.add_argument("--keep-days", type=_keep_days, default=0.0, metavar="DAYS",
                        help="forget a final order this many days after it ended, by the wall clock "
                             "(fractions allowed; default 0: however old)")  # fmt: skip
    parser.add_argument("--keep-orders", type=_keep_orders, default=0, metavar="N",
                        help=f"keep at most the newest N final orders (default 0: all; else at least "
                             f"{FEWEST_KEPT})")  # fmt: skip
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warn", "error"))
    return parser.parse_args(argv)


def write_ports_file(path: str, running: RunningMerchant) -> None:
    """Write ``{"http": port, "http_url": url}`` (and ``http_token``) atomically."""
    token = {"http_token": running.token} if running.token is not None else {}
    write_json(path, {"http": running.http_port, "http_url": running.url, **token})


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; print the API's URL once listening."""
    args = parse_args(argv)
    try:
        otp = OtpPolicy(length=args.otp_length, ttl=args.otp_ttl, max_attempts=args.otp_attempts)
        config = MerchantConfig(
            shop_name=args.shop_name,
            callback_hosts=(*LOOPBACK_HOSTS, *args.callback_host),
            callback_url=args.callback_url,
            otp=otp,
            country_code=args.country_code,
        )
    except ValueError as error:
        print(f"merchant: {error}", file=sys.stderr)
        return 2

    from twisted.internet import reactor

    from smsgw.server.logs import log_to_stderr
    from smsgw.store.interface import StoreError
    from smsgw.store.sqlite import SqliteStore

    log_to_stderr(args.log_level)
    try:
        store = SqliteStore(args.store if args.store == ":memory:" else os.path.abspath(args.store))
    except StoreError as error:
        print(f"merchant: {error} (the merchant's is --store)", file=sys.stderr)
        return 1
    # After the merchant's own stop (a "before" trigger), which may still save.
    reactor.addSystemEventTrigger("after", "shutdown", store.close)
    exit_status = [0]
    host, port = args.carrier

    def started(running: RunningMerchant) -> None:
        print(
            f"merchant: API on {running.url}, binding to {host}:{port} as {args.system_id}, "
            f"records in {store.path}",
            flush=True,
        )
        if running.token is not None:
            print(f"merchant: the API wants Authorization: Bearer {running.token}", flush=True)
        if args.http_host not in LOOPBACK_NAMES:
            print(
                f"merchant: WARNING: listening on {args.http_host}, reachable beyond this machine", flush=True
            )
        if args.ports_file:
            write_ports_file(args.ports_file, running)
        reactor.addSystemEventTrigger("before", "shutdown", running.stop)

    def failed(failure: Any) -> None:
        print(f"merchant: cannot start: {failure.getErrorMessage()}", file=sys.stderr)
        exit_status[0] = 1
        reactor.stop()

    def run() -> None:
        start_merchant(
            reactor,
            carrier_host=host,
            carrier_port=port,
            system_id=args.system_id,
            password=args.password,
            http_port=args.http_port,
            http_host=args.http_host,
            seed=args.seed,
            short_code=args.short_code,
            config=config,
            token=http_token(args.token, args.http_host),
            store=store,
            keep_days=args.keep_days,
            keep_orders=args.keep_orders,
        ).addCallbacks(started, failed)

    reactor.callWhenRunning(run)
    reactor.run()
    return exit_status[0]


if __name__ == "__main__":
    raise SystemExit(main())
