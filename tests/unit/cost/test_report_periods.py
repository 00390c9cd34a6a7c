"""Week over week compares like with like: partial weeks are marked, changes are per day."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apex_core.cost import accumulate, analyze, demo_records, read_usage, render_markdown
from tests.unit.cost.conftest import fixture


def test_a_sunday_alone_is_a_partial_week_and_the_change_is_per_day() -> None:
    # 2025-10-05 is a Sunday: the week of 09-29 has 1 day of data, the week of 10-06 six
    analysis = analyze(accumulate(read_usage(fixture("openai_usage_week.csv"))))
    by_day = {d["date"]: Decimal(str(d["cost_usd"])) for d in analysis.to_json()["by_day"]}
    first, second = analysis.to_json()["week_over_week"]
    assert (first["week_start"], first["days"], first["partial"]) == ("2025-09-29", 1, True)
    assert (second["week_start"], second["days"], second["partial"]) == ("2025-10-06", 6, True)
    # totals stay exact; the empty Wednesday counts as a day with no cost
    assert first["cost_usd"] == pytest.approx(float(by_day["2025-10-05"]))
    rest = sum(cost for day, cost in by_day.items() if day != "2025-10-05")
    assert second["cost_usd"] == pytest.approx(float(rest))
    assert second["cost_per_day_usd"] == pytest.approx(float(rest) / 6)
    per_day_change = (float(rest) / 6 - first["cost_usd"]) / first["cost_usd"] * 100
    assert second["change_pct"] == pytest.approx(per_day_change, abs=0.01)
    total_change = (second["cost_usd"] - first["cost_usd"]) / first["cost_usd"] * 100
    assert abs(second["change_pct"] - total_change) > 1000  # the misleading figure is gone
    text = render_markdown(analysis)
    assert "compares the average cost per day" in text
    assert "| 2025-09-29 (partial) | 1 of 7 |" in text


def test_demo_data_marks_its_first_and_last_weeks_partial_and_keeps_the_total() -> None:
    # 30 days ending Wednesday 2025-03-05: Tuesday 02-04 .. Wednesday 03-05
    analysis = analyze(accumulate(demo_records("weeks", now=datetime(2025, 3, 6, tzinfo=UTC))))
    weeks = analysis.to_json()["week_over_week"]
    assert (weeks[0]["week_start"], weeks[0]["days"], weeks[0]["partial"]) == (
        "2025-02-03",
        6,
        True,
    )
    assert (weeks[-1]["week_start"], weeks[-1]["days"], weeks[-1]["partial"]) == (
        "2025-03-03",
        3,
        True,
    )
    assert all(not w["partial"] and w["days"] == 7 for w in weeks[1:-1])
    assert sum(w["days"] for w in weeks) == len(analysis.by_day)
    assert sum(w["cost_usd"] for w in weeks) == pytest.approx(float(analysis.total_cost_usd))
    for week in weeks:
        assert week["cost_per_day_usd"] == pytest.approx(week["cost_usd"] / week["days"], abs=1e-6)
