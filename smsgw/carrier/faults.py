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
from collections.abc import Iterable

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

    def matches(self, system_id: str, msisdn: str) -> bool:
        """Whether an event for this account and destination is one this rule counts."""
        if self.account is not None and self.account != system_id:
            return False
        return self.msisdn is None or fnmatch.fnmatchcase(msisdn, self.msisdn)


class FaultBook:
    """The rules in force, with what each has counted.

    :param rng: the generator for probabilities (seeded, so a run can be repeated).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), rng: random.Random | None = None) -> None:
        self.rules = list(rules)
        self.rng = rng or random.Random()
        self._seen: dict[str, int] = {}

    def strike(self, effect: str, system_id: str, msisdn: str) -> FaultRule | None:
        """The first rule with this effect that fires for this event, or None.

        Every matching rule counts the event, fired or not, so "every 3rd" stays exact when
        several rules overlap.
        """
        fired: FaultRule | None = None
        for rule in self.rules:
            if rule.effect != effect or not rule.matches(system_id, msisdn):
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
