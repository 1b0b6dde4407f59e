"""What each step does, against a carrier's HTTP API, its mock merchant and the run's ESME.

A step either returns (captures stored in the world's variables) or raises
:class:`StepFailed` saying what was expected and what actually happened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from simulators.handset import Phone, SmsNotReceived, UnexpectedSms
from simulators.http import SmsgwError, call_api
from simulators.merchant.texts import format_money, parse_amount
from simulators.scenario.esme import EsmeError, ScenarioEsme
from simulators.scenario.model import Scenario, Step
from simulators.scenario.template import Undefined, render
from simulators.ussd_screen import UssdScreen, UssdTimeout
from smsgw.smpp.constants import CommandStatus, status_name

#: Seconds a step waits when it does not say (``within``).
WITHIN = 10.0
#: The PIN of a wallet a scenario opens without saying one.
DEFAULT_PIN = "1234"
_POLL = 0.05


class StepFailed(AssertionError):
    """A step did not see what it expected; the message says what it expected and what it got."""

    def __init__(self, summary: str, expected: str | None = None, actual: str | None = None) -> None:
        lines = [summary]
        if expected is not None:
            lines.append(f"  expected: {expected}")
        if actual is not None:
            lines.append(f"  actual:   {actual}")
        super().__init__("\n".join(lines))


@attrs.define
class Network:
    """What a run talks to.

    :ivar esme: binds the run's shared ESME on first use (None when the run has no SMPP).
    :ivar namespace: the label of the run's handsets and faults on the carrier.
    :ivar namespace_clocks: the carrier gives each namespace a clock (one older than that has
        one clock for all: every ``advance_clock`` then moves it, and its scenario runs alone).
    """

    http_url: str
    merchant_url: str | None
    esme: Callable[[], ScenarioEsme] | None
    namespace: str
    timeout: float = 10.0
    namespace_clocks: bool = True

    def carrier(self, method: str, path: str, body: Mapping[str, Any] | None = None, **query: Any) -> Any:
        return call_api(self.http_url, method, path, body=body, query=query or None, timeout=self.timeout)

    def shop(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        if self.merchant_url is None:
            raise StepFailed("this step needs the mock merchant, and the carrier runs without one")
        return call_api(self.merchant_url, method, path, body=body, timeout=self.timeout)


class World:
    """One scenario's handsets, captured values and clean-up, while it runs."""

    def __init__(self, scenario: Scenario, network: Network, number: int = 1) -> None:
        self.scenario = scenario
        self.network = network
        #: The scenario's own world inside the run's namespace: its handsets and faults.
        self.namespace = f"{network.namespace}.{number}"
        self.variables: dict[str, Any] = {}
        self.phones: dict[str, Phone] = {}
        #: The last screen a dial or answer got, not yet checked by expect_screen.
        self.fresh: dict[str, UssdScreen] = {}
        self.last: dict[str, str] = {}
        #: A dialogue an application let time out, not yet looked at: (step, summary, detail).
        self.unchecked_end: tuple[Step, str, str] | None = None
        self.fault_names: list[str] = []
        #: Handsets on numbers the file gives (shared, in no namespace).
        self.fixed: set[str] = set()

    # -- set-up and clean-up ---------------------------------------------------------

    def set_up(self) -> None:
        """Give the scenario its handsets (fresh numbers unless it names one), wallets and faults."""
        for name, setup in self.scenario.handsets.items():
            self._handset(name, setup)
        if self.scenario.faults:
            add_faults(self, list(self.scenario.faults))
        if any(step.action == "expect_mo" for step in self.scenario.steps):
            # The run's ESME is bound before a handset texts it: with no bind of the run's
            # namespace yet, the MO would wait for one or, on a shared carrier, go to a bind of
            # the account that declared no namespace (docs/api.md, "Which bind gets what").
            _esme(self)

    def _handset(self, name: str, setup: Mapping[str, Any]) -> None:
        label = f"{self.namespace}/{name}"
        state = setup.get("state", "on")
        fixed = setup.get("msisdn")
        network = self.network
        if fixed is None:
            phone = Phone.provision(
                None,
                network.http_url,
                name=label,
                state=state,
                namespace=self.namespace,
                timeout=network.timeout,
            )
        else:
            phone = Phone(
                _fixed_handset(network, str(fixed), state), network.http_url, timeout=network.timeout
            )
            self.fixed.add(name)
        self.phones[name] = phone
        msisdn = phone.msisdn
        self.variables[name] = {"msisdn": msisdn, "name": name}
        wallet = setup.get("wallet")
        if wallet is not None:
            body = {"msisdn": msisdn, "pin": DEFAULT_PIN, **wallet}
            try:
                self.network.shop("POST", "/wallets", body)
            except SmsgwError as error:
                if error.code != "wallet_exists":
                    raise
        if setup.get("name"):
            self.network.carrier("PATCH", f"/api/handsets/{msisdn}", {"name": setup["name"]})

    def tear_down(self) -> None:
        """Remove the faults the scenario added (its handsets go with the run's namespace)."""
        for name in self.fault_names:
            _ignore_missing(self.network.carrier, "DELETE", f"/api/faults/{name}")

    # -- what steps share ------------------------------------------------------------

    def handset(self, args: Mapping[str, Any]) -> tuple[str, Phone]:
        name = args.get("handset") or next(iter(self.phones))
        return name, self.phones[name]

    def number(self, value: Any) -> str:
        """A handset's name as its number; anything else as written."""
        text = str(value)
        return self.phones[text].msisdn if text in self.phones else text

    def remember(self, kind: str, name: str | None, value: Any) -> None:
        name = name or kind
        self.variables[name] = value
        self.last[kind] = name

    def recall(self, kind: str, name: str | None) -> Any:
        name = name or self.last.get(kind)
        if name is None:
            raise StepFailed(
                f"no {kind} yet: an earlier step must create one ({'checkout' if kind == 'order' else 'submit'})"
            )
        value = self.variables.get(name)
        if not isinstance(value, Mapping) or "id" not in value:
            raise StepFailed(f"{name!r} is not a {kind} (defined: {', '.join(sorted(self.variables))})")
        return value


