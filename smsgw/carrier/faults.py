"""Injected faults: rules that make the network misbehave on purpose, predictably.

A rule names what it matches (destination MSISDN pattern, ESME account, short or USSD
service code), how often it fires (every Nth matching event, or with a probability drawn
from a seeded generator, at most ``limit`` times), and its :class:`Effect`. The carrier asks
the book at each point where a fault can strike; a rule that fires is reported as a
:class:`~smsgw.carrier.events.FaultInjected` event, so a test can tell an injected failure
from a bug.

Effects, and where they strike (docs/faults.md has what the ESME sees):

- at a submit_sm or data_sm that passed its checks: ``drop_connection`` (the connection is
  closed without an answer) and ``refuse_submit`` (answered with a chosen command_status);
- when an MT would reach its phone: ``unreachable`` (held as for a phone that is off),
  ``delay_delivery`` (held for a fixed or random time), ``fail_delivery`` (ends in a chosen
  failed state) and ``garble_text`` (reaches the phone altered);
- when a final receipt is owed: ``no_receipt`` (never sent) and ``duplicate_receipt`` (sent
  twice);
- in USSD: ``unreachable`` refuses a network-initiated push, and ``ussd_timeout`` takes an
  application's answer as too late.

What happens to an MT is decided once, as a :class:`FaultPlan`, when it reaches (or would
reach) its phone; the message center applies the plan.

Rules come from the config, from the magic numbers and from the HTTP API, all read by
:meth:`FaultRule.from_mapping`; the book can change at run time, and rebuilds its index when
it does, so that asking it stays a slice and a dict lookup for the numbers no rule names.
"""

from __future__ import annotations

import enum
import fnmatch
import random
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from smsgw.carrier.errors import Refusal, Rejected
from smsgw.carrier.events import EventBus, FaultInjected
from smsgw.carrier.reports import wants_receipt
from smsgw.carrier.subscribers import (
    NAMESPACE_PATTERN,
    NAMESPACE_RULE,
    namespace_and_parents,
    normalize_msisdn,
)
from smsgw.carrier.ussd import base_code
from smsgw.smpp.constants import CommandStatus, MessageState, status_name
from smsgw.store.records import MessageRecord
from smsgw.text.coding import is_ucs2


class Effect(enum.Enum):
    """What a rule does when it fires; the value is how the config and the API spell it."""

    _value_: str
    REFUSE_SUBMIT = "refuse_submit"
    FAIL_DELIVERY = "fail_delivery"
    DROP_CONNECTION = "drop_connection"
    DELAY_DELIVERY = "delay_delivery"
    UNREACHABLE = "unreachable"
    NO_RECEIPT = "no_receipt"
    DUPLICATE_RECEIPT = "duplicate_receipt"
    USSD_TIMEOUT = "ussd_timeout"
    GARBLE_TEXT = "garble_text"


#: The keys only some effects take; any other effect refuses them.
EFFECT_KEYS = {
    Effect.REFUSE_SUBMIT: ("status",),
    Effect.FAIL_DELIVERY: ("state", "error"),
    Effect.DELAY_DELIVERY: ("delay",),
}
#: Where a rule was made: the config file, the built-in magic numbers, or the HTTP API.
SOURCES = ("config", "magic", "api")
#: The final states a ``fail_delivery`` may end a message in (receipt ``stat``).
FAILED_STATES = {
    "UNDELIV": MessageState.UNDELIV,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTD,
}
#: The longest injected delay: a year, well past any SMPP validity period.
MAX_FAULT_DELAY = 366 * 86400.0
#: What ``garble_text`` puts in place of a character: '?' is the same octet in GSM 03.38,
#: ASCII and Latin-1, and the same code unit in UCS2, so the text stays decodable.
GARBLE_CHARACTER = 0x3F
_GSM_ESCAPE = 0x1B
_UDHI = 0x40
_DELIVRD = MessageState.DELIVRD


