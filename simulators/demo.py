"""``smsgw demo``: the three ways to pay the mock merchant, end to end, as a readable transcript.

It starts ``smsgw serve`` (carrier plus mock merchant) on free ports with an in-memory store,
then plays each payment through the real HTTP APIs (which drive real SMPP inside):

1. a one-time code by SMS, confirmed on the shop's side;
2. the ``*126#`` wallet menu dialled from the phone;
3. a USSD push prompt the shop sends to the phone.

It prints what each phone showed and what the shop saw, stops the server with SIGTERM and
exits 0 when all three orders ended paid, 1 otherwise (saying what went wrong).

With ``--cmpp`` the shop sends and takes its SMS over CMPP 3.0, as a Chinese merchant
connects to China Mobile's gateway (``[merchant] protocol = "cmpp"``); its USSD stays on SMPP,
since CMPP has none.

Run it as ``smsgw demo`` or ``python -m simulators.demo``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.carrier_process import CarrierProcess
from simulators.handset import Phone
from simulators.http import call_api

#: Seconds any one step (an SMS, a screen, an API answer) may take.
STEP = 10.0
#: The mock merchant's short code and till number (its [merchant] defaults, simulators/merchant/companion.py).
SHORT_CODE = "10086"
USSD_CODE = "*126#"
OTP_RE = re.compile(r"code is (\d{4,10})|验证码是 (\d{4,10})")


class DemoError(Exception):
    """A flow did not go as it should; the message says how."""


class Transcript:
    """Prints ``label  text`` lines, or nothing with ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def line(self, label: str, text: str) -> None:
        if not self.quiet:
            print(f"{label:<7} {text}", flush=True)

    def header(self, text: str) -> None:
        if not self.quiet:
            print(f"== {text} ==", flush=True)

    def screen(self, text: str) -> None:
        """A USSD screen, every line behind ``| ``."""
        for index, row in enumerate(text.splitlines() or [""]):
            self.line("screen" if index == 0 else "", f"| {row}")


def ref(order: dict[str, Any]) -> str:
    return f" (ref {order['reference']})" if order.get("reference") else ""


def money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d} {currency}"


