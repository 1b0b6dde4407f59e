"""A fresh ESME is served while a client abuses the carrier (issue 11, points 1-3, 7 and 8).

Each test starts its own ``smsgw serve`` (file store, mock merchant bound, the soft
descriptor limit of a usual shell: 1024), runs one abuse of :mod:`benchmarks.abuse.abusers` in
a process of its own, and meanwhile opens a new connection every 20 ms that binds, submits
one message and unbinds. Bind and submit must be answered with p99 under 100 ms, none may
fail or time out (2 s), and the merchant's session must still be the one it had. Every
abuse talks to loopback only and ends within seconds of the probing; a frozen carrier is
killed at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.abuse import carrier as carriers
from benchmarks.abuse.run import Outcome, measure, table

pytestmark = pytest.mark.e2e

#: Seconds of probing under each abuse (100+ probes on an idle carrier, so p99 is not just the worst one).
SECONDS = 2.5
P99_LIMIT = 0.100
#: The two never-read event streams: what the carrier's RSS may grow by while they and the
#: load run, and keep once they are gone. Unbounded, they grow it by ~2.6 KB a submit (+31 MB
#: after 11,900 submits on a busy 2-core machine); bounded (1 MiB each) they cost a few MB
#: beside the load's own ~2 MB.
RSS_GROWTH_LIMIT_MIB = 20.0
#: The load the event_stream test needs for its RSS figures to tell a bound from none.
MIN_SUBMITS = 10_000

ABUSES = [
    "none",
    "regex",
    "longpolls",
    # Not failed_binds_same_id: failures of the probe's own system_id from its own address lock
    # that pair out by design (docs/configuration.md, max_failed_binds); the benchmark shows it.
    "failed_binds",
    "connections",
    "event_stream",
    "half_sent",
    "enquire_link_storm",
    "idle",
    "never_reading_smpp",
]


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[carriers.Carrier]:
    running = carriers.start(tmp_path / "carrier")
    yield running
    running.stop(grace=3.0)


def _explain(outcome: Outcome) -> str:
    return "\n" + table([outcome])


@pytest.mark.parametrize("abuse", ABUSES)
def test_a_fresh_esme_binds_and_submits_within_100_ms(
    abuse: str, carrier: carriers.Carrier, tmp_path: Path
) -> None:
    seconds = 5.0 if abuse == "event_stream" else SECONDS
    outcome = measure(
        carrier, abuse, seconds, tmp_path / "abuse", settle=2.0 if abuse == "event_stream" else 0.0
    )
    stats = outcome.stats
    why = _explain(outcome)
    assert not stats.failures, why
    assert stats.n >= 10, f"only {stats.n} probes in {seconds:g} s" + why
    assert stats.percentile("bind", 99) < P99_LIMIT, why
    assert stats.percentile("submit", 99) < P99_LIMIT, why
    assert outcome.merchant == "yes", f"merchant bound: {outcome.merchant}" + why
    if abuse == "event_stream":
        assert outcome.done.get("submitted", 0) >= MIN_SUBMITS, (
            f"the load reached {outcome.done.get('submitted')} submits, fewer than the "
            f"{MIN_SUBMITS} that make the RSS figures tell" + why
        )
        assert (
            outcome.rss_before is not None and outcome.rss_peak is not None and outcome.rss_after is not None
        )
        assert outcome.rss_peak - outcome.rss_before < RSS_GROWTH_LIMIT_MIB, why
        assert outcome.rss_after - outcome.rss_before < RSS_GROWTH_LIMIT_MIB, why
