"""Injected faults: rules that make the network misbehave on purpose, predictably.

A rule names what it matches (destination MSISDN pattern, ESME account), how often it fires
(every Nth matching event, or with a probability drawn from a seeded generator), and its
effect. The carrier asks the book at each point where a fault can strike; a rule that fires
is reported as a :class:`~smsgw.carrier.events.FaultInjected` event, so a test can tell an
injected failure from a bug.

Effects so far: ``refuse_submit`` (submit_sm / data_sm answered with a chosen command_status)
and ``fail_delivery`` (the message never reaches the phone; it ends in a chosen final state and
error code, which its receipt carries).
"""

from __future__ import annotations

import fnmatch
import random
import re
from collections.abc import Callable, Iterable

import attrs

from smsgw.smpp.constants import CommandStatus, MessageState

EFFECTS = ("refuse_submit", "fail_delivery")
#: The final states a ``fail_delivery`` may end a message in (receipt ``stat``).
FAILED_STATES = {
    "UNDELIV": MessageState.UNDELIV,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTD,
}


@attrs.frozen
class FaultRule:
    """One fault.

    :ivar name: how events and errors name it.
    :ivar effect: one of :data:`EFFECTS`.
    :ivar msisdn: a glob over the destination's digits (``86139*``, ``8613800000??``); None
        matches every destination.
    :ivar account: the ESME account (system_id) it applies to; None matches every account.
    :ivar every: fire on every Nth matching event (1 = each one); 0 uses ``probability``.
    :ivar probability: the chance (0-1) that a matching event fires when ``every`` is 0.
    :ivar status: the command_status of a ``refuse_submit``.
    :ivar state: the final message_state of a ``fail_delivery`` (UNDELIV, EXPIRED or REJECTD).
    :ivar error: the network error code of a ``fail_delivery`` (the receipt's ``err``, 0-999).
    """

    name: str
    effect: str = attrs.field(validator=attrs.validators.in_(EFFECTS))
    msisdn: str | None = None
    account: str | None = None
    every: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    probability: float = attrs.field(
        default=1.0, validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))
    )
    status: int = CommandStatus.ESME_RTHROTTLED
    state: int = attrs.field(
        default=MessageState.UNDELIV, validator=attrs.validators.in_(tuple(FAILED_STATES.values()))
    )
    error: int = attrs.field(
        default=1, validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(999))
    )

    _number_matches: Callable[[str], bool] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_number_matches", _glob_matcher(self.msisdn))

    def matches(self, system_id: str, msisdn: str) -> bool:
        """Whether an event for this account and destination is one this rule counts."""
        if self.account is not None and self.account != system_id:
            return False
        return self._number_matches(msisdn)


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


def _literal_suffix(pattern: str | None) -> str | None:
    """``0001`` for ``*0001``; None for any other shape."""
    if pattern is None or not pattern.startswith("*"):
        return None
    literal = pattern[1:]
    return literal if literal and not any(c in literal for c in "*?[") else None


class FaultBook:
    """The rules in force, with what each has counted.

    :param rng: the generator for probabilities (seeded, so a run can be repeated).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), rng: random.Random | None = None) -> None:
        self.rules = list(rules)
        self.rng = rng or random.Random()
        self._seen: dict[str, int] = {}
        # Asked on every submit and delivery: rules for one number ending ("*0001", as the
        # magic numbers) are found by a slice and a dict lookup instead of one test each.
        self._by_effect: dict[str, _EffectIndex] = {}
        for effect in EFFECTS:
            index = _EffectIndex()
            for order, rule in enumerate(self.rules):
                if rule.effect != effect:
                    continue
                suffix = _literal_suffix(rule.msisdn)
                if suffix is None:
                    index.scanned.append((order, rule))
                else:
                    index.by_suffix.setdefault(suffix, []).append((order, rule))
            index.suffix_lengths = tuple(sorted({len(suffix) for suffix in index.by_suffix}))
            if index.scanned or index.by_suffix:
                self._by_effect[effect] = index

    def strike(self, effect: str, system_id: str, msisdn: str) -> FaultRule | None:
        """The first rule (in file order) with this effect that fires for this event, or None.

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
        if not hits and not index.scanned:
            return None  # the common case: a number no rule names
        candidates = sorted(index.scanned + hits, key=lambda entry: entry[0])
        fired: FaultRule | None = None
        for _, rule in candidates:
            if not rule.matches(system_id, msisdn):
                continue
            count = self._seen.get(rule.name, 0) + 1
            self._seen[rule.name] = count
            if fired is None and self._fires(rule, count):
                fired = rule
        return fired

    def _fires(self, rule: FaultRule, count: int) -> bool:
        if rule.every:
            return count % rule.every == 0
        return rule.probability >= 1.0 or self.rng.random() < rule.probability


def _magic(
    suffix: str,
    name: str,
    effect: str,
    *,
    state: int = MessageState.UNDELIV,
    error: int = 1,
    status: int = CommandStatus.ESME_RTHROTTLED,
) -> FaultRule:
    # The suffix keeps them country-neutral: +86 199 9999 0001 and +1 199 9999 0001 alike.
    return FaultRule(
        f"magic:{name}", effect, msisdn=f"*1999999{suffix}", state=state, error=error, status=status
    )


#: Numbers that misbehave with no set-up at all (docs/faults.md), for the first test a team writes.
MAGIC_NUMBERS = (
    _magic("0001", "undeliverable", "fail_delivery", state=MessageState.UNDELIV, error=1),
    _magic("0002", "expired", "fail_delivery", state=MessageState.EXPIRED, error=27),
    _magic("0003", "rejected", "fail_delivery", state=MessageState.REJECTD, error=11),
    _magic("0004", "throttled", "refuse_submit", status=CommandStatus.ESME_RTHROTTLED),
    _magic("0005", "system-error", "refuse_submit", status=CommandStatus.ESME_RSYSERR),
    _magic("0006", "queue-full", "refuse_submit", status=CommandStatus.ESME_RMSGQFUL),
)
