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