class Demo:
    """The three flows against one running carrier and merchant."""

    def __init__(self, http_url: str, merchant_url: str, out: Transcript) -> None:
        self.http_url = http_url
        self.merchant_url = merchant_url
        self.out = out

    # -- helpers ---------------------------------------------------------------------

    def shop(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return call_api(self.merchant_url, method, path, body=body, timeout=STEP)

    def wallet(self, msisdn: str) -> tuple[int, str]:
        wallet = self.shop("GET", f"/wallets/{msisdn}")
        return int(wallet["balance"]), str(wallet["currency"])

    def phone(self, msisdn: str) -> tuple[Phone, str]:
        phone = Phone(msisdn, self.http_url, timeout=STEP)
        return phone, phone.name or "unnamed"

    def sms(self, phone: Phone, matching: str) -> str:
        sms = phone.wait_for_sms(matching, sender=SHORT_CODE, timeout=STEP)
        self.out.line("phone", f'SMS from {sms.sender}: "{sms.text}"')
        return sms.text

    def answer(self, phone: Phone, text: str, shown: str | None = None) -> Any:
        self.out.line("phone", f"answers {shown or text}")
        screen = phone.answer(text, timeout=STEP)
        self.out.screen(screen.text)
        return screen

    def settled(self, order: dict[str, Any]) -> None:
        if order["status"] != "paid":
            raise DemoError(f"order {order['id']} is {order['status']} ({order['reason']}), not paid")

    def balance_change(self, msisdn: str, before: tuple[int, str], amount: int) -> None:
        after = self.wallet(msisdn)
        self.out.line("wallet", f"{money(*before)} -> {money(*after)}")
        if after[0] != before[0] - amount:
            raise DemoError(
                f"the wallet went from {money(*before)} to {money(*after)}, expected {amount} less"
            )

    # -- the flows -------------------------------------------------------------------

    def otp(self, msisdn: str) -> None:
        phone, name = self.phone(msisdn)
        self.out.header(f"1. One-time code by SMS ({name}, +{msisdn})")
        before = self.wallet(msisdn)
        body = {"msisdn": msisdn, "amount": "25.00", "currency": "CNY", "method": "otp"}
        order = self.shop("POST", "/orders", body)
        self.out.line("shop", f"POST /orders 25.00 CNY, method otp -> {order['id']} {order['status']}")
        text = self.sms(phone, r"code is \d+|验证码")
        found = OTP_RE.search(text)
        if found is None:
            raise DemoError(f"no code in the SMS {text!r}")
        code = found.group(1) or found.group(2)
        self.out.line("shop", f"the buyer types the code {code} on the shop page")
        paid = self.shop("POST", f"/orders/{order['id']}/confirm", {"code": code})
        self.out.line("shop", f"POST /orders/{order['id']}/confirm {code} -> {paid['status']}{ref(paid)}")
        self.settled(paid)
        self.sms(phone, r"Paid 25\.00 CNY|支付 25\.00 CNY")
        self.balance_change(msisdn, before, 2500)

    def menu(self, msisdn: str, pin: str) -> None:
        phone, name = self.phone(msisdn)
        self.out.header(f"2. USSD menu {USSD_CODE} ({name}, +{msisdn})")
        before = self.wallet(msisdn)
        known = {o["id"] for o in self.shop("GET", "/orders")["orders"]}
        self.out.line("phone", f"dials {USSD_CODE}")
        screen = phone.dial(USSD_CODE, timeout=STEP)
        self.out.screen(screen.text)
        for text, shown in (("1", None), (SHORT_CODE, None), ("12.50", None), (pin, "****"), ("1", None)):
            if not screen.expects_reply:
                raise DemoError(f"the menu ended early: {screen.text!r}")
            screen = self.answer(phone, text, shown)
        if not screen.closed or not screen.text.startswith("Paid"):
            raise DemoError(f"the last screen is not a payment: {screen.text!r} ({screen.state})")
        orders = self.shop("GET", "/orders")["orders"]
        mine = [
            o for o in orders if o["id"] not in known and o["msisdn"] == msisdn and o["method"] == "ussd_menu"
        ]
        if not mine:
            raise DemoError("the shop has no new ussd_menu order for the buyer")
        order = mine[-1]
        amount = money(order["amount"], order["currency"])
        line = f"GET /orders -> {order['id']} ussd_menu {amount} {order['status']}{ref(order)}"
        self.out.line("shop", line)
        self.settled(order)
        self.sms(phone, r"Paid 12\.50 CNY|支付 12\.50 CNY")
        self.balance_change(msisdn, before, 1250)

    def push(self, msisdn: str, pin: str) -> None:
        phone, name = self.phone(msisdn)
        self.out.header(f"3. USSD push ({name}, +{msisdn})")
        before = self.wallet(msisdn)
        body = {"msisdn": msisdn, "amount": "8.00", "currency": "CNY", "method": "ussd_push"}
        order = self.shop("POST", "/orders", body)
        self.out.line("shop", f"POST /orders 8.00 CNY, method ussd_push -> {order['id']} {order['status']}")
        screen = phone.wait_for_ussd(timeout=STEP)
        self.out.line("phone", "a prompt pops up")
        self.out.screen(screen.text)
        if not screen.expects_reply:
            raise DemoError(f"the pushed screen asks nothing: {screen.text!r}")
        screen = self.answer(phone, "1")
        if not screen.expects_reply:
            raise DemoError(f"no PIN prompt: {screen.text!r}")
        screen = self.answer(phone, pin, "****")
        final = self.shop("GET", f"/orders/{order['id']}")
        self.out.line("shop", f"GET /orders/{order['id']} -> {final['status']}{ref(final)}")
        self.settled(final)
        self.sms(phone, r"Paid 8\.00 CNY|支付 8\.00 CNY")
        self.balance_change(msisdn, before, 800)


# -- entry point -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsgw demo",
        description="Start a carrier with its mock merchant and pay it three ways: "
        "a one-time code by SMS, the *126# USSD menu and a USSD push.",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="accepted for symmetry with other commands; unused"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the outcome")
    parser.add_argument(
        "--cmpp",
        action="store_true",
        help="the shop's SMS go over CMPP 3.0 (China Mobile's SP interface); USSD stays on SMPP",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when all three flows ended paid, 1 otherwise."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    out = Transcript(args.quiet)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smsgw-demo-") as workdir:
        server = CarrierProcess(
            Path(workdir), config='[merchant]\nprotocol = "cmpp"\n' if args.cmpp else None
        )
        try:
            try:
                endpoints = server.wait_ready()
            except Exception as error:  # noqa: BLE001 - any start-up failure ends the demo
                print(f"demo: the carrier did not start: {error}", file=sys.stderr)
                return 1
            demo = Demo(endpoints["http_url"], endpoints["merchant_url"], out)
            flows: list[tuple[str, Callable[[], None]]] = [
                ("one-time code by SMS", lambda: demo.otp("8613800000001")),
                ("USSD menu", lambda: demo.menu("8613800000003", "3456")),
                ("USSD push", lambda: demo.push("8613800000004", "4567")),
            ]
            paid = 0
            for what, flow in flows:
                try:
                    flow()
                    paid += 1
                except Exception as error:  # noqa: BLE001 - report it and go on with the next flow
                    print(f"FAILED  {what}: {type(error).__name__}: {error}", flush=True)
        finally:
            server.stop()
    elapsed = time.monotonic() - started
    if paid == len(flows):
        over = " (the shop's SMS over CMPP)" if args.cmpp else ""
        print(f"demo finished: {paid} flows paid in {elapsed:.1f} s{over}", flush=True)
        return 0
    print(f"demo finished: only {paid} of {len(flows)} flows paid in {elapsed:.1f} s", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
