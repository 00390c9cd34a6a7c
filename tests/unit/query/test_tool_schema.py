"""The planner seam: the tool definition, and tool-call arguments validated into the same
query the parser makes (or refused with the argument that was wrong)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from apex_core.query.errors import InvalidQuery
from apex_core.query.model import DIMENSIONS, KINDS, LEVERS, MEASURES
from apex_core.query.parser import Parsed, parse
from apex_core.query.periods import RELATIVE_NAMES
from apex_core.query.tool_schema import (
    QUERY_PARAMETERS,
    QUERY_TOOL,
    TOOL_NAME,
    query_from_tool_arguments,
)
from tests.unit.query.shapes import expect, shape
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS, REAL


def test_the_tool_is_an_openai_function_with_the_models_enums() -> None:
    assert QUERY_TOOL["type"] == "function"
    assert QUERY_TOOL["function"]["name"] == TOOL_NAME
    properties = QUERY_PARAMETERS["properties"]
    assert properties["kind"]["enum"] == list(KINDS)
    assert properties["measures"]["items"]["enum"] == list(MEASURES)
    assert properties["breakdown"]["enum"] == [*DIMENSIONS, None]
    assert properties["what_if"]["anyOf"][0]["properties"]["lever"]["enum"] == list(LEVERS)
    assert properties["period"]["anyOf"][1]["properties"]["relative"]["enum"] == list(
        RELATIVE_NAMES
    )
    json.dumps(QUERY_TOOL)  # JSON-safe as sent in a request body


# The same questions as the phrasing table, as a planner would call the tool: each must
# give exactly the query the deterministic parser gives for the text.
SAME_AS_PARSER: list[tuple[str, dict[str, Any]]] = [
    (
        "How much did we spend on gpt-4o last week?",
        {
            "kind": "measure",
            "filters": [{"dimension": "model", "values": ["GPT-4o"]}],
            "period": {"relative": "last_week"},
        },
    ),
    (
        "Why did costs spike on Nov 24?",
        {"kind": "why", "period": {"start": "2025-11-24", "end": "2025-11-24"}},
    ),
    ("Analyze my AI costs", {"kind": "full_analysis"}),
    (
        "Which team spends the most?",
        {"kind": "measure", "breakdown": "feature", "ranking": {"direction": "top", "n": 1}},
    ),
    (
        "what if support-chat used gpt-4o-mini",
        {
            "kind": "what_if",
            "filters": [{"dimension": "feature", "values": ["support chat"]}],
            "what_if": {"lever": "switch_model", "target_model": "gpt-4o-mini"},
        },
    ),
    (
        "spend last week vs the week before",
        {
            "kind": "measure",
            "period": {"relative": "last_week"},
            "compare_with": {"before": "week"},
        },
    ),
    (
        "claude sonnet tokens last 7 days",
        {
            "kind": "measure",
            "measures": ["input_tokens", "cached_input_tokens", "output_tokens"],
            "filters": [{"dimension": "model", "values": ["claude-3-5-sonnet"]}],
            "period": {"relative": "last_days", "n": 7},
        },
    ),
]


@pytest.mark.parametrize(("text", "arguments"), SAME_AS_PARSER, ids=[t for t, _ in SAME_AS_PARSER])
def test_a_tool_call_gives_the_parsers_query(text: str, arguments: dict[str, Any]) -> None:
    parsed = parse(text, DEMO, facts=DEMO_FACTS)
    assert isinstance(parsed, Parsed)
    from_tool = query_from_tool_arguments(
        json.dumps(arguments), DEMO, spike_day=DEMO_FACTS.spike_day
    )
    assert shape(from_tool) == shape(parsed.query)


def test_snapshots_and_batch_values() -> None:
    query = query_from_tool_arguments(
        {
            "kind": "measure",
            "measures": ["cost_per_request"],
            "breakdown": "day",
            "filters": [
                {"dimension": "model", "values": ["gpt-4o"]},
                {"dimension": "batch", "values": ["TRUE"]},
            ],
            "period": {"start": "2025-03-01", "end": "2025-03-07"},
            "compare_with": {"start": "2025-02-22", "end": "2025-02-28"},
        },
        REAL,
    )
    assert shape(query) == expect(
        measures=("cost_per_request",),
        breakdown="day",
        filters={"model": ("gpt-4o", "gpt-4o-2024-08-06"), "batch": ("true",)},
        period=("2025-03-01", "2025-03-07"),
        comparison=("2025-02-22", "2025-02-28"),
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{not json", "arguments: expected JSON"),
        ("[]", "arguments: expected a JSON object, got list"),
        ({"kind": "forecast"}, "arguments.kind: expected one of"),
        ({"kind": "measure", "colour": "red"}, "arguments: unknown keys ['colour']"),
        ({"kind": "measure", "measures": ["latency"]}, "arguments.measures[]: expected one of"),
        ({"kind": "measure", "breakdown": "team"}, "arguments.breakdown: expected one of"),
        (
            {"kind": "measure", "filters": [{"dimension": "model", "values": ["gpt-5"]}]},
            "arguments.filters[0].values[0]: 'gpt-5' is not a model in the usage (its models: claude-3-5-sonnet-20241022, gpt-4o, gpt-4o-mini, gemini-1.5-flash)",
        ),
        (
            {"kind": "measure", "filters": [{"dimension": "batch", "values": ["yes"]}]},
            "arguments.filters[0].values[0]: expected one of ['true', 'false']",
        ),
        (
            {"kind": "measure", "period": {"start": "2025-11-07", "end": "2025-11-01"}},
            "arguments.period: expected start <= end",
        ),
        (
            {"kind": "measure", "period": {"start": "6 Nov"}},
            "arguments.period.start: expected a date YYYY-MM-DD",
        ),
        (
            {"kind": "measure", "period": {"relative": "next_week"}},
            "arguments.period.relative: expected one of",
        ),
        (
            {"kind": "measure", "ranking": {"direction": "top", "n": 0}},
            "arguments.ranking.n: expected 1..100, got 0",
        ),
        ({"kind": "what_if"}, "arguments.what_if: a what_if query needs its lever"),
        (
            {"kind": "what_if", "what_if": {"lever": "batch", "target_model": "gpt-4o"}},
            "a target_model goes only with switch_model",
        ),
        (
            {"kind": "measure", "compare_with": {"before": "week"}},
            "needs a period to count back from",
        ),
        (
            {"kind": "measure", "compare_with": {"before": "fortnight"}},
            "arguments.compare_with.before: expected one of",
        ),
    ],
)
def test_bad_arguments_say_which_and_why(arguments: Any, message: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        query_from_tool_arguments(arguments, DEMO)
    assert message in caught.value.message


def test_relative_periods_need_data() -> None:
    with pytest.raises(InvalidQuery, match="needs usage data"):
        query_from_tool_arguments(
            {"kind": "measure", "period": {"relative": "last_week"}}, REAL.__class__()
        )


def test_a_why_over_all_the_data_explains_the_last_seven_days() -> None:
    # a planner names the spike day itself; only the parser reads "spike" as "the spike day"
    plain = query_from_tool_arguments({"kind": "why"}, DEMO)
    assert shape(plain)["period"] == ("2025-11-19", "2025-11-25")
    assert shape(plain)["comparison"] == ("2025-11-12", "2025-11-18")
    assert query_from_tool_arguments(
        {"kind": "why"}, DEMO, spike_day=date(2025, 11, 10)
    ).period.start == date(2025, 11, 19)
