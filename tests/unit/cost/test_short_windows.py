"""Monthly figures say how much data they stand on; short windows show observed cost first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apex_core.cost import (
    UsageRecord,
    accumulate,
    analyze,
    demo_records,
    read_usage,
    render_markdown,
)
from tests.unit.cost.conftest import shared_trace

BURST_MAPPING = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"


def test_ten_hours_of_burstgpt_show_observed_cost_and_label_the_month_an_extrapolation() -> None:
    path = shared_trace("burstgpt/BurstGPT_1_first400.csv")
    analysis = analyze(accumulate(read_usage(path, model_mapping=BURST_MAPPING)))
    data = analysis.to_json()
    period = data["period"]
    assert period["short_window"] is True
    assert period["weekend_only"] is False  # 2025-01-01 is a Wednesday
    assert period["observed_cost_usd"] == data["total_cost_usd"]
    assert period["cost_per_day_usd"] == pytest.approx(
        data["total_cost_usd"] / period["days"], rel=1e-3
    )
    assert period["monthly_scale"] > 50  # 10.4 hours scaled to a month
    text = render_markdown(analysis)
    assert f"${data['total_cost_usd']:,.2f}" in text.splitlines()[2]
    assert "Short window (under 7 days of data)" in text
    assert f"only as an extrapolation x{period['monthly_scale']:.3g}" in text
    assert "projected" not in text.splitlines()[2]
    recommendations = data["recommendations"]
    assert recommendations
    for item in recommendations:
        saved = item["evidence"]["observed_cost_usd"] - item["evidence"]["what_if_cost_usd"]
        assert item["observed_savings_usd"] == pytest.approx(saved, abs=2e-6)
        assert item["estimated_monthly_savings_usd"] == pytest.approx(
            item["observed_savings_usd"] * period["monthly_scale"], abs=0.01
        )
    observed = [item["observed_savings_usd"] for item in recommendations]
    assert observed == sorted(observed, reverse=True)
    assert "| Saved (observed) |" in text


def test_a_weekend_alone_is_not_extrapolated_to_a_month() -> None:
    saturday = datetime(2025, 10, 11, 12, tzinfo=UTC)
    records = [
        UsageRecord(saturday + timedelta(hours=hours), "openai", "gpt-4o", 400_000, 0)
        for hours in range(0, 36, 6)
    ]
    analysis = analyze(accumulate(records))
    period = analysis.to_json()["period"]
    assert period["weekend_only"] is True
    assert period["weekday_counts"] == {
        "mon": 0, "tue": 0, "wed": 0, "thu": 0, "fri": 0, "sat": 1, "sun": 1,
    }  # fmt: skip
    headline = render_markdown(analysis).splitlines()[2]
    assert "only a weekend" in headline
    assert "a month" not in headline.replace("no monthly figure", "")


def test_a_month_of_data_is_not_a_short_window() -> None:
    analysis = analyze(accumulate(demo_records("window", now=datetime(2025, 3, 6, tzinfo=UTC))))
    period = analysis.to_json()["period"]
    assert period["short_window"] is False
    assert min(period["weekday_counts"].values()) >= 4
    headline = render_markdown(analysis).splitlines()[2]
    assert f"projected ${period['projected_monthly_cost_usd']:,.2f} a month, x" in headline
