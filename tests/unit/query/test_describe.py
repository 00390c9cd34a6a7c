"""A query said in words: the parts for "I understood", the sentence for agent_thinking,
and the JSON a triage event carries."""

from __future__ import annotations

from datetime import date

from apex_core.query.codec import query_from_json
from apex_core.query.describe import describe, thinking
from apex_core.query.model import Filter, Query, Ranking, WhatIf
from apex_core.query.parser import NotUnderstood, Parsed, parse
from apex_core.query.periods import Period, absolute, relative
from tests.unit.query.vocabularies import DEMO

SPIKE = Query(
    kind="why",
    filters=(Filter("feature", ("support-chat",)),),
    period=absolute(date(2025, 10, 6), date(2025, 10, 6)),
    comparison=Period(date(2025, 9, 29), date(2025, 10, 5), "the 7 days before"),
)


def test_thinking_says_what_the_run_does() -> None:
    assert thinking(SPIKE) == (
        "Explaining what changed the cost for feature support-chat on 6 Oct 2025 "
        "against the 7 days before (29 Sep - 5 Oct 2025)"
    )
    compare = Query(period=SPIKE.period, comparison=SPIKE.comparison, filters=SPIKE.filters)
    assert thinking(compare) == (
        "Comparing the cost for feature support-chat on 6 Oct 2025 with the 7 days before (29 Sep - 5 Oct 2025)"
    )
    ranked = Query(measures=("requests",), breakdown="end_user", ranking=Ranking("top", 3))
    assert thinking(ranked) == "Breaking down the requests over all your data by end user, top 3"
    what_if = Query(
        kind="what_if",
        filters=(Filter("batch", ("false",)),),
        period=relative("last_month", date(2025, 11, 25)),
        what_if=WhatIf("batch"),
    )
    assert thinking(what_if) == (
        "Repricing the usage for interactive (non-batch) requests last month "
        "(1-31 Oct 2025, counted back from your data's last day, 25 Nov 2025) with the batch API"
    )
    assert (
        thinking(Query(kind="full_analysis"))
        == "Analysing the usage over all your data and what would save money"
    )


def test_describe_lists_the_parts() -> None:
    assert describe(SPIKE) == (
        "why the cost changed; feature support-chat; 6 Oct 2025; "
        "compared with the 7 days before (29 Sep - 5 Oct 2025)"
    )
    assert describe(
        Query(measures=("cost_per_1k_tokens", "share_of_spend"), breakdown="batch")
    ) == ("cost per 1K tokens, share of spend; all your data; by batch or not")


def test_results_as_json_for_the_triage_event() -> None:
    parsed = parse("How much did we spend on gpt-4o last week?", DEMO)
    assert isinstance(parsed, Parsed)
    data = parsed.to_json()
    assert data["understood"] is True
    assert query_from_json(data["query"]) == parsed.query
    assert data["description"] == list(parsed.understood)
    missing = parse("tell me a joke", DEMO)
    assert isinstance(missing, NotUnderstood)
    assert missing.to_json() == {
        "understood": False,
        "reason": "off_topic",
        "description": [],
        "not_understood": [],
        "suggestions": list(missing.suggestions),
    }
