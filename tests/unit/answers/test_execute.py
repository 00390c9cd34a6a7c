"""The executor against figures computed here from the raw rows with genai-prices directly
(never with the roll-up or the code under test)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from apex_core.answers.compose import compose
from apex_core.answers.errors import CannotAnswer
from apex_core.answers.execute import execute
from apex_core.answers.facts import facts_of, vocabulary_of
from apex_core.answers.render import money
from apex_core.answers.what_if import reprice
from apex_core.answers.why import explain
from apex_core.cost import PriceBook, UsageRollup, accumulate, analyze, read_usage
from apex_core.query.model import Filter, Query, Ranking, WhatIf
from apex_core.query.parser import Parsed, parse
from apex_core.query.periods import absolute
from tests.question_usage import ROWS, Line, price_of, usage_csv


def _rollup() -> UsageRollup:
    return accumulate(read_usage(usage_csv(ROWS), source_name="usage.csv"))


def _day(row: Line) -> str:
    return row.at[:10]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


BOOK = PriceBook()
OCT6 = absolute(date(2025, 10, 6), date(2025, 10, 6))
BEFORE = absolute(date(2025, 9, 29), date(2025, 10, 5))


def test_cost_of_a_model_on_a_day_and_its_share_of_that_day() -> None:
    query = Query(
        filters=(Filter("model", ("gpt-4o",)),),
        period=OCT6,
        measures=("cost", "share_of_spend", "requests"),
    )
    result = execute(query, _rollup(), prices=BOOK)
    spike, other = ROWS[4], ROWS[5]
    assert _cents(result.total.cost) == _cents(price_of(spike))
    assert result.value("requests") == 10
    share = result.value("share_of_spend")
    assert isinstance(share, Decimal)
    assert abs(share - price_of(spike) / (price_of(spike) + price_of(other))) < Decimal("1e-9")
    answer = compose(result)
    assert answer.sentence.startswith(
        f"You spent {money(price_of(spike))} on model gpt-4o on 6 Oct 2025"
    )


def test_a_top_n_breakdown_ranks_by_cost_and_says_how_many_groups_there_were() -> None:
    query = Query(breakdown="model", ranking=Ranking("top", 2))
    result = execute(query, _rollup(), prices=BOOK)
    by_model: dict[str, Decimal] = defaultdict(Decimal)
    for row in ROWS:
        by_model[row.model] += price_of(row)
    expected = sorted(by_model.items(), key=lambda item: -item[1])[:2]
    assert [(row.label, _cents(row.tally.cost)) for row in result.rows] == [
        (name, _cents(cost)) for name, cost in expected
    ]
    assert result.groups == 3
    chart = result.chart()
    assert chart is not None
    assert chart["labels"] == [name for name, _ in expected]
    assert chart["series"][0]["values"] == [float(round(cost, 6)) for _, cost in expected]


def test_every_dollar_figure_equals_apex_analyze_on_the_restricted_usage() -> None:
    query = Query(
        filters=(Filter("feature", ("support-chat",)),),
        period=absolute(date(2025, 10, 1), date(2025, 10, 3)),
        breakdown="day",
    )
    result = execute(query, _rollup(), prices=BOOK)
    kept = [
        r for r in ROWS if r.feature == "support-chat" and "2025-10-01" <= _day(r) <= "2025-10-03"
    ]
    restricted = analyze(accumulate(read_usage(usage_csv(kept), source_name="kept.csv"))).to_json()
    assert float(round(result.total.cost, 6)) == restricted["total_cost_usd"]
    assert [(row.label, float(round(row.tally.cost, 6))) for row in result.rows] == [
        (day["date"], day["cost_usd"]) for day in restricted["by_day"]
    ]


def test_a_comparison_gives_both_periods() -> None:
    query = Query(period=OCT6, comparison=BEFORE)
    result = execute(query, _rollup(), prices=BOOK)
    before = sum((price_of(r) for r in ROWS if _day(r) <= "2025-10-05"), Decimal(0))
    now = sum((price_of(r) for r in ROWS if _day(r) == "2025-10-06"), Decimal(0))
    assert result.comparison is not None
    assert (_cents(result.total.cost), _cents(result.comparison.cost)) == (
        _cents(now),
        _cents(before),
    )
    assert f"up {money(now - before)}" in compose(result).sentence


def test_why_names_the_model_and_feature_that_drove_the_spike_and_splits_price_from_volume() -> (
    None
):
    query = Query(kind="why", period=OCT6, comparison=BEFORE)
    why = explain(query, _rollup(), BOOK)
    before_rows = [r for r in ROWS if _day(r) <= "2025-10-05"]
    baseline = sum((price_of(r) for r in before_rows), Decimal(0)) / 7
    assert _cents(why.baseline) == _cents(baseline)
    driver = why.driver("model")
    assert driver is not None
    assert driver.label == "gpt-4o"
    old = [r for r in before_rows if r.model == "gpt-4o"]
    old_cost = sum((price_of(r) for r in old), Decimal(0))
    old_requests = sum(r.requests for r in old)
    volume = (10 - Decimal(old_requests) / 7) * (old_cost / old_requests)
    assert _cents(driver.volume) == _cents(volume)
    assert _cents(driver.volume + driver.price) == _cents(price_of(ROWS[4]) - old_cost / 7)
    price = price_of(ROWS[4]) - old_cost / 7 - volume
    assert driver.effect == ("volume" if abs(volume) >= abs(price) else "price") == "price"
    feature = why.driver("feature")
    assert feature is not None
    assert feature.label == "support-chat"
    sentence = compose(execute(query, _rollup(), prices=BOOK), why=why).sentence
    assert "model gpt-4o" in sentence
    assert "feature support-chat" in sentence


def test_a_what_if_with_a_named_target_reprices_the_same_tokens_at_the_target() -> None:
    query = Query(
        kind="what_if",
        filters=(Filter("feature", ("support-chat",)),),
        what_if=WhatIf("switch_model", "gpt-4o-mini"),
    )
    repricing = reprice(query, _rollup(), BOOK)
    chat = [r for r in ROWS if r.feature == "support-chat"]
    assert _cents(repricing.current) == _cents(sum((price_of(r) for r in chat), Decimal(0)))
    assert _cents(repricing.changed) == _cents(
        sum((price_of(r, "gpt-4o-mini") for r in chat), Decimal(0))
    )
    assert repricing.saving > 0


def test_features_and_end_users_together_cannot_be_answered() -> None:
    query = Query(filters=(Filter("feature", ("faq-bot",)), Filter("end_user", ("u2",))))
    with pytest.raises(CannotAnswer, match="feature and by end user separately"):
        execute(query, _rollup(), prices=BOOK)


def test_end_users_by_cost_over_all_the_data() -> None:
    result = execute(Query(breakdown="end_user"), _rollup(), prices=BOOK)
    by_user: dict[str, Decimal] = defaultdict(Decimal)
    for row in ROWS:
        by_user[row.end_user] += price_of(row)
    assert {row.label: _cents(row.tally.cost) for row in result.rows} == {
        user: _cents(cost) for user, cost in by_user.items()
    }
    with pytest.raises(CannotAnswer, match="over all your data"):
        execute(Query(breakdown="end_user", period=OCT6), _rollup(), prices=BOOK)


def test_questions_in_words_over_the_users_own_names() -> None:
    rollup = _rollup()
    vocabulary = vocabulary_of(rollup, BOOK)
    assert vocabulary.models[0] == "gpt-4o"
    assert vocabulary.last_day == date(2025, 10, 7)
    facts = facts_of(rollup, BOOK, vocabulary)
    assert facts.spike_day == date(2025, 10, 6)
    parsed = parse("How much did we spend on GPT4o on Oct 6?", vocabulary, facts=facts)
    assert isinstance(parsed, Parsed)
    result = execute(parsed.query, rollup, prices=BOOK)
    assert _cents(result.total.cost) == _cents(price_of(ROWS[4]))
