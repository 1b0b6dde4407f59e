"""The timeline's sink without a store: whom it records, on which clock, what it holds back
for the front end, and how often it prunes."""

from __future__ import annotations

from typing import Any

import pytest

from smsgw.carrier.clock import Clocks, FakeClock
from smsgw.carrier.events import EventBus, FaultInjected, HandsetChanged
from smsgw.carrier.subscribers import Subscriber, SubscriberRegistry
from smsgw.carrier.timeline import Timeline
from smsgw.store.records import TimelineStep

IN_CI = "8613800000071"
NOWHERE = "8613800000072"


class Steps:
    """What a store is asked to keep: the steps added."""

    def __init__(self) -> None:
        self.added: list[TimelineStep] = []

    def add_step(self, step: TimelineStep) -> None:
        self.added.append(step)

    @property
    def kinds(self) -> list[str]:
        return [step.kind for step in self.added]


def attached(record: str = "namespaces", max_steps: int = 100_000) -> tuple[Timeline, Steps, FakeClock, Any]:
    clock = FakeClock()
    subscribers = SubscriberRegistry([Subscriber(IN_CI, namespace="ci"), Subscriber(NOWHERE)])
    clocks = Clocks(clock, subscribers.namespace_of)
    steps, events = Steps(), EventBus()
    timeline = Timeline(record, max_steps)
    timeline.attach(steps, clocks, events)  # type: ignore[arg-type]
    return timeline, steps, clock, (clocks, events)


@pytest.mark.parametrize(
    ("record", "on", "everyone", "in_ci", "in_none"),
    [
        ("namespaces", True, False, "ci", None),
        ("all", True, True, "ci", ""),
        ("off", False, False, None, None),
    ],
)
def test_the_gates_say_whose_steps_are_recorded(
    record: str, on: bool, everyone: bool, in_ci: str | None, in_none: str | None
) -> None:
    """The mode sets two attributes the hot paths read; wants() and namespace_for() agree with them."""
    timeline, _, _, _ = attached(record)
    assert (timeline.on, timeline.everyone) == (on, everyone)
    assert timeline.wants("ci") is (in_ci is not None)
    assert timeline.wants("") is (in_none is not None)
    assert timeline.namespace_for(IN_CI) == in_ci
    assert timeline.namespace_for(NOWHERE) == in_none


def test_a_wrong_mode_or_bound_is_refused() -> None:
    """An unknown mode, or keeping no step, is a mistake said at construction."""
    with pytest.raises(ValueError, match="namespaces, all, off"):
        Timeline("some")
    with pytest.raises(ValueError, match="at least 1"):
        Timeline("all", 0)


def test_a_step_is_stamped_on_its_namespace_clock() -> None:
    """A namespace advanced by a test stamps its steps ahead of the carrier's clock; a
    handset in no namespace gets the carrier's time."""
    timeline, steps, clock, (clocks, _) = attached("all")
    clocks.advance("ci", 3600)
    timeline.record("http", "ci", IN_CI)
    timeline.record("http", "", NOWHERE)
    assert [step.at for step in steps.added] == [clock.now() + 3600, clock.now()]


def test_held_steps_wait_for_what_goes_before_them() -> None:
    """Steps recorded while held are given back, not stored; what the caller records then
    goes first, and holdings nest."""
    timeline, steps, _, _ = attached()
    outer = timeline.hold()
    timeline.record("message.accepted", "ci", IN_CI)
    inner = timeline.hold()
    timeline.record("fault", "ci", IN_CI)
    faults = timeline.release(inner)
    timeline.add(faults)  # still inside the outer holding
    held = timeline.release(outer)
    assert steps.added == []
    timeline.record("smpp.submit_sm", "ci", IN_CI)
    timeline.add(held)
    assert steps.kinds == ["smpp.submit_sm", "message.accepted", "fault"]


def test_held_steps_count_when_they_are_stored() -> None:
    """A step held and then dropped by nobody is counted once, when it reaches the store."""
    timeline, steps, _, _ = attached(max_steps=10)
    outer = timeline.hold()
    timeline.record("http", "ci", IN_CI)
    held = timeline.release(outer)
    assert timeline.added == 0
    timeline.add(held)
    assert timeline.added == 1 and len(steps.added) == 1


def test_a_companion_notes_steps_only_of_handsets_recorded() -> None:
    """The merchant's steps (note) keep the ids it gives, and are dropped for a handset the
    timeline does not record."""
    timeline, steps, _, _ = attached()
    timeline.note("merchant.order", IN_CI, {"status": "paid"}, order_id="ord_0001")
    timeline.note("merchant.order", NOWHERE, {"status": "paid"}, order_id="ord_0002")
    (step,) = steps.added
    assert (step.kind, step.namespace, step.msisdn, step.order_id, step.detail) == (
        "merchant.order",
        "ci",
        IN_CI,
        "ord_0001",
        {"status": "paid"},
    )


def test_faults_and_handset_changes_of_recorded_handsets_are_steps() -> None:
    """A fault struck and a handset switched off are recorded from the carrier's events, for
    recorded handsets only; with the timeline off it follows no event at all."""
    timeline, steps, _, (_, events) = attached()
    events.emit(FaultInjected("slow", "delay", "shop", IN_CI, "held 30 s", "7"))
    events.emit(FaultInjected("slow", "delay", "shop", NOWHERE, "held 30 s", "8"))
    events.emit(HandsetChanged(IN_CI, "", "off"))
    assert steps.kinds == ["fault", "handset.state"]
    assert steps.added[0].detail == {"rule": "slow", "effect": "delay", "detail": "held 30 s"}
    assert steps.added[0].message_id == "7"
    assert steps.added[1].detail == {"state": "off", "name": "", "removed": False}
    off, _, _, (_, quiet) = attached("off")
    assert not quiet.wanted


def test_a_namespace_clock_advance_is_a_step_of_its_namespace() -> None:
    """Moving a recorded namespace's clock is recorded in it, with how far it now runs ahead."""
    timeline, steps, clock, (clocks, _) = attached()
    clocks.advance("ci", 300)
    timeline.clock_advanced("ci", 300)
    at = clock.now() + 300
    clocks.advance("", 10)
    timeline.clock_advanced("", 10)  # the carrier's clock: no namespace of its own
    (step,) = steps.added
    assert (step.kind, step.namespace, step.detail) == ("clock.advance", "ci", {"seconds": 300, "ahead": 300})
    assert step.at == at