def _delay_range(value: float | tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None or isinstance(value, tuple):
        return value
    return (float(value), float(value))


@attrs.frozen
class FaultRule:
    """One fault, as :meth:`from_mapping` read and checked it.

    :ivar name: how events and errors name it.
    :ivar effect: what it does.
    :ivar msisdn: a glob over the destination's digits (``86139*``, ``8613800000??``); None
        matches every destination.
    :ivar account: the ESME account (system_id) it applies to; None matches every account.
    :ivar code: for SMS effects, the short code an MT is sent from (its source_addr, where
        replies go); for ``ussd_timeout``, the USSD service code (``*126#``); None matches any.
    :ivar every: fire on every Nth matching event (1 = each one); 0 uses ``probability``.
    :ivar probability: the chance (0-1) that a matching event fires when ``every`` is 0.
    :ivar limit: fire at most this many times (0 = no limit).
    :ivar status: the command_status of a ``refuse_submit``.
    :ivar state: the final message_state of a ``fail_delivery`` (UNDELIV, EXPIRED or REJECTD).
    :ivar error: the network error code of a ``fail_delivery`` (the receipt's ``err``, 0-999).
    :ivar delay: the (low, high) seconds of a ``delay_delivery``; equal for a fixed delay.
    :ivar namespace: the test world it is confined to: it strikes only handsets of that
        namespace and of the namespaces inside it (see ``/api/namespaces``); None strikes any.
    :ivar source: where the rule was made (:data:`SOURCES`).
    """

    name: str
    effect: Effect = attrs.field(converter=Effect)
    msisdn: str | None = None
    account: str | None = None
    code: str | None = None
    every: int = 0
    probability: float = 1.0
    limit: int = 0
    status: int = CommandStatus.ESME_RTHROTTLED
    state: int = MessageState.UNDELIV
    error: int = 1
    delay: tuple[float, float] | None = attrs.field(default=None, converter=_delay_range)
    namespace: str | None = None
    source: str = attrs.field(default="config", eq=False)

    _number_matches: Callable[[str], bool] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_number_matches", _glob_matcher(self.msisdn))

    @classmethod
    def from_mapping(
        cls, table: object, *, where: str = "", source: str = "config", country_code: str = "86"
    ) -> FaultRule:
        """A rule from a ``[[faults]]`` table, an API body or a magic number, every key checked.

        :param where: how problems name the rule (``faults[0]``); empty names the keys alone.
        :param country_code: reads a national number in ``msisdn``, as handsets' numbers are read.
        :raises InvalidFaultRule: naming the key, what was given, and what would do.
        """
        return cls(**_checked_fields(table, where, source, country_code), source=source)

    def matches(self, system_id: str, msisdn: str, code: str = "") -> bool:
        """Whether an event for this account, destination and code is one this rule counts."""
        if self.account is not None and self.account != system_id:
            return False
        if self.code is not None and self.code != code:
            return False
        return self._number_matches(msisdn)

    @property
    def detail(self) -> str:
        """What the rule does, as events say it (the effects that draw say what they drew)."""
        if self.effect is Effect.REFUSE_SUBMIT:
            return status_name(self.status)
        if self.effect is Effect.FAIL_DELIVERY:
            return f"{MessageState(self.state).name} err {self.error:03d}"
        spelled: str = self.effect.value
        return spelled.replace("_", " ")

    def as_mapping(self) -> dict[str, Any]:
        """The rule as :meth:`from_mapping` reads it back (and the API shows it): every key,
        None for those not set."""
        mapping: dict[str, Any] = {
            "name": self.name,
            "effect": self.effect.value,
            "msisdn": self.msisdn,
            "account": self.account,
            "code": self.code,
            "every": self.every or None,
            "probability": None if self.every else self.probability,
            "limit": self.limit or None,
            "namespace": self.namespace,
        }
        mapping.update(self.effect_keys())
        return mapping

    def effect_keys(self) -> dict[str, Any]:
        """The keys only this rule's effect takes, written as the config writes them."""
        if self.effect is Effect.REFUSE_SUBMIT:
            known = self.status in CommandStatus._value2member_map_
            return {"status": CommandStatus(self.status).name if known else self.status}
        if self.effect is Effect.FAIL_DELIVERY:
            return {"state": MessageState(self.state).name, "error": self.error}
        if self.effect is Effect.DELAY_DELIVERY and self.delay is not None:
            low, high = self.delay
            return {"delay": low if low == high else [low, high]}
        return {}


# -- reading a rule ------------------------------------------------------------------


class InvalidFaultRule(ValueError):
    """A rule that cannot be: each problem names its key, what was given, and what would do.

    :ivar problems: every mistake found (a rule is checked whole, so one answer lists them).
    """

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(self.problems)


def _number(where: str, value: Any, *, minimum: float = 0, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidFaultRule(f"{where}: {value!r} is not {'an integer' if integer else 'a number'}")
    if value < minimum:
        raise InvalidFaultRule(f"{where}: {value!r} is below the minimum {minimum:g}")
    return value


def _text(where: str, value: Any, *, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidFaultRule(f"{where}: {value!r} is not a string")
    if max_length is not None and len(value) > max_length:
        raise InvalidFaultRule(f"{where}: {value!r} is longer than {max_length} characters (SMPP limit)")
    return value


def _one_of(where: str, value: Any, options: Iterable[str]) -> str:
    options = tuple(options)  # a dict's keys would refuse an unhashable value with TypeError
    if value not in options:
        raise InvalidFaultRule(f"{where}: {value!r} is not one of {', '.join(options)}")
    return str(value)


def _effect(where: str, value: Any) -> Effect:
    return Effect(_one_of(where, value, [effect.value for effect in Effect]))


def _name(where: str, value: Any) -> str:
    name = _text(where, value)
    if not name or "/" in name:
        raise InvalidFaultRule(
            f"{where}: {name!r}: a rule needs a name without '/' (it goes in /api/faults/{{name}})"
        )
    if name.startswith("magic:"):
        raise InvalidFaultRule(
            f"{where}: {name!r}: names starting with 'magic:' belong to the built-in magic numbers"
        )
    return name


def _command_status(where: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(CommandStatus[value])
        except KeyError:
            raise InvalidFaultRule(
                f"{where}: {value!r} is not an SMPP command_status name (e.g. ESME_RTHROTTLED)"
            ) from None
    status = int(_number(where, value, minimum=1, integer=True))
    if status > 0xFFFFFFFF:
        raise InvalidFaultRule(f"{where}: {status} does not fit a 32-bit command_status")
    return status


def _error_code(where: str, value: Any) -> int:
    code = int(_number(where, value, integer=True))
    if code > 999:
        raise InvalidFaultRule(f"{where}: {code} does not fit a receipt's err field (0-999)")
    return code


def _probability(where: str, value: Any) -> float:
    chance = float(_number(where, value))
    if chance > 1:
        raise InvalidFaultRule(f"{where}: {chance:g} is not a probability; use 0 to 1 (0.25 = one in four)")
    return chance


def _namespace(where: str, value: Any) -> str:
    name = _text(where, value)
    if not name or not NAMESPACE_PATTERN.fullmatch(name):
        raise InvalidFaultRule(f"{where}: {name!r} is not a namespace: {NAMESPACE_RULE}")
    return name


def _delay(where: str, value: Any) -> float | tuple[float, float]:
    if isinstance(value, list):
        if len(value) != 2:
            raise InvalidFaultRule(
                f"{where}: {value!r} is not a range; give [low, high] in seconds, e.g. [5, 60]"
            )
        low, high = (float(_number(f"{where}[{i}]", v)) for i, v in enumerate(value))
        if low > high:
            raise InvalidFaultRule(
                f"{where}: [{low:g}, {high:g}] runs backwards; write the lower bound first"
            )
        if high > MAX_FAULT_DELAY:
            raise InvalidFaultRule(f"{where}: {high:g} s is over a year; use at most {MAX_FAULT_DELAY:.0f}")
        return (low, high)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidFaultRule(
            f"{where}: {value!r} is not seconds (e.g. 30) nor a range of seconds (e.g. [5, 60])"
        )
    seconds = float(_number(where, value))
    if seconds > MAX_FAULT_DELAY:
        raise InvalidFaultRule(f"{where}: {seconds:g} s is over a year; use at most {MAX_FAULT_DELAY:.0f}")
    return seconds


_RULE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _name,
    "effect": _effect,
    "msisdn": _text,
    "account": lambda w, v: _text(w, v, max_length=15),
    "code": lambda w, v: _text(w, v, max_length=21),
    "every": lambda w, v: int(_number(w, v, minimum=1, integer=True)),
    "probability": _probability,
    "limit": lambda w, v: int(_number(w, v, minimum=1, integer=True)),
    "status": _command_status,
    "state": lambda w, v: int(FAILED_STATES[_one_of(w, v, FAILED_STATES)]),
    "error": _error_code,
    "delay": _delay,
    "namespace": _namespace,
}
#: The magic numbers' names are the reserved ``magic:…``.
_MAGIC_CHECKS = {**_RULE_CHECKS, "name": _text}
#: The keys a fault rule takes (the config's [[faults]] and POST /api/faults alike).
FAULT_KEYS = tuple(_RULE_CHECKS)


def _checked_fields(table: object, where: str, source: str, country_code: str) -> dict[str, Any]:
    """The fields of a rule, every key checked; the problems of all keys raised together,
    then those between keys."""
    prefix = f"{where}." if where else ""
    effects = ", ".join(effect.value for effect in Effect)
    problems = [
        f"{where or key}: {key} is required (effects: {effects})"
        for key in ("name", "effect")
        if isinstance(table, Mapping) and key not in table
    ]
    if not isinstance(table, Mapping):
        raise InvalidFaultRule(f"{where}: expected a table, got {table!r}")
    checks = _MAGIC_CHECKS if source == "magic" else _RULE_CHECKS
    fields: dict[str, Any] = {}
    wrong: list[str] = []
    for key, value in table.items():
        if key not in checks:
            lead = f"{where}: " if where else ""
            wrong.append(f"{lead}unknown key {key!r}; allowed keys are {', '.join(sorted(checks))}")
            continue
        try:
            fields[key] = checks[key](f"{prefix}{key}", value)
        except InvalidFaultRule as error:
            wrong += error.problems
    problems += wrong
    if "msisdn" in fields and not wrong:
        try:
            fields["msisdn"] = _number_glob(f"{prefix}msisdn", fields["msisdn"], country_code)
        except InvalidFaultRule as error:
            problems += error.problems
    if problems:
        raise InvalidFaultRule(*problems)
    effect: Effect = fields["effect"]
    for key in fields:
        owners = [e.value for e, keys in EFFECT_KEYS.items() if key in keys]
        if owners and effect.value not in owners:
            raise InvalidFaultRule(
                f"{prefix}{key}: {effect.value} takes no {key} (only {' and '.join(owners)} does); remove it"
            )
    if "every" in fields and "probability" in fields:
        raise InvalidFaultRule(f"{where or 'every'}: give every (each Nth) or probability, not both")
    if effect is Effect.DELAY_DELIVERY and "delay" not in fields:
        raise InvalidFaultRule(
            f"{prefix}delay: delay_delivery needs it: seconds (e.g. 30) or a range (e.g. [5, 60])"
        )
    if "code" in fields:
        _check_code(f"{prefix}code", effect, fields["code"])
    return fields


def _number_glob(where: str, written: str, country_code: str) -> str:
    pattern = number_pattern(written, country_code)
    if pattern is None:
        raise InvalidFaultRule(
            f"{where}: {written!r} is neither a phone number nor a glob over one; write a number as "
            'handsets take it ("+86 139 0000 0001", "13900000001"), a short code ("12345"), or a glob '
            'over the E.164 digits ("86139*", "*0001", "8613800000??"; "+44*" for another country)'
        )
    return pattern


def _check_code(where: str, effect: Effect, code: str) -> None:
    is_ussd = base_code(code) == (code, [])
    if effect is Effect.USSD_TIMEOUT and not is_ussd:
        raise InvalidFaultRule(
            f'{where}: {code!r} is not a USSD service code; ussd_timeout matches one, e.g. "*126#"'
        )
    if effect is not Effect.USSD_TIMEOUT and (is_ussd or not code):
        raise InvalidFaultRule(
            f"{where}: {code!r}: {effect.value} matches the short code a message is sent from (its source_addr), "
            'e.g. "12345"; a USSD service code only goes with ussd_timeout'
        )


#: One place of a number glob: a digit, ``?``, ``*`` or a set of digits (``[0-5]``, ``[!9]``).
_GLOB_PLACE = re.compile(r"[0-9?*]|\[!?(?:[0-9](?:-[0-9])?)+\]")
#: A dash outside a set: written between groups of digits ("138-0000-0003"), not part of them.
_GROUP_DASH = re.compile(r"-(?![^\[]*\])")
#: The most digits an E.164 number has.
_E164_DIGITS = 15
_SHORT_CODE_DIGITS = 5


def number_pattern(written: str, country_code: str) -> str | None:
    """The glob a rule matches destinations by, read as handsets' numbers are read; None when
    it cannot match a phone number nor a short code.

    A whole number in any notation becomes its E.164 digits (``+86 138 0000 0003``,
    ``13800000003`` and ``8613800000003`` alike; see
    :func:`~smsgw.carrier.subscribers.normalize_msisdn`), a short code stays as written. A glob
    gets the same reading of its start: ``+``/``00`` is international (``+44*``), the country
    code is kept (``86139*``), other leading digits are national (``139*`` is ``86139*``), and
    one that starts with ``*``, ``?`` or a set (``*0001``) matches the number's end as written.
    """
    text = _GROUP_DASH.sub("", "".join(written.split()))
    international = text.startswith(("+", "00"))
    body = text[1:] if text.startswith("+") else text[2:] if international else text
    places = _GLOB_PLACE.findall(body)
    if not body or "".join(places) != body:
        return None
    if not any(c in body for c in "*?["):
        if not international and len(body) <= _SHORT_CODE_DIGITS:
            return body
        return normalize_msisdn(text, country_code)
    if not (international or not body[0].isdigit() or body.startswith(country_code)):
        body = country_code + body.lstrip("0")
    fixed = sum(place != "*" for place in _GLOB_PLACE.findall(body))
    return body if fixed <= _E164_DIGITS else None


def _glob_matcher(pattern: str | None) -> Callable[[str], bool]:
    """A test for one glob; the common shapes (``*0001``, ``86139*``, a whole number) skip the
    regular expression, since the rules are asked on every submit and delivery."""
    if pattern is None:
        return lambda number: True
    literal = pattern.strip("*")
    if not any(c in literal for c in "*?["):
        if pattern == literal:
            return literal.__eq__
        if pattern == "*" + literal:
            return lambda number: number.endswith(literal)
        if pattern == literal + "*":
            return lambda number: number.startswith(literal)
    regex = re.compile(fnmatch.translate(pattern))
    return lambda number: regex.match(number) is not None


@attrs.define
class _EffectIndex:
    by_suffix: dict[str, list[tuple[int, FaultRule]]] = attrs.Factory(dict)
    suffix_lengths: tuple[int, ...] = ()
    scanned: list[tuple[int, FaultRule]] = attrs.Factory(list)
    by_namespace: dict[str, list[tuple[int, FaultRule]]] = attrs.Factory(dict)


def _literal_suffix(pattern: str | None) -> str | None:
    """``0001`` for ``*0001``; None for any other shape."""
    if pattern is None or not pattern.startswith("*"):
        return None
    literal = pattern[1:]
    return literal if literal and not any(c in literal for c in "*?[") else None


@attrs.frozen
class FaultPlan:
    """What the injected faults do to one MT when it reaches (or would reach) its phone,
    decided once by :meth:`FaultBook.plan_delivery` or :meth:`FaultBook.plan_end` and
    applied by the message center. The rules that struck are announced as it is decided,
    but for the duplicate receipt, announced as it is queued.

    :ivar unreachable: held as for a phone that is off (until the phone is switched on
        again, or its validity ends).
    :ivar delayed_until: held until then (carrier time), then let go to the phone.
    :ivar fail_state: the failed final state it ends in instead of reaching the phone.
    :ivar fail_error: the network error code of that failure (the receipt's ``err``).
    :ivar garbled: the text that reaches the phone in place of the one sent.
    :ivar receipt_withheld: the final receipt it owes is never sent.
    :ivar duplicate_receipt: the rule that sends its final receipt twice.
    """

    unreachable: bool = False
    delayed_until: float | None = None
    fail_state: int | None = None
    fail_error: int = 0
    garbled: bytes | None = None
    receipt_withheld: bool = False
    duplicate_receipt: FaultRule | None = None

    @property
    def holds(self) -> bool:
        """Whether it keeps the message from its phone for now."""
        return self.unreachable or self.delayed_until is not None


#: The plan of every message no rule strikes (shared: the common case allocates nothing).
NO_FAULTS = FaultPlan()
_UNREACHABLE = FaultPlan(unreachable=True)


class FaultBook:
    """The rules in force, with what each has counted and fired.

    :param rng: the generator for probabilities, random delays and garbling (seeded, so a
        run can be repeated).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self._events = EventBus()
        self._namespace_of: Callable[[str], str] = lambda msisdn: ""
        self._rules: dict[str, FaultRule] = {}
        self._seen: dict[str, int] = {}
        self._fired: dict[str, int] = {}
        #: Told after a rule is put in force or taken out (a cluster shares the API's rules).
        self.on_change: Callable[[], None] | None = None
        for rule in rules:
            self._rules[rule.name] = rule
        self._reindex()

    def attach(self, events: EventBus, namespace_of: Callable[[str], str]) -> None:
        """Report strikes on the carrier's bus, and read handsets' namespaces through it
        (the carrier calls this once, before anything is asked)."""
        self._events = events
        self._namespace_of = namespace_of

    # -- the rules -------------------------------------------------------------------

    @property
    def rules(self) -> list[FaultRule]:
        """The rules in the order they are asked (config, then magic numbers, then API)."""
        return list(self._rules.values())

    def get(self, name: str) -> FaultRule | None:
        """The rule with this name, if any."""
        return self._rules.get(name)

    def add(self, rule: FaultRule) -> None:
        """Put a rule in force after the others, its counts at zero.

        :raises ValueError: when a rule already has its name.
        """
        if rule.name in self._rules:
            raise ValueError(f"a fault rule named {rule.name!r} already exists")
        self._rules[rule.name] = rule
        self._reindex()
        if self.on_change is not None:
            self.on_change()

    def remove(self, name: str) -> FaultRule:
        """Take a rule out of force and forget its counts.

        :raises KeyError: when no rule has this name.
        """
        rule = self._rules.pop(name)
        self._seen.pop(name, None)
        self._fired.pop(name, None)
        self._reindex()
        if self.on_change is not None:
            self.on_change()
        return rule

    def remove_from(self, source: str) -> list[FaultRule]:
        """Take every rule of one source out of force; return them."""
        gone = [rule for rule in self._rules.values() if rule.source == source]
        for rule in gone:
            self.remove(rule.name)
        return gone

    def counts(self, name: str) -> tuple[int, int]:
        """(events counted, times fired) of a rule."""
        return self._seen.get(name, 0), self._fired.get(name, 0)

    def _reindex(self) -> None:
        # Asked on every submit and delivery: rules for one number ending ("*0001", as the
        # magic numbers) are found by a slice and a dict lookup instead of one test each.
        # Rules of one test's namespace are found through the number's namespace, so they
        # cost nothing for the numbers of other tests.
        self._by_effect: dict[Effect, _EffectIndex] = {}
        suffixes: set[str] = set()
        scanned = False
        self._namespaces = frozenset(r.namespace for r in self._rules.values() if r.namespace is not None)
        for effect in Effect:
            index = _EffectIndex()
            for order, rule in enumerate(self._rules.values()):
                if rule.effect is not effect:
                    continue
                suffix = _literal_suffix(rule.msisdn)
                if rule.namespace is not None:
                    index.by_namespace.setdefault(rule.namespace, []).append((order, rule))
                elif suffix is None:
                    index.scanned.append((order, rule))
                else:
                    index.by_suffix.setdefault(suffix, []).append((order, rule))
            index.suffix_lengths = tuple(sorted({len(suffix) for suffix in index.by_suffix}))
            if index.scanned or index.by_suffix or index.by_namespace:
                self._by_effect[effect] = index
            suffixes.update(index.by_suffix)
            scanned = scanned or bool(index.scanned)
        self._any_suffix = frozenset(suffixes)
        self._any_lengths = tuple(sorted({len(suffix) for suffix in suffixes}))
        self._any_scanned = scanned

    # -- asking ----------------------------------------------------------------------

    def may_strike(self, msisdn: str) -> bool:
        """Whether any rule could strike an event for this number (one check before several
        :meth:`strike` calls, so a number no rule names costs one lookup, not one per effect)."""
        if self._any_scanned:
            return True
        suffixes = self._any_suffix
        for length in self._any_lengths:
            if msisdn[-length:] in suffixes:
                return True
        if not self._namespaces:
            return False
        namespace = self._namespace_of(msisdn)
        return bool(namespace) and any(n in self._namespaces for n in namespace_and_parents(namespace))

    def strike(self, effect: Effect, system_id: str, msisdn: str, code: str = "") -> FaultRule | None:
        """The first rule (in book order) with this effect that fires for this event, or None.

        Every matching rule counts the event, fired or not, so "every 3rd" stays exact when
        several rules overlap.
        """
        index = self._by_effect.get(effect)
        if index is None:
            return None
        by_suffix = index.by_suffix
        hits: list[tuple[int, FaultRule]] = []
        for length in index.suffix_lengths:
            hit = by_suffix.get(msisdn[-length:])
            if hit:
                hits += hit
        if index.by_namespace and (namespace := self._namespace_of(msisdn)):
            for name in namespace_and_parents(namespace):
                hits += index.by_namespace.get(name, ())
        if not hits and not index.scanned:
            return None  # the common case: a number no rule names
        candidates = sorted(index.scanned + hits, key=lambda entry: entry[0])
        fired: FaultRule | None = None
        for _, rule in candidates:
            if not rule.matches(system_id, msisdn, code):
                continue
            count = self._seen.get(rule.name, 0) + 1
            self._seen[rule.name] = count
            if fired is None and self._fires(rule, count):
                fired = rule
                self._fired[rule.name] = self._fired.get(rule.name, 0) + 1
        return fired

    def _fires(self, rule: FaultRule, count: int) -> bool:
        if rule.limit and self._fired.get(rule.name, 0) >= rule.limit:
            return False
        if rule.every:
            return count % rule.every == 0
        return rule.probability >= 1.0 or self.rng.random() < rule.probability

    def _struck(
        self,
        effect: Effect,
        system_id: str,
        msisdn: str,
        code: str,
        detail: str | None = None,
        message_id: str = "",
    ) -> FaultRule | None:
        """:meth:`strike`, announcing the rule that fired."""
        rule = self.strike(effect, system_id, msisdn, code)
        if rule is not None:
            self._announce(rule, system_id, msisdn, detail, message_id)
        return rule

    def _announce(
        self, rule: FaultRule, system_id: str, msisdn: str, detail: str | None, message_id: str
    ) -> None:
        # Only built when someone follows fault events.
        if self._events.wants(FaultInjected):
            self._events.emit(
                FaultInjected(
                    rule.name, rule.effect.value, system_id, msisdn, detail or rule.detail, message_id
                )
            )

    # -- at a submit -----------------------------------------------------------------

    def drops_connection(self, system_id: str, msisdn: str, code: str, detail: str) -> FaultRule | None:
        """The ``drop_connection`` rule that closes the connection a submit came on instead
        of answering it (announced with ``detail``), or None."""
        return self._struck(Effect.DROP_CONNECTION, system_id, msisdn, code, detail)

    def check_submit(self, system_id: str, msisdn: str, code: str) -> None:
        """Refuse a submit that passed its checks when a ``refuse_submit`` rule fires.

        :raises Rejected: INJECTED, with the rule's status (an SMPP command_status, which
            users write; another protocol's front end maps it).
        """
        rule = self._struck(Effect.REFUSE_SUBMIT, system_id, msisdn, code)
        if rule is not None:
            raise Rejected(
                Refusal.INJECTED,
                f"injected fault {rule.name!r}: {rule.detail} for {msisdn}",
                status=rule.status,
            )

    # -- in USSD ---------------------------------------------------------------------

    def refuses_push(self, system_id: str, msisdn: str, code: str) -> FaultRule | None:
        """The ``unreachable`` rule that keeps a network-initiated USSD push from its phone
        (announced), or None."""
        detail = "USSD push refused: ESME_RDELIVERYFAILURE"
        return self._struck(Effect.UNREACHABLE, system_id, msisdn, code, detail)

    def answer_too_late(self, system_id: str, msisdn: str, code: str, session: int) -> bool:
        """Whether a ``ussd_timeout`` rule takes an application's answer in a dialogue as
        too late (announced)."""
        detail = f"answer in dialogue {session} taken as too late: app_timeout"
        return self._struck(Effect.USSD_TIMEOUT, system_id, msisdn, code, detail) is not None

    # -- an MT's plan ----------------------------------------------------------------

    def plan_delivery(self, record: MessageRecord, now: float) -> FaultPlan:
        """What happens to an MT due to a phone that takes SMS (on submit, or when it was
        held, scheduled, or its phone came on): held as unreachable or delayed, else what
        :meth:`plan_end` says for DELIVRD."""
        if not self.may_strike(record.msisdn):
            return NO_FAULTS
        system_id, msisdn, code = record.system_id, record.msisdn, record.source_addr
        detail = "held: the handset is out of reach"
        if self._struck(Effect.UNREACHABLE, system_id, msisdn, code, detail, record.message_id):
            return _UNREACHABLE
        rule = self.strike(Effect.DELAY_DELIVERY, system_id, msisdn, code)
        if rule is not None:
            delay = self._delay_of(rule)
            self._announce(rule, system_id, msisdn, f"delayed {delay:g} s", record.message_id)
            return FaultPlan(delayed_until=now + delay)
        return self._plan_end(record, _DELIVRD)

    def plan_end(self, record: MessageRecord, state: int) -> FaultPlan:
        """What happens to an MT that ends in ``state`` now without being held again (an
        injected delay ended, or it expired, was cancelled or replaced): for DELIVRD, a
        failure instead or garbled text; for any state, its receipt withheld or sent twice."""
        if not self.may_strike(record.msisdn):
            return NO_FAULTS
        return self._plan_end(record, state)

    def _plan_end(self, record: MessageRecord, state: int) -> FaultPlan:
        system_id, msisdn, code, message_id = (
            record.system_id,
            record.msisdn,
            record.source_addr,
            record.message_id,
        )
        failed: FaultRule | None = None
        garbled: bytes | None = None
        if state == _DELIVRD:
            failed = self._struck(Effect.FAIL_DELIVERY, system_id, msisdn, code, None, message_id)
            if failed is not None:
                state = failed.state
            elif (rule := self.strike(Effect.GARBLE_TEXT, system_id, msisdn, code)) is not None:
                garbled, replaced, total = self.garble(record.body, record.esm_class, record.data_coding)
                detail = f"{replaced} of {total} characters replaced with '?'"
                self._announce(rule, system_id, msisdn, detail, message_id)
        withheld = False
        duplicate = None
        if wants_receipt(record.registered_delivery, state):
            name = MessageState(state).name
            withheld = (
                self._struck(
                    Effect.NO_RECEIPT, system_id, msisdn, code, f"receipt {name} withheld", message_id
                )
                is not None
            )
            if not withheld:
                duplicate = self.strike(Effect.DUPLICATE_RECEIPT, system_id, msisdn, code)
        if failed is None and garbled is None and not withheld and duplicate is None:
            return NO_FAULTS
        return FaultPlan(
            fail_state=None if failed is None else failed.state,
            fail_error=0 if failed is None else failed.error,
            garbled=garbled,
            receipt_withheld=withheld,
            duplicate_receipt=duplicate,
        )

    def announce_duplicate_receipt(self, plan: FaultPlan, record: MessageRecord) -> None:
        """Report the rule that sends a final receipt twice, as the second is queued."""
        assert plan.duplicate_receipt is not None
        detail = f"receipt {MessageState(record.state).name} sent twice"
        self._announce(plan.duplicate_receipt, record.system_id, record.msisdn, detail, record.message_id)

    # -- what the effects draw -------------------------------------------------------

    def _delay_of(self, rule: FaultRule) -> float:
        """The seconds a ``delay_delivery`` holds one message: fixed, or drawn from its range."""
        assert rule.delay is not None
        low, high = rule.delay
        return low if low == high else self.rng.uniform(low, high)

    def garble(self, body: bytes, esm_class: int, data_coding: int) -> tuple[bytes, int, int]:
        """Replace about one character in four (at least one) with '?', drawn from the rng.

        A UDH is left whole, and so are GSM escape pairs and UCS2 surrogate pairs, so the
        garbled text still decodes and reassembles like the original.

        :returns: (the garbled body, characters replaced, characters in the text).
        """
        start = body[0] + 1 if esm_class & _UDHI and body else 0
        width = 2 if is_ucs2(data_coding) else 1
        total = (len(body) - start) // width
        eligible = _garbleable(body, start, width)
        if not eligible:
            return body, 0, total
        chosen = self.rng.sample(eligible, min(len(eligible), max(1, total // 4)))
        text = bytearray(body)
        for i in chosen:
            text[i : i + width] = _GARBLED[width]
        return bytes(text), len(chosen), total


_GARBLED = {1: bytes((GARBLE_CHARACTER,)), 2: bytes((0, GARBLE_CHARACTER))}


def _garbleable(body: bytes, start: int, width: int) -> list[int]:
    """Where a character may be replaced: not a '?' already, nor half of an escape or
    surrogate pair."""
    if width == 2:
        return [
            i
            for i in range(start, len(body) - 1, 2)
            if not 0xD8 <= body[i] <= 0xDF and body[i : i + 2] != _GARBLED[2]
        ]
    return [
        i
        for i in range(start, len(body))
        if body[i] not in (_GSM_ESCAPE, GARBLE_CHARACTER) and not (i > start and body[i - 1] == _GSM_ESCAPE)
    ]


def _magic(suffix: str, name: str, effect: str, **effect_keys: object) -> FaultRule:
    # The suffix keeps them country-neutral: +86 199 9999 0001 and +1 199 9999 0001 alike.
    table = {"name": f"magic:{name}", "effect": effect, "msisdn": f"*1999999{suffix}", **effect_keys}
    return FaultRule.from_mapping(table, where=f"magic:{name}", source="magic")


#: Numbers that misbehave with no set-up at all (docs/faults.md), for the first test a team
#: writes. None drops the connection: an ESME that resends, as it should, would loop forever.
MAGIC_NUMBERS = (
    _magic("0001", "undeliverable", "fail_delivery", state="UNDELIV", error=1),
    _magic("0002", "expired", "fail_delivery", state="EXPIRED", error=27),
    _magic("0003", "rejected", "fail_delivery", state="REJECTD", error=11),
    _magic("0004", "throttled", "refuse_submit", status="ESME_RTHROTTLED"),
    _magic("0005", "system-error", "refuse_submit", status="ESME_RSYSERR"),
    _magic("0006", "queue-full", "refuse_submit", status="ESME_RMSGQFUL"),
    _magic("0007", "no-receipt", "no_receipt"),
    _magic("0008", "duplicate-receipt", "duplicate_receipt"),
    _magic("0009", "delayed-30s", "delay_delivery", delay=30.0),
    _magic("0010", "unreachable", "unreachable"),
    _magic("0011", "garbled", "garble_text"),
)
