"""Injected faults: rules that make the network misbehave on purpose, predictably.

A rule names what it matches (destination MSISDN pattern, ESME account, short or USSD
service code), how often it fires (every Nth matching event, or with a probability drawn
from a seeded generator, at most ``limit`` times), and its effect. The carrier asks the book
at each point where a fault can strike; a rule that fires is reported as a
:class:`~smsgw.carrier.events.FaultInjected` event, so a test can tell an injected failure
from a bug.

Effects, and where the carrier asks for them (docs/faults.md has what the ESME sees):

- at a submit_sm or data_sm that passed its checks: ``drop_connection`` (the connection is
  closed without an answer) and ``refuse_submit`` (answered with a chosen command_status);
- when an MT would reach its phone: ``unreachable`` (held as for a phone that is off),
  ``delay_delivery`` (held for a fixed or random time), ``fail_delivery`` (ends in a chosen
  failed state) and ``garble_text`` (reaches the phone altered);
- when a final receipt is owed: ``no_receipt`` (never sent) and ``duplicate_receipt`` (sent
  twice);
- in USSD: ``unreachable`` refuses a network-initiated push, and ``ussd_timeout`` takes an
  application's answer as too late.

Rules come from the config, from the magic numbers and from the HTTP API; the book can
change at run time, and rebuilds its index when it does, so that asking it stays a slice and
a dict lookup for the numbers no rule names.
"""

from __future__ import annotations

import fnmatch
import random
import re
from collections.abc import Callable, Iterable

import attrs

from smsgw.carrier.events import EventBus, FaultInjected
from smsgw.carrier.subscribers import namespace_and_parents, normalize_msisdn
from smsgw.smpp.constants import CommandStatus, MessageState, status_name
from smsgw.text.coding import is_ucs2

EFFECTS = (
    "refuse_submit",
    "fail_delivery",
    "drop_connection",
    "delay_delivery",
    "unreachable",
    "no_receipt",
    "duplicate_receipt",
    "ussd_timeout",
    "garble_text",
)
#: The keys every rule takes.
COMMON_KEYS = ("name", "effect", "msisdn", "account", "code", "every", "probability", "limit")
#: The keys only some effects take; any other effect refuses them.
EFFECT_KEYS = {
    "refuse_submit": ("status",),
    "fail_delivery": ("state", "error"),
    "delay_delivery": ("delay",),
}
#: Where a rule was made: the config file, the built-in magic numbers, or the HTTP API.
SOURCES = ("config", "magic", "api")
#: The final states a ``fail_delivery`` may end a message in (receipt ``stat``).
FAILED_STATES = {
    "UNDELIV": MessageState.UNDELIV,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTD,
}
#: What ``garble_text`` puts in place of a character: '?' is the same octet in GSM 03.38,
#: ASCII and Latin-1, and the same code unit in UCS2, so the text stays decodable.
GARBLE_CHARACTER = 0x3F
_GSM_ESCAPE = 0x1B
_UDHI = 0x40


