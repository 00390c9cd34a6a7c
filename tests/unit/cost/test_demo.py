"""The demo dataset is deterministic and shows every kind of recommendation."""

from __future__ import annotations

from datetime import UTC, datetime

from apex_core.cost import accumulate, analyze, demo_records

NOW = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)


def test_same_seed_and_now_give_the_same_records() -> None:
    assert list(demo_records("demo-user-1", now=NOW)) == list(demo_records("demo-user-1", now=NOW))
    assert list(demo_records("demo-user-1", now=NOW)) != list(demo_records("demo-user-2", now=NOW))


def test_demo_is_a_month_of_a_few_thousand_time_ordered_records() -> None:
    records = list(demo_records("demo-user-1", now=NOW))
    assert 2000 <= len(records) <= 10000
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)
    assert len({r.timestamp.date() for r in records}) == 30
    assert len({r.provider for r in records}) >= 3
    assert max(r.timestamp for r in records) < NOW


def test_demo_analysis_has_every_recommendation_kind_and_a_spike() -> None:
    result = analyze(accumulate(demo_records("demo-user-1", now=NOW))).to_json()
    kinds = {item["kind"] for item in result["recommendations"]}
    assert kinds == {"cheaper_model", "prompt_caching", "batch", "response_cache"}
    assert all(item["estimated_monthly_savings_usd"] > 0 for item in result["recommendations"])
    assert result["unpriced"] == []
    assert len(result["spike_days"]) >= 1
