"""Breakdowns, trends, spikes and unit costs, checked by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apex_core.cost import (
    PriceBook,
    UsageRecord,
    accumulate,
    analyze,
    demo_records,
    render_markdown,
)
from apex_core.cost.analysis.analyze import usd

MONDAY = datetime(2025, 3, 3, 12, tzinfo=UTC)


def _two_weeks() -> list[UsageRecord]:
    # 400,000 gpt-4o input tokens = $1.00 (at $2.50/M); day 10 costs $5.00
    records = []
    for day in range(14):
        tokens = 2_000_000 if day == 9 else 400_000
        records.append(
            UsageRecord(MONDAY + timedelta(days=day), "openai", "gpt-4o", tokens, 0,
                        feature="a" if day % 2 else "b", end_user=f"u{day % 3}")
        )  # fmt: skip
    return records


def test_week_over_week_spikes_and_unit_costs() -> None:
    result = analyze(accumulate(_two_weeks())).to_json()
    assert result["total_cost_usd"] == pytest.approx(13 * 1.0 + 5.0)
    assert result["week_over_week"] == [
        {"week_start": "2025-03-03", "cost_usd": pytest.approx(7.0), "days": 7, "partial": False,
         "cost_per_day_usd": pytest.approx(1.0), "change_pct": None},
        {"week_start": "2025-03-10", "cost_usd": pytest.approx(11.0), "days": 7, "partial": False,
         "cost_per_day_usd": pytest.approx(11 / 7),
         "change_pct": pytest.approx(round((11 - 7) / 7 * 100, 2))},
    ]  # fmt: skip
    assert [spike["date"] for spike in result["spike_days"]] == ["2025-03-12"]
    assert result["spike_days"][0]["ratio"] == 5.0
    assert result["unit_costs"]["cost_per_request_usd"] == pytest.approx(18.0 / 14)
    tokens = 13 * 400_000 + 2_000_000
    assert result["unit_costs"]["cost_per_1k_tokens_usd"] == pytest.approx(
        18.0 * 1000 / tokens, abs=1e-6
    )
    features = {entry["feature"]: entry["cost_usd"] for entry in result["by_feature"]}
    # odd days (1,3,5,7,9,11,13) are 'a'; day 9 is the $5 spike
    assert features == {"a": pytest.approx(6 * 1.0 + 5.0), "b": pytest.approx(7 * 1.0)}


def test_markdown_has_model_and_recommendation_tables_from_the_numbers() -> None:
    analysis = analyze(accumulate(_two_weeks()))
    text = render_markdown(analysis)
    assert "| openai | gpt-4o | 14 | 7,200,000 | 0 | 0 | $18.00 |" in text
    assert "|---|---|---:|---:|---:|---:|---:|" in text  # numbers right-aligned
    first, last = (
        analysis.to_json()["period"]["first_seen"],
        analysis.to_json()["period"]["last_seen"],
    )
    assert f"({first[:10]} to {last[:10]})" in text
    assert "## Recommendations" in text
    assert "## Spike days" in text
    assert "| 2025-03-12 | $5.00 | 5 |" in text


def test_end_user_costs_equal_pricing_every_end_user_cell_on_its_own() -> None:
    # the demo month has linear cards (OpenAI, Anthropic) and a tiered one (gemini-1.5-flash)
    rollup = accumulate(demo_records("users", now=MONDAY))
    rollup.merge(accumulate(_two_weeks()))
    book = PriceBook()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    requests: dict[str, int] = defaultdict(int)
    for key, cell in rollup.user_cells.items():
        cost = book.price(key, cell)
        assert cost is not None
        expected[key.end_user] += cost
        requests[key.end_user] += cell.requests
    by_user = analyze(rollup, top=1000).to_json()["by_end_user"]
    assert {entry["end_user"]: entry["cost_usd"] for entry in by_user} == {
        user: usd(cost) for user, cost in expected.items()
    }
    assert {entry["end_user"]: entry["requests"] for entry in by_user} == requests


def test_a_question_over_the_named_cells_gets_the_analysis_figures() -> None:
    # how a query reads a roll-up: group cells by key fields, price each by its key
    rollup = accumulate(demo_records("query", now=MONDAY))
    book = PriceBook()
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    cached: dict[tuple[str, str], int] = defaultdict(int)
    for key, cell in rollup.cells.items():
        priced = book.price(key, cell)
        if priced is not None:
            cost[(key.provider, key.model)] += priced
            cached[(key.provider, key.model)] += cell.cached_input_tokens
    by_model = analyze(rollup, prices=book).to_json()["by_model"]
    assert len(by_model) > 3
    assert {
        (e["provider"], e["model"]): (e["cost_usd"], e["cached_input_tokens"]) for e in by_model
    } == {pair: (usd(total), cached[pair]) for pair, total in cost.items()}
