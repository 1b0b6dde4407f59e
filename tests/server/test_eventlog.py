"""The refusal log on a fake clock: a budget of lines, and state bounded whatever names come."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent

from smsgw.carrier.events import EventBus, FaultInjected, Refused
from smsgw.server.eventlog import LogBudget, RefusalLog


def _bind_refused(n: int) -> Refused:
    return Refused(
        n, f"attacker{n}", "bind_transceiver", "ESME_RINVSYSID", f"no account with system_id 'attacker{n}'"
    )


def test_200000_unique_system_ids_log_a_bounded_number_of_lines() -> None:
    """10,000 refusals a second for 20 s, each with a new name: 20 lines a second and one
    summary, and the log's state never holds more than the budget's names."""
    clock, events = Clock(), EventBus()
    refusal_log = RefusalLog(events, clock.seconds, budget=20, call_later=clock.callLater)
    budget: LogBudget = refusal_log._log.budget
    with capturedLogs() as captured:
        for n in range(200_000):
            events.emit(_bind_refused(n))
            assert len(budget._logged) <= 20 and len(budget._held) <= 1
            if n % 10_000 == 9_999:
                clock.advance(1.0)
        clock.advance(1.0)
    lines = [formatEvent(event) for event in captured]
    assert len(lines) == 20 * 20 + 20  # 20 a second, and each second's summary
    summaries = [line for line in lines if "more refusals" in line]
    assert summaries[0] == "… and 9980 more refusals and faults not logged one by one (ESME_RINVSYSID 9980)"
    assert sum(int(line.split()[2]) for line in summaries) == 200_000 - 400


def test_a_hammering_account_logs_once_a_second_and_the_summary_comes_without_another_event() -> None:
    clock, events = Clock(), EventBus()
    RefusalLog(events, clock.seconds, call_later=clock.callLater)
    with capturedLogs() as captured:
        for _ in range(500):
            events.emit(Refused(1, "shop", "submit_sm", "ESME_RTHROTTLED", "'shop' exceeds its throughput"))
        events.emit(FaultInjected("busy", "refuse_submit", "shop", "8613800000001", "ESME_RTHROTTLED"))
        assert len(captured) == 2  # the first refusal, the fault
        clock.advance(1.0)  # nothing else happens: the timer writes the summary
    assert formatEvent(captured[-1]) == (
        "… and 499 more refusals and faults not logged one by one (ESME_RTHROTTLED 499)"
    )


def test_a_quiet_interval_writes_no_summary() -> None:
    budget = LogBudget(interval=1.0, budget=2, what="refusals and faults")
    assert budget.admit(("a", "S"), "S", 0.0) == (True, None)
    assert budget.admit(("b", "S"), "S", 0.5) == (True, None)
    assert budget.admit(("c", "S"), "S", 1.5) == (True, None)  # a new interval: nothing was held
    assert budget.admit(("c", "S"), "S", 1.6) == (False, None)
    assert budget.admit(("d", "T"), "T", 3.0) == (
        True,
        "… and 1 more refusals and faults not logged one by one (S 1)",
    )
