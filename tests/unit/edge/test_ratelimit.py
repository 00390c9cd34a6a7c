"""The per-connection user_message rate limit (edge_ws.ratelimit)."""

from __future__ import annotations

import pytest

from edge_ws.ratelimit import MessageRateLimit, Verdict


def test_a_burst_up_to_the_limit_then_refusals_then_close() -> None:
    limit = MessageRateLimit(per_minute=3, strikes=2)
    assert [limit.check(0.0) for _ in range(3)] == [Verdict.ALLOW] * 3
    assert limit.check(0.1) is Verdict.REFUSE
    assert limit.check(0.2) is Verdict.CLOSE


def test_tokens_refill_over_time_and_reset_the_strikes() -> None:
    limit = MessageRateLimit(per_minute=60, strikes=3)
    for _ in range(60):
        assert limit.check(0.0) is Verdict.ALLOW
    assert limit.check(0.0) is Verdict.REFUSE
    assert limit.retry_after() == pytest.approx(1.0)
    assert limit.check(0.5) is Verdict.REFUSE
    assert limit.check(1.0) is Verdict.ALLOW  # one more token after a second
    # Strikes start over after an allowed message.
    assert limit.check(1.0) is Verdict.REFUSE
    assert limit.check(1.0) is Verdict.REFUSE
    assert limit.check(1.0) is Verdict.CLOSE


def test_the_bucket_never_holds_more_than_the_limit() -> None:
    limit = MessageRateLimit(per_minute=2, strikes=5)
    assert limit.check(0.0) is Verdict.ALLOW
    verdicts = [limit.check(3600.0) for _ in range(3)]
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.REFUSE]


def test_a_clock_going_backwards_adds_nothing() -> None:
    limit = MessageRateLimit(per_minute=1, strikes=5)
    assert limit.check(100.0) is Verdict.ALLOW
    assert limit.check(50.0) is Verdict.REFUSE
