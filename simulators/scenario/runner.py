"""Runs scenarios in parallel, each with its own handsets, and reports each as it ends.

Each scenario has a namespace of its own, and so a clock of its own: ``advance_clock`` moves
its handsets' time and nobody else's, so scenarios that travel in time run beside the others.
Scenarios that move the whole carrier's clock run alone: jumping it would expire other
scenarios' codes and messages mid-flow. So do those that drop an ESME's connection (the mock
merchant is everybody's) and those marked ``alone: true``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from simulators import timeline
from simulators.http import SmsgwError
from simulators.scenario.model import Scenario, Step
from simulators.scenario.steps import STEPS, Network, StepFailed, World


@attrs.frozen
class Outcome:
    """How one scenario ended.

    :ivar status: ``passed``, ``failed`` (a step saw something else) or ``error`` (a step
        could not run: the carrier refused a request, or a bug).
    :ivar step: the step that failed, or None (set-up, or passed).
    :ivar message: what went wrong, expected against actual.
    :ivar timeline: for a scenario that did not pass, every step of its handsets the carrier
        recorded (``GET /api/timeline``), oldest first.
    :ivar timeline_note: why there is no timeline to show, when there is none.
    """

    scenario: Scenario
    status: str
    seconds: float
    step: Step | None = None
    message: str = ""
    timeline: tuple[dict[str, Any], ...] = ()
    timeline_note: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def where(self) -> str:
        """File and line of the failing step (or of the scenario)."""
        line = self.step.line if self.step is not None else self.scenario.line
        return f"{self.scenario.path}:{line}"


class _Turns:
    """A shared/exclusive lock: ordinary scenarios share the carrier, those that run alone
    (they move its clock, say) take it alone."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharing = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    def acquire(self, exclusive: bool) -> None:
        with self._changed:
            if exclusive:
                self._exclusive_waiting += 1
                self._changed.wait_for(lambda: not self._exclusive and self._sharing == 0)
                self._exclusive_waiting -= 1
                self._exclusive = True
            else:
                self._changed.wait_for(lambda: not self._exclusive and not self._exclusive_waiting)
                self._sharing += 1

    def release(self, exclusive: bool) -> None:
        with self._changed:
            if exclusive:
                self._exclusive = False
            else:
                self._sharing -= 1
            self._changed.notify_all()


class _EarlierStepFailed(Exception):
    def __init__(self, step: Step, failure: StepFailed) -> None:
        self.step = step
        self.failure = failure


def _check_ended_dialogue(world: World) -> None:
    """A dialogue that ended for want of the application's answer fails its step, unless the
    very next step looks at the screen (expect_screen)."""
    if world.unchecked_end is not None:
        step, summary, detail = world.unchecked_end
        raise _EarlierStepFailed(step, StepFailed(summary, actual=detail))


def run_scenario(scenario: Scenario, network: Network, number: int = 1) -> Outcome:
    """Set up, run each step in order until one fails, and clean up.

    :param number: the scenario's place in the run, naming its namespace inside the run's.
    """
    world = World(scenario, network, number)
    started = time.monotonic()
    step: Step | None = None
    status = ""  # none yet: an interrupt ends the run before one is known
    try:
        world.set_up()
        for step in scenario.steps:
            if step.action != "expect_screen":
                _check_ended_dialogue(world)
            STEPS[step.action](world, step)
        _check_ended_dialogue(world)
        status, message = "passed", ""
    except _EarlierStepFailed as failure:
        step, status, message = failure.step, "failed", str(failure.failure)
    except StepFailed as failure:
        status, message = "failed", str(failure)
    except SmsgwError as error:
        status, message = "error", f"the carrier answered unexpectedly: {error}"
    except Exception as error:  # noqa: BLE001 - one scenario's crash must not stop the others
        status = "error"
        message = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
    finally:
        steps, note = [], ""
        if status in ("failed", "error"):  # read before the clean-up, while its handsets are its own
            steps, note = timeline.fetch(network.http_url, world.namespace, timeout=network.timeout)
        try:
            world.tear_down()
        except SmsgwError as error:
            status, message = "error", (message + "\n" if message else "") + f"clean-up failed: {error}"
    return Outcome(
        scenario,
        status,
        time.monotonic() - started,
        step if status != "passed" else None,
        message,
        tuple(steps),
        note,
    )


def run_all(
    scenarios: Sequence[Scenario],
    network: Network,
    *,
    jobs: int,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Run every scenario, ``jobs`` at a time; return the outcomes in the order given."""
    turns = _Turns()
    lock = threading.Lock()

    def one(numbered: tuple[int, Scenario]) -> Outcome:
        number, scenario = numbered
        # A carrier with one clock for all: any jump is the whole carrier's.
        exclusive = scenario.runs_alone or (scenario.moves_clock and not network.namespace_clocks)
        turns.acquire(exclusive)
        try:
            outcome = run_scenario(scenario, network, number)
        finally:
            turns.release(exclusive)
        with lock:
            on_done(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="scenario")
    try:
        futures = [pool.submit(one, numbered) for numbered in enumerate(scenarios, 1)]
        return [future.result() for future in futures]
    finally:
        # On Ctrl-C nothing new starts; the scenarios under way end as the carrier goes.
        pool.shutdown(wait=False, cancel_futures=True)