def _fixed_handset(network: Network, msisdn: str, state: str) -> str:
    try:
        found = network.carrier("GET", f"/api/handsets/{msisdn}")
    except SmsgwError as error:
        if error.code != "unknown_handset":
            raise
        found = network.carrier("POST", "/api/handsets", {"msisdn": msisdn, "state": state})
    if found["state"] != state:
        network.carrier("PATCH", f"/api/handsets/{found['msisdn']}", {"state": state})
    return str(found["msisdn"])


def _ignore_missing(call: Callable[..., Any], *args: Any) -> None:
    """Make a call whose target may be gone already (404 is fine)."""
    try:
        call(*args)
    except SmsgwError as error:
        if error.status != 404:
            raise


# -- arguments -------------------------------------------------------------------------


def _args(step: Step, variables: Mapping[str, Any], shorthand: str | None) -> dict[str, Any]:
    """The step's arguments as a mapping, placeholders filled; a bare value fills ``shorthand``."""
    args = step.args
    if args is None:
        args = {}
    elif not isinstance(args, Mapping):
        args = {shorthand: args} if shorthand else {}
    try:
        rendered: dict[str, Any] = render(dict(args), variables)
    except Undefined as error:
        raise StepFailed(str(error)) from None
    return rendered


def _pattern(args: Mapping[str, Any], key: str = "text") -> re.Pattern[str] | None:
    text = args.get(key)
    if text is None:
        return None
    try:
        return re.compile(str(text))
    except re.error as error:
        raise StepFailed(f"{key}: /{text}/ is not a regular expression: {error}") from None


def _capture(world: World, pattern: re.Pattern[str] | None, text: str) -> None:
    if pattern is not None and (found := pattern.search(text)):
        world.variables.update({k: v for k, v in found.groupdict().items() if v is not None})