def _delay_range(value: float | tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None or isinstance(value, tuple):
        return value
    return (float(value), float(value))


def _check_delay(rule: FaultRule, attribute: attrs.Attribute, value: tuple[float, float] | None) -> None:
    if value is not None and not 0 <= value[0] <= value[1]:
        raise ValueError(f"delay {value} is not a range of seconds from low to high")
    if (value is None) == (rule.effect == "delay_delivery"):
        raise ValueError("delay is what a delay_delivery rule needs, and no other effect takes")


@attrs.frozen
class FaultRule:
    """One fault.

    :ivar name: how events and errors name it.
    :ivar effect: one of :data:`EFFECTS`.
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
    effect: str = attrs.field(validator=attrs.validators.in_(EFFECTS))
    msisdn: str | None = None
    account: str | None = None
    code: str | None = None
    every: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    probability: float = attrs.field(
        default=1.0, validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))
    )
    limit: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    status: int = CommandStatus.ESME_RTHROTTLED
    state: int = attrs.field(
        default=MessageState.UNDELIV, validator=attrs.validators.in_(tuple(FAILED_STATES.values()))
    )
    error: int = attrs.field(
        default=1, validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(999))
    )
    delay: tuple[float, float] | None = attrs.field(
        default=None, converter=_delay_range, validator=_check_delay
    )
    namespace: str | None = None
    source: str = attrs.field(default="config", validator=attrs.validators.in_(SOURCES), eq=False)

    _number_matches: Callable[[str], bool] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_number_matches", _glob_matcher(self.msisdn))

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
        if self.effect == "refuse_submit":
            return status_name(self.status)
        if self.effect == "fail_delivery":
            return f"{MessageState(self.state).name} err {self.error:03d}"
        return self.effect.replace("_", " ")


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


class FaultBook:
    """The rules in force, with what each has counted and fired.

    :param rng: the generator for probabilities, random delays and garbling (seeded, so a
        run can be repeated).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        #: The namespace of a number's handset ("" for none); the carrier sets it.
        self.namespace_of: Callable[[str], str] = lambda msisdn: ""
        self._rules: dict[str, FaultRule] = {}
        self._seen: dict[str, int] = {}
        self._fired: dict[str, int] = {}
        for rule in rules:
            self._rules[rule.name] = rule
        self._reindex()

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

    def remove(self, name: str) -> FaultRule:
        """Take a rule out of force and forget its counts.

        :raises KeyError: when no rule has this name.
        """
        rule = self._rules.pop(name)
        self._seen.pop(name, None)
        self._fired.pop(name, None)
        self._reindex()
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
        self._by_effect: dict[str, _EffectIndex] = {}
        suffixes: set[str] = set()
        scanned = False
        self._namespaces = frozenset(r.namespace for r in self._rules.values() if r.namespace is not None)
        for effect in EFFECTS:
            index = _EffectIndex()
            for order, rule in enumerate(self._rules.values()):
                if rule.effect != effect:
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
        namespace = self.namespace_of(msisdn)
        return bool(namespace) and any(n in self._namespaces for n in namespace_and_parents(namespace))

    def strike(self, effect: str, system_id: str, msisdn: str, code: str = "") -> FaultRule | None:
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
        if index.by_namespace and (namespace := self.namespace_of(msisdn)):
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

    # -- what the effects draw -------------------------------------------------------

    def delay_of(self, rule: FaultRule) -> float:
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


def announce(
    events: EventBus,
    rule: FaultRule,
    system_id: str,
    msisdn: str,
    detail: str | None = None,
    message_id: str = "",
) -> None:
    """Report that a rule struck (only built when someone follows fault events)."""
    if events.wants(FaultInjected):
        events.emit(
            FaultInjected(rule.name, rule.effect, system_id, msisdn, detail or rule.detail, message_id)
        )


def _magic(suffix: str, name: str, effect: str, **effect_keys: object) -> FaultRule:
    # The suffix keeps them country-neutral: +86 199 9999 0001 and +1 199 9999 0001 alike.
    return FaultRule(
        f"magic:{name}",
        effect,
        msisdn=f"*1999999{suffix}",
        source="magic",
        **effect_keys,  # type: ignore[arg-type]
    )


#: Numbers that misbehave with no set-up at all (docs/faults.md), for the first test a team
#: writes. None drops the connection: an ESME that resends, as it should, would loop forever.
MAGIC_NUMBERS = (
    _magic("0001", "undeliverable", "fail_delivery", state=MessageState.UNDELIV, error=1),
    _magic("0002", "expired", "fail_delivery", state=MessageState.EXPIRED, error=27),
    _magic("0003", "rejected", "fail_delivery", state=MessageState.REJECTD, error=11),
    _magic("0004", "throttled", "refuse_submit", status=CommandStatus.ESME_RTHROTTLED),
    _magic("0005", "system-error", "refuse_submit", status=CommandStatus.ESME_RSYSERR),
    _magic("0006", "queue-full", "refuse_submit", status=CommandStatus.ESME_RMSGQFUL),
    _magic("0007", "no-receipt", "no_receipt"),
    _magic("0008", "duplicate-receipt", "duplicate_receipt"),
    _magic("0009", "delayed-30s", "delay_delivery", delay=30.0),
    _magic("0010", "unreachable", "unreachable"),
    _magic("0011", "garbled", "garble_text"),
)
