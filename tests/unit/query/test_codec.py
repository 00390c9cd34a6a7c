"""The stored form of a query: round trips, a fixed layout, and refusals that say why."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from apex_core.query.codec import SCHEMA, query_from_json, query_to_json
from apex_core.query.errors import InvalidQuery
from apex_core.query.model import Filter, Query, Ranking, WhatIf
from apex_core.query.parser import Parsed, parse
from apex_core.query.periods import Period, absolute, relative
from tests.unit.query.test_followups import CONVERSATIONS
from tests.unit.query.test_phrasings import STANDALONE
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS

WHY = Query(
    kind="why",
    filters=(Filter("model", ("gpt-4o",)), Filter("feature", ("support-chat",))),
    period=absolute(date(2025, 11, 10), date(2025, 11, 10)),
    comparison=Period(date(2025, 11, 3), date(2025, 11, 9), "the 7 days before"),
)


def test_the_stored_layout() -> None:
    assert query_to_json(WHY) == {
        "schema": "apex.query.v1",
        "kind": "why",
        "measures": ["cost"],
        "breakdown": None,
        "filters": [
            {"dimension": "model", "values": ["gpt-4o"]},
            {"dimension": "feature", "values": ["support-chat"]},
        ],
        "period": {
            "start": "2025-11-10",
            "end": "2025-11-10",
            "label": "10 Nov 2025",
            "relative_to": None,
        },
        "ranking": None,
        "comparison": {
            "start": "2025-11-03",
            "end": "2025-11-09",
            "label": "the 7 days before",
            "relative_to": None,
        },
        "what_if": None,
    }


def test_every_parsed_query_survives_json_text() -> None:
    conversations = [(text,) for text, _ in STANDALONE] + [(*e, t) for e, t, _ in CONVERSATIONS]
    for conversation in conversations:
        previous: Query | None = None
        for text in conversation:
            result = parse(text, DEMO, previous=previous, facts=DEMO_FACTS)
            assert isinstance(result, Parsed), text
            stored = json.dumps(query_to_json(result.query))
            assert query_from_json(json.loads(stored)) == result.query, text
            previous = result.query


def test_a_relative_period_keeps_the_day_it_counted_from() -> None:
    query = Query(
        breakdown="end_user",
        ranking=Ranking("top", 3),
        period=relative("last_week", date(2025, 11, 25)),
        what_if=None,
    )
    back = query_from_json(query_to_json(query))
    assert back.period.relative_to == date(2025, 11, 25)
    assert back.period.label == "last week"


def good() -> dict[str, Any]:
    return query_to_json(
        Query(
            kind="what_if",
            filters=(Filter("feature", ("faq-bot",)),),
            what_if=WhatIf("switch_model", "gpt-4o-mini"),
        )
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(schema="apex.query.v0"),
            "query.schema: expected 'apex.query.v1', got 'apex.query.v0'",
        ),
        (lambda d: d.update(extra=1), "query: unknown keys ['extra']"),
        (lambda d: d.update(kind="forecast"), "kind must be one of"),
        (lambda d: d.update(measures=[]), "measures must be distinct and at least one"),
        (lambda d: d.update(measures=["cost", "cost"]), "measures must be distinct"),
        (lambda d: d.update(measures=["latency"]), "unknown measures ['latency']"),
        (lambda d: d.update(breakdown="team"), "breakdown must be one of"),
        (lambda d: d["filters"][0].update(values=[]), "needs at least one non-empty value"),
        (lambda d: d["filters"][0].update(values=["b", "a"]), "must be sorted and distinct"),
        (
            lambda d: d["filters"].append({"dimension": "feature", "values": ["x"]}),
            "each dimension once",
        ),
        (
            lambda d: d.update(filters=[{"dimension": "batch", "values": ["yes"]}]),
            "batch filter's values",
        ),
        (
            lambda d: d["period"].update(start="2025-11-31"),
            "query.period.start: expected a date YYYY-MM-DD",
        ),
        (lambda d: d["period"].update(start="2025-11-01"), "both start and end or neither"),
        (lambda d: d.update(ranking={"direction": "top", "n": 3}), "a ranking needs a breakdown"),
        (
            lambda d: d.update(ranking={"direction": "top", "n": True}),
            "query.ranking.n: expected an integer",
        ),
        (lambda d: d.update(what_if=None), "a what_if (and only a what_if query) needs its lever"),
        (
            lambda d: d["what_if"].update(lever="batch"),
            "a target_model goes only with switch_model",
        ),
        (
            lambda d: d.update(
                comparison={
                    "start": "2025-11-01",
                    "end": "2025-11-02",
                    "label": "x",
                    "relative_to": None,
                }
            ),
            "a comparison needs two bounded periods",
        ),
        (lambda d: d.update(kind="why", what_if=None), "a why query needs the comparison period"),
    ],
)
def test_invalid_queries_are_refused_with_the_reason(change: Any, message: str) -> None:
    data = good()
    change(data)
    with pytest.raises(InvalidQuery) as caught:
        query_from_json(data)
    assert message in caught.value.message
    assert caught.value.code == "invalid_query"


@pytest.mark.parametrize("data", [None, [], "query", 3])
def test_not_an_object(data: object) -> None:
    with pytest.raises(InvalidQuery, match="query: expected a JSON object"):
        query_from_json(data)


def test_schema_name() -> None:
    assert query_to_json(Query())["schema"] == SCHEMA