def _within(args: Mapping[str, Any]) -> float:
    return float(args.get("within", WITHIN))


def _money(value: Any, currency: str) -> int:
    if isinstance(value, int):
        return value
    amount = parse_amount(str(value), currency)
    if amount is None:
        raise StepFailed(
            f'{value!r} is not an amount in {currency} (write "25.00", or minor units as a number)'
        )
    return amount


# -- handset steps ---------------------------------------------------------------------


def _ussd_step(world: World, step: Step, name: str, call: Callable[[], UssdScreen], what: str) -> None:
    """Run a dial or answer; keep the screen it got for expect_screen.

    A dialogue the network ended because the application did not answer is kept too, for
    an expect_screen to check (a test of an application timeout expects just that); any
    other step after it fails the scenario at this step.
    """
    try:
        world.fresh[name] = call()
    except UssdTimeout as error:
        if not error.screen.closed:
            raise StepFailed(f"{what} on {name} failed", actual=str(error)) from None
        world.fresh[name] = error.screen
        world.unchecked_end = (step, f"{what} on {name} failed", str(error))
    except SmsgwError as error:
        raise StepFailed(f"{what} on {name} failed", actual=str(error)) from None


def dial(world: World, step: Step) -> None:
    args = _args(step, world.variables, "code")
    name, phone = world.handset(args)
    code = str(args["code"])
    _ussd_step(world, step, name, lambda: phone.dial(code, timeout=_within(args)), f"dialling {code}")


def answer(world: World, step: Step) -> None:
    args = _args(step, world.variables, "text")
    name, phone = world.handset(args)
    text = str(args["text"])
    _ussd_step(world, step, name, lambda: phone.answer(text, timeout=_within(args)), f"answering {text!r}")


