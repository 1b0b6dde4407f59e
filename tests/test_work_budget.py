"""smsgw's work per message stays within its budget: a guard that does not depend on this
machine's speed.

:func:`benchmarks.work.count` drives submits with receipts through the real SMPP server
protocol (in memory, fake reactor, the durable file store, ``smsgw serve``'s defaults) and
counts the function calls smsgw makes per message. The count is the same on any machine, so
a change that adds work per message fails here however fast CI runs. When a change makes
smsgw do less, lower the budget to the new count, so the saving is kept.
"""

from __future__ import annotations

import pytest

from benchmarks.work import count

#: Function calls (Python and C) per submit_sm with its receipt, by window, as counted on
#: the last change that moved them (``python -m benchmarks.work`` prints the breakdown).
BUDGET = {100: 130.0, 1: 220.0}
#: Room for a small, deliberate cost (a new check on the hot path) without editing the budget.
MARGIN = 1.03


@pytest.mark.parametrize("window", sorted(BUDGET))
def test_calls_per_message_stay_within_the_budget(window: int) -> None:
    work = count(messages=1000, window=window)
    limit = BUDGET[window] * MARGIN
    assert work.total <= limit, (
        f"{work.total:.1f} calls per message at window {window}, over the budget of "
        f"{BUDGET[window]:g} (+{MARGIN - 1:.0%}): something on the hot path does more work per "
        f"message. Where the calls go:\n{work.table()}\n"
        "Find the layer that grew (python -m benchmarks.work, before and after). If the cost is "
        "worth it, raise BUDGET in tests/test_work_budget.py and say why in the commit."
    )


@pytest.mark.parametrize("window", sorted(BUDGET))
def test_the_timeline_costs_traffic_it_does_not_record_nothing(window: int) -> None:
    """With the default ``[timeline] record = "namespaces"``, handsets in no namespace (all
    of a load test's) cost exactly what they cost with the timeline off: its gates on the hot
    path are attribute reads, never a call."""
    recording = count(messages=300, window=window, record="namespaces")
    off = count(messages=300, window=window, record="off")
    assert recording.total == off.total, (
        f"{recording.total - off.total:+.2f} calls per message with the timeline recording "
        f"namespaces, for handsets in none:\n{recording.table()}\nagainst off:\n{off.table()}\n"
        "A gate on the hot path calls something: test `(x.namespace or timeline.everyone) and "
        "timeline.on` (attributes), and call the timeline only past it"
    )


def test_recording_everyone_is_what_the_gates_keep_off_the_hot_path() -> None:
    """``record = "all"`` records this traffic (every submit, receipt and answer): it costs
    calls, so the test above compares a path the gates really guard."""
    everyone = count(messages=300, window=100, record="all")
    off = count(messages=300, window=100, record="off")
    assert everyone.total > off.total + 20, (everyone.table(), off.table())
