"""FailedBinds on an injected clock: per (address, system_id), exemptions, a bounded table."""

from __future__ import annotations

from smsgw.carrier.bindguard import FailedBinds


def test_a_pair_over_the_limit_waits_and_no_other_pair_does() -> None:
    guard = FailedBinds(limit=3, window=60.0)
    for t in (0.0, 1.0, 2.0):
        assert not guard.blocked("127.0.0.1", "x", t)
        guard.failed("127.0.0.1", "x", t)
    assert guard.blocked("127.0.0.1", "x", 10.0) == 50.0  # until the first failure leaves the window
    assert not guard.blocked("127.0.0.1", "smsgw", 10.0)  # same address, another system_id
    assert not guard.blocked("10.0.0.9", "x", 10.0)  # same system_id, another address
    assert not guard.blocked("127.0.0.1", "x", 60.0)


def test_success_clears_the_pair() -> None:
    guard = FailedBinds(limit=3)
    guard.failed("h", "x", 0.0)
    guard.failed("h", "x", 0.0)
    guard.succeeded("h", "x")
    guard.failed("h", "x", 0.0)
    guard.failed("h", "x", 0.0)
    assert not guard.blocked("h", "x", 0.0)


def test_an_exempt_system_id_is_never_counted_nor_refused() -> None:
    guard = FailedBinds(limit=1, exempt=["merchant"])
    for t in range(100):
        guard.failed("127.0.0.1", "merchant", float(t))
    assert not guard.blocked("127.0.0.1", "merchant", 100.0)
    assert len(guard) == 0


def test_no_limit_counts_nothing() -> None:
    guard = FailedBinds(limit=0)
    for n in range(1000):
        guard.failed("h", f"x{n}", 0.0)
    assert len(guard) == 0 and not guard.blocked("h", "x1", 0.0)


def test_the_table_stays_bounded_whatever_is_sent() -> None:
    """200,000 pairs within one window: the table holds max_entries, and a pair blocked by
    the newest failures stays blocked."""
    guard = FailedBinds(limit=10, window=60.0, max_entries=1000)
    for n in range(200_000):
        guard.failed(f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "smsgw", n / 1e5)
    for _ in range(10):
        guard.failed("127.0.0.1", "victim", 2.0)
    assert len(guard) == 1000
    assert guard.blocked("127.0.0.1", "victim", 2.0)


def test_expired_pairs_go_before_anything_is_evicted() -> None:
    guard = FailedBinds(limit=2, window=60.0, max_entries=3)
    guard.failed("h", "old1", 0.0)
    guard.failed("h", "old2", 1.0)
    for _ in range(2):
        guard.failed("h", "blocked", 100.0)
    guard.failed("h", "new", 101.0)  # the table is full: what expired goes, not the blocked pair
    assert len(guard) == 2
    assert guard.blocked("h", "blocked", 101.0)