def cancel(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    name, phone = world.handset(args)
    try:
        world.fresh[name] = phone.cancel_ussd()
    except SmsgwError as error:
        raise StepFailed(f"cancelling the USSD dialogue on {name} failed", actual=str(error)) from None


def _screen_text(screen: UssdScreen) -> str:
    kind = "closed screen" if screen.closed else ("prompt" if screen.expects_reply else "screen")
    return f"{kind} {screen.text!r}" + (
        f" ({screen.end_reason})" if screen.closed and screen.end_reason else ""
    )


def expect_screen(world: World, step: Step) -> None:
    args = _args(step, world.variables, "text")
    name, phone = world.handset(args)
    pattern = _pattern(args)
    screen = world.fresh.pop(name, None)
    world.unchecked_end = None
    if screen is None:
        try:
            screen = phone.wait_for_ussd(timeout=_within(args))
        except UssdTimeout as error:
            raise StepFailed(f"{name} shows no new USSD screen", actual=str(error)) from None
    wanted = []
    if pattern is not None:
        wanted.append(f"matching /{pattern.pattern}/")
    for flag, yes, no in (("closed", "closed", "still open"), ("prompt", "a prompt", "not a prompt")):
        if flag in args:
            wanted.append(yes if args[flag] else no)
    ok = (
        (pattern is None or pattern.search(screen.text) is not None)
        and ("closed" not in args or screen.closed == args["closed"])
        and ("prompt" not in args or screen.expects_reply == args["prompt"])
    )
    if not ok:
        raise StepFailed(
            f"{name}'s USSD screen is not as expected", "a screen " + ", ".join(wanted), _screen_text(screen)
        )
    _capture(world, pattern, screen.text)


def send_sms(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    name, phone = world.handset(args)
    try:
        phone.send_sms(str(args["text"]), world.number(args["to"]))
    except SmsgwError as error:
        raise StepFailed(f"{name} could not send the SMS to {args['to']}", actual=str(error)) from None


def expect_sms(world: World, step: Step) -> None:
    args = _args(step, world.variables, "text")
    _, phone = world.handset(args)
    pattern = _pattern(args)
    sender = world.number(args["from"]) if "from" in args else None
    try:
        sms = phone.wait_for_sms(pattern, sender=sender, timeout=_within(args))
    except SmsNotReceived as error:
        raise StepFailed(str(error)) from None
    _capture(world, pattern, sms.text)


def expect_no_sms(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    _, phone = world.handset(args)
    sender = world.number(args["from"]) if "from" in args else None
    try:
        phone.expect_no_sms(float(args["within"]), _pattern(args), sender)
    except UnexpectedSms as error:
        raise StepFailed(str(error)) from None


def _switch(state: str) -> Callable[[World, Step], None]:
    def switch(world: World, step: Step) -> None:
        args = _args(step, world.variables, None)
        _, phone = world.handset(args)
        phone.set_state(state)

    return switch


# -- merchant steps --------------------------------------------------------------------


def checkout(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    name, phone = world.handset(args)
    body = {
        "msisdn": phone.msisdn,
        "amount": args["amount"],
        "currency": args.get("currency", "CNY"),
        "method": args.get("method", "otp"),
    }
    try:
        order = world.network.shop("POST", "/orders", body)
    except SmsgwError as error:
        if error.status is None:
            raise  # no answer at all: the run's set-up is wrong, not the flow
        raise StepFailed("the shop refused the order", actual=str(error)) from None
    world.remember("order", args.get("as"), order)
    expect = args.get("expect")
    ended = order["status"] in FINAL_STATUSES
    if expect is not None and (not ended or order["reason"] != expect):
        raise StepFailed(
            f"order {order['id']} for {name}", f"failed at once (reason {expect})", _order_text(order)
        )
    if expect is None and ended and not _next_is(world, step, "expect_order"):
        # Without this the next step waits its whole time for an SMS or a prompt that never comes.
        raise StepFailed(
            f"order {order['id']} for {name} ended at once: {_order_text(order)}",
            "an order waiting for the buyer (awaiting_confirmation); to test this outcome write"
            f" checkout: {{..., expect: {order['reason']}}}",
            _order_text(order),
        )


def _order_text(order: Mapping[str, Any]) -> str:
    return f"{order['status']} (reason {order['reason']})"


def _next_is(world: World, step: Step, action: str) -> bool:
    """Whether the step after ``step`` (1-based ``index``) is ``action``."""
    steps = world.scenario.steps
    return step.index < len(steps) and steps[step.index].action == action


def confirm_code(world: World, step: Step) -> None:
    args = _args(step, world.variables, "code")
    order = world.recall("order", args.get("order"))
    expect = args.get("expect", "paid")
    try:
        answer = world.network.shop("POST", f"/orders/{order['id']}/confirm", {"code": str(args["code"])})
        outcome = answer["status"]
    except SmsgwError as error:
        if error.status != 422:
            raise StepFailed(f"confirming order {order['id']} failed", actual=str(error)) from None
        outcome = error.code
        detail = f"refused: {error.code} ({error.message})"
    else:
        detail = f"order {outcome}"
    if outcome != expect:
        wanted = "the order paid" if expect == "paid" else f"a refusal {expect}"
        raise StepFailed(f"confirming code {args['code']} for order {order['id']}", wanted, detail)


def cancel_order(world: World, step: Step) -> None:
    args = _args(step, world.variables, "order")
    order = world.recall("order", args.get("order"))
    expect = args.get("expect", "cancelled")
    try:
        outcome = world.network.shop("POST", f"/orders/{order['id']}/cancel")["status"]
        detail = f"order {outcome}"
    except SmsgwError as error:
        if error.status != 409:
            raise StepFailed(f"cancelling order {order['id']} failed", actual=str(error)) from None
        outcome, detail = error.code, f"refused: {error.code} ({error.message})"
    if outcome != expect:
        raise StepFailed(f"cancelling order {order['id']}", expect, detail)


def _poll(check: Callable[[], tuple[bool, str]], within: float) -> tuple[bool, str]:
    deadline = time.monotonic() + within
    while True:
        ok, seen = check()
        if ok or time.monotonic() >= deadline:
            return ok, seen
        time.sleep(_POLL)


#: Order statuses that never change again.
FINAL_STATUSES = frozenset({"paid", "failed", "expired", "cancelled"})


def expect_order(world: World, step: Step) -> None:
    args = _args(step, world.variables, "status")
    name = args.get("order") or world.last.get("order")
    order = world.recall("order", name)
    wanted = args["status"] + (f" (reason {args['reason']})" if "reason" in args else "")
    ended: list[str] = []

    def check() -> tuple[bool, str]:
        current = world.network.shop("GET", f"/orders/{order['id']}")
        world.variables[name or "order"] = current
        ok = current["status"] == args["status"] and (
            "reason" not in args or current["reason"] == args["reason"]
        )
        seen = f"{current['status']} (reason {current['reason']})"
        if not ok and current["status"] in FINAL_STATUSES:
            ended.append(seen)
            return True, seen  # a final status never changes: waiting longer cannot help
        return ok, seen

    ok, seen = _poll(check, _within(args))
    if ended:
        raise StepFailed(f"order {order['id']} ended {ended[0]}, not as expected", wanted, seen)
    if not ok:
        raise StepFailed(
            f"order {order['id']} did not become {args['status']} within {_within(args):g} s", wanted, seen
        )


def expect_wallet(world: World, step: Step) -> None:
    args = _args(step, world.variables, "balance")
    name, phone = world.handset(args)

    def check() -> tuple[bool, str]:
        wallet = world.network.shop("GET", f"/wallets/{phone.msisdn}")
        wanted = _money(args["balance"], wallet["currency"])
        return wallet["balance"] == wanted, format_money(wallet["balance"], wallet["currency"])

    ok, seen = _poll(check, _within(args))
    if not ok:
        raise StepFailed(f"{name}'s wallet balance", str(args["balance"]), seen)


# -- carrier steps ---------------------------------------------------------------------


def advance_clock(world: World, step: Step) -> None:
    """Move the scenario's own clock (its namespace's), or the whole carrier's when it says
    ``whole_carrier: true`` or has a handset on a fixed number (see Scenario.moves_carrier_clock)."""
    args = _args(step, world.variables, "seconds")
    body: dict[str, Any] = {"advance_seconds": args["seconds"]}
    if world.network.namespace_clocks and not world.scenario.moves_carrier_clock:
        body["namespace"] = world.namespace
    world.network.carrier("POST", "/api/clock", body)


def add_faults(world: World, rules: list[Any]) -> None:
    """Add fault rules for the scenario's own handsets; they are removed when the scenario ends."""
    try:
        rendered = render(rules, world.variables)
    except Undefined as error:
        raise StepFailed(str(error)) from None
    for rule in rendered:
        body = {**rule, "name": f"{world.namespace}:{rule['name']}", "namespace": world.namespace}
        named = body.get("msisdn")
        if isinstance(named, str) and named in world.phones:
            body["msisdn"] = world.phones[named].msisdn
            if named in world.fixed:
                # A number given in the file (a magic number) is in no namespace: the rule
                # strikes it for whoever uses it, as the docs say.
                del body["namespace"]
        try:
            world.network.carrier("POST", "/api/faults", body)
        except SmsgwError as error:
            raise StepFailed(f"the carrier refused fault {rule['name']!r}", actual=str(error)) from None
        world.fault_names.append(body["name"])


def faults(world: World, step: Step) -> None:
    add_faults(world, list(step.args))


# -- ESME steps ------------------------------------------------------------------------


def _esme(world: World) -> ScenarioEsme:
    if world.network.esme is None:
        raise StepFailed("this step needs an SMPP bind, and the run has none (give --esme)")
    try:
        return world.network.esme()
    except EsmeError as error:
        raise StepFailed("the run's ESME could not bind", actual=str(error)) from None


def submit(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    esme = _esme(world)
    destination = world.number(args["to"])
    try:
        result = esme.submit(
            str(args.get("from", "12345")),
            destination,
            str(args["text"]),
            receipt=bool(args.get("receipt", False)),
            schedule=str(args.get("schedule", "")),
            validity=str(args.get("validity", "")),
        )
    except EsmeError as error:
        raise StepFailed(f"submit_sm to {destination} failed", actual=str(error)) from None
    expected = args.get("expect_status", "ESME_ROK")
    if status_name(result.status) != expected:
        got = status_name(result.status) + (
            f" (message_id {result.message_ids[0]})" if result.message_ids else ""
        )
        raise StepFailed(f"submit_sm to {destination}", f"command_status {expected}", got)
    if result.status == CommandStatus.ESME_ROK:
        ids = list(result.message_ids)
        world.remember("message", args.get("as"), {"id": ids[-1], "ids": ids, "to": destination})


def expect_receipt(world: World, step: Step) -> None:
    args = _args(step, world.variables, "stat")
    message = world.recall("message", args.get("message"))
    wanted, err, count = args.get("stat", "DELIVRD"), args.get("err"), int(args.get("count", 1))
    expected = f"stat:{wanted}" + (f" err:{int(err):03d}" if err is not None else "")
    if count > 1:
        expected = f"{count} receipts, each {expected}"
    esme = _esme(world)
    deadline = time.monotonic() + _within(args)
    receipts = esme.receipts(message["id"], wait=_within(args))
    while 0 < len(receipts) < count and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(_POLL, left))
        receipts = esme.receipts(message["id"])
    if len(receipts) < count:
        seen = "; ".join(r.text for r in receipts) or "no receipt"
        raise StepFailed(f"receipts of message {message['id']} within {_within(args):g} s", expected, seen)
    for receipt in receipts:
        if receipt.stat != wanted or (err is not None and int(receipt.err) != int(err)):
            raise StepFailed(f"receipt of message {message['id']}", expected, receipt.text)


def expect_no_receipt(world: World, step: Step) -> None:
    args = _args(step, world.variables, None)
    message = world.recall("message", args.get("message"))
    receipts = _esme(world).receipts(message["id"], wait=float(args["within"]))
    if receipts:
        raise StepFailed(f"message {message['id']} got a receipt", "no receipt", receipts[0].text)


def expect_mo(world: World, step: Step) -> None:
    args = _args(step, world.variables, "text")
    name = str(args.get("from") or next(iter(world.phones)))
    phone = world.phones[name]
    pattern = _pattern(args)
    short_code = str(args["to"]) if "to" in args else None
    esme = _esme(world)
    try:
        mo = esme.take_mo(phone.msisdn, pattern=pattern, short_code=short_code, wait=_within(args))
    except EsmeError as error:
        raise StepFailed(f"waiting for an MO from {name} failed", actual=str(error)) from None
    if mo is None:
        raise StepFailed(
            f"no matching MO from {name} ({phone.msisdn}) reached the run's ESME within {_within(args):g} s",
            _mo_wanted(name, pattern, short_code),
            _mo_arrived(esme, name, phone),
        )
    _capture(world, pattern, mo.text)


def _mo_wanted(name: str, pattern: re.Pattern[str] | None, short_code: str | None) -> str:
    return (
        f"an MO from {name}"
        + (f" to {short_code}" if short_code is not None else "")
        + (f" matching /{pattern.pattern}/" if pattern is not None else "")
    )


def _mo_arrived(esme: ScenarioEsme, name: str, phone: Phone) -> str:
    """The MO from the handset that no step has taken; with none, what the phone sent: a text
    to a short code of another account (the mock merchant's, say) never comes to the ESME."""
    arrived = esme.mo_from(phone.msisdn)
    if arrived:
        return f"from {name}: " + "; ".join(map(str, arrived))
    sent = "; ".join(f"{sms.text!r} to {sms.recipient}" for sms in phone.sent()) or "nothing"
    return f"no MO from {name}; its sent box: {sent}"


# -- the timeline ------------------------------------------------------------------------


def expect_timeline(world: World, step: Step) -> None:
    """The carrier recorded these steps in this order (others may come between): of an
    order, a handset, a message, or else of every handset of the scenario."""
    args = _args(step, world.variables, "steps")
    query, whose = _timeline_scope(world, args)
    wanted = [_timeline_item(item) for item in args["steps"]]
    seen: list[dict[str, Any]] = []

    def check() -> tuple[bool, str]:
        seen[:] = world.network.carrier("GET", "/api/timeline", limit=5000, **query)["steps"]
        return _find_in_order(wanted, seen) == len(wanted), ""

    ok, _ = _poll(check, _within(args))
    if not ok:
        found = _find_in_order(wanted, seen)
        recorded = ", ".join(str(s.get("kind")) for s in seen[-40:]) or "no step at all"
        raise StepFailed(
            f"the timeline of {whose} lacks {_show_item(wanted[found])} after the {found} steps before it"
            f" (within {_within(args):g} s)",
            " then ".join(_show_item(item) for item in wanted),
            f"{len(seen)} steps: {recorded}",
        )


def _timeline_scope(world: World, args: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """The ``GET /api/timeline`` filter an expect_timeline names, and how to say it."""
    if "order" in args:
        return {"order": str(args["order"])}, f"order {args['order']}"
    if "message" in args:
        return {"message_id": str(args["message"])}, f"message {args['message']}"
    if "handset" in args:
        name = str(args["handset"])
        if name not in world.phones:
            raise StepFailed(f"no handset {name!r} in this scenario (it has: {', '.join(world.phones)})")
        return {"msisdn": world.phones[name].msisdn}, f"{name} ({world.phones[name].msisdn})"
    return {"namespace": world.namespace}, "the scenario's handsets"


def _timeline_item(item: Any) -> dict[str, str]:
    """A wanted step: its kind, and what its detail must hold (each a regular expression)."""
    wanted = {"kind": item} if isinstance(item, str) else dict(item)
    for key, value in wanted.items():
        try:
            re.compile(str(value))
        except re.error as error:
            raise StepFailed(f"{key}: /{value}/ is not a regular expression: {error}") from None
    return {key: str(value) for key, value in wanted.items()}


def _find_in_order(wanted: Sequence[Mapping[str, str]], steps: Sequence[Mapping[str, Any]]) -> int:
    """How many of the wanted steps appear in order among ``steps``."""
    found = 0
    for recorded in steps:
        if found < len(wanted) and _matches(wanted[found], recorded):
            found += 1
    return found


def _matches(wanted: Mapping[str, str], recorded: Mapping[str, Any]) -> bool:
    if recorded.get("kind") != wanted["kind"]:
        return False
    detail = recorded.get("detail") or {}
    for key, pattern in wanted.items():
        if key == "kind":
            continue
        value = detail.get(key, recorded.get(key))
        if value is None or re.search(pattern, str(value)) is None:
            return False
    return True


def _show_item(item: Mapping[str, str]) -> str:
    extra = ", ".join(f"{key} /{value}/" for key, value in item.items() if key != "kind")
    return item["kind"] + (f" ({extra})" if extra else "")


STEPS: dict[str, Callable[[World, Step], None]] = {
    "dial": dial,
    "answer": answer,
    "cancel": cancel,
    "expect_screen": expect_screen,
    "send_sms": send_sms,
    "expect_sms": expect_sms,
    "expect_no_sms": expect_no_sms,
    "switch_off": _switch("off"),
    "switch_on": _switch("on"),
    "checkout": checkout,
    "confirm_code": confirm_code,
    "expect_order": expect_order,
    "cancel_order": cancel_order,
    "expect_wallet": expect_wallet,
    "advance_clock": advance_clock,
    "faults": faults,
    "submit": submit,
    "expect_receipt": expect_receipt,
    "expect_no_receipt": expect_no_receipt,
    "expect_mo": expect_mo,
    "expect_timeline": expect_timeline,
}
