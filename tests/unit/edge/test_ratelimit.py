"""Per-user and per-address budgets, and strikes (edge_ws.ratelimit)."""

from __future__ import annotations

import pytest

from edge_ws.ratelimit import Budgets, Strikes, TokenBucket


def test_a_burst_up_to_the_limit_then_refusals() -> None:
    bucket = TokenBucket(per_minute=3)
    assert [bucket.take(1, 0.0) for _ in range(3)] == [True] * 3
    assert bucket.take(1, 0.1) is False


def test_tokens_refill_over_time() -> None:
    bucket = TokenBucket(per_minute=60)
    for _ in range(60):
        assert bucket.take(1, 0.0)
    assert not bucket.take(1, 0.0)
    assert bucket.retry_after() == pytest.approx(1.0)
    assert not bucket.take(1, 0.5)
    assert bucket.take(1, 1.0)  # one more token after a second


def test_the_bucket_never_holds_more_than_the_limit() -> None:
    bucket = TokenBucket(per_minute=2)
    assert bucket.take(1, 0.0)
    assert [bucket.take(1, 3600.0) for _ in range(3)] == [True, True, False]


def test_a_clock_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(per_minute=1)
    assert bucket.take(1, 100.0)
    assert not bucket.take(1, 50.0)


def test_reads_charged_after_the_fact_leave_a_debt() -> None:
    bucket = TokenBucket(per_minute=60)
    assert bucket.take(1, 0.0)
    bucket.charge(200, 0.0)  # a get_thread page touched 200 documents
    assert not bucket.take(1, 0.0)
    assert bucket.retry_after() == pytest.approx(142.0)  # 141 tokens owed, then one more
    assert not bucket.take(1, 141.0)
    assert bucket.take(1, 142.0)


def test_budgets_are_shared_by_every_socket_of_a_key_and_reconnecting_refills_nothing() -> None:
    budgets = Budgets(per_minute=2)
    assert budgets.take("alice", 1, 0.0) is None
    assert budgets.take("alice", 1, 0.0) is None  # a second socket of alice
    assert budgets.take("alice", 1, 0.0) == pytest.approx(30.0)
    assert budgets.take("bob", 1, 0.0) is None
    # Forgetting only idle keys whose bucket is full again: the same as a new bucket.
    budgets.forget_idle(10.0)
    assert budgets.take("alice", 1, 10.0) is not None
    assert "bob" in budgets
    budgets.forget_idle(60.0)
    assert "bob" not in budgets
    assert "alice" not in budgets


def test_strikes_count_refusals_in_a_row() -> None:
    strikes = Strikes(limit=2)
    assert strikes.refused() is False
    strikes.allowed()
    assert strikes.refused() is False
    assert strikes.refused() is True
