"""Follow-ups: a message in a thread refines the previous question.

Each case is a conversation: earlier messages parsed in turn (each one the
``previous`` of the next), then the follow-up and the query it must become.
Dates are worked out from the demo's last day, Tue 2025-11-25.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from apex_core.query.codec import query_from_json, query_to_json
from apex_core.query.followups import CannotRefine, Refinement, refine, why_baseline
from apex_core.query.model import Filter, Query
from apex_core.query.parser import NotUnderstood, Parsed, parse
from apex_core.query.periods import absolute
from tests.unit.query.shapes import expect, shape
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS

LAST_WEEK = ("2025-11-17", "2025-11-23")
WEEK_BEFORE = ("2025-11-10", "2025-11-16")
GPT_4O: dict[str, tuple[str, ...]] = {"model": ("gpt-4o",)}

CONVERSATIONS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (
        ("How much did we spend on gpt-4o last week?",),
        "and the week before?",
        expect(filters=GPT_4O, period=WEEK_BEFORE, relative=True),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "only for anthropic",
        expect(filters={"provider": ("anthropic",)}, period=LAST_WEEK, relative=True),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "and for support-chat?",
        expect(filters={**GPT_4O, "feature": ("support-chat",)}, period=LAST_WEEK, relative=True),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "why?",
        expect("why", filters=GPT_4O, period=LAST_WEEK, relative=True, comparison=WEEK_BEFORE),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "break it down by feature",
        expect(filters=GPT_4O, period=LAST_WEEK, relative=True, breakdown="feature"),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "what about gpt-4o-mini?",
        expect(filters={"model": ("gpt-4o-mini",)}, period=LAST_WEEK, relative=True),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "and tokens?",
        expect(
            measures=("input_tokens", "cached_input_tokens", "output_tokens"),
            filters=GPT_4O,
            period=LAST_WEEK,
            relative=True,
        ),
    ),
    (
        ("How much did we spend on gpt-4o last week?",),
        "and in October?",
        expect(filters=GPT_4O, period=("2025-10-01", "2025-10-31")),
    ),
    (("How much did we spend on gpt-4o last week?",), "over all time", expect(filters=GPT_4O)),
    (
        ("How much did we spend on gpt-4o last week?", "and the week before?"),
        "and the week before that?",
        expect(filters=GPT_4O, period=("2025-11-03", "2025-11-09"), relative=True),
    ),
    (
        ("Why did costs spike on Nov 24?",),
        "and the day before?",
        expect("why", period=("2025-11-23", "2025-11-23"), comparison=("2025-11-16", "2025-11-22")),
    ),
    (
        ("Why did costs spike on Nov 24?",),
        "only for support-chat",
        expect(
            "why",
            filters={"feature": ("support-chat",)},
            period=("2025-11-24", "2025-11-24"),
            comparison=("2025-11-17", "2025-11-23"),
        ),
    ),
    (
        ("Why did costs spike on Nov 24?",),
        "break it down by model",
        expect(
            breakdown="model",
            period=("2025-11-24", "2025-11-24"),
            comparison=("2025-11-17", "2025-11-23"),
        ),
    ),
    (
        ("Which team spends the most?",),
        "and last week?",
        expect(breakdown="feature", ranking=("top", 1), period=LAST_WEEK, relative=True),
    ),
    (("Which team spends the most?",), "top 3", expect(breakdown="feature", ranking=("top", 3))),
    (
        ("Which team spends the most?",),
        "by customer instead",
        expect(breakdown="end_user", ranking=("top", 1)),
    ),
    (
        ("Analyze my AI costs",),
        "only for anthropic",
        expect("full_analysis", filters={"provider": ("anthropic",)}),
    ),
    (("Analyze my AI costs",), "break it down by provider", expect(breakdown="provider")),
    (
        ("what if support-chat used gpt-4o-mini",),
        "and for faq-bot?",
        expect(
            "what_if", filters={"feature": ("faq-bot",)}, what_if=("switch_model", "gpt-4o-mini")
        ),
    ),
    (
        ("what if support-chat used gpt-4o-mini",),
        "last week only",
        expect(
            "what_if",
            filters={"feature": ("support-chat",)},
            period=LAST_WEEK,
            relative=True,
            what_if=("switch_model", "gpt-4o-mini"),
        ),
    ),
    (
        ("spend by model last week",),
        "week over week",
        expect(breakdown="model", period=LAST_WEEK, relative=True, comparison=WEEK_BEFORE),
    ),
    (("spend by model",), "daily", expect(breakdown="day")),
]


@pytest.mark.parametrize(
    ("earlier", "text", "expected"),
    CONVERSATIONS,
    ids=[f"{e[-1]} / {t}" for e, t, _ in CONVERSATIONS],
)
def test_follow_up(earlier: tuple[str, ...], text: str, expected: dict[str, Any]) -> None:
    previous: Query | None = None
    for message in earlier:
        first = parse(message, DEMO, previous=previous, facts=DEMO_FACTS)
        assert isinstance(first, Parsed), first
        previous = query_from_json(query_to_json(first.query))  # as the thread stores it
    result = parse(text, DEMO, previous=previous, facts=DEMO_FACTS)
    assert isinstance(result, Parsed), result
    assert result.follow_up
    assert shape(result.query) == expected


def test_a_full_question_in_a_thread_starts_afresh() -> None:
    first = parse("How much did we spend on gpt-4o last week?", DEMO)
    assert isinstance(first, Parsed)
    second = parse("How many requests did faq-bot make this month?", DEMO, previous=first.query)
    assert isinstance(second, Parsed)
    assert not second.follow_up
    assert shape(second.query) == expect(
        measures=("requests",),
        filters={"feature": ("faq-bot",)},
        period=("2025-11-01", "2025-11-25"),
        relative=True,
    )


@pytest.mark.parametrize("text", ["and the week before?", "why?", "and the day before?"])
def test_a_follow_up_without_a_previous_question_is_not_understood(text: str) -> None:
    result = parse(text, DEMO, facts=DEMO_FACTS) if text != "why?" else parse(text, DEMO)
    if text == "why?":
        # "why?" alone still has an answer: the last 7 days against the 7 before.
        assert isinstance(result, Parsed)
        assert shape(result.query)["comparison"] == ("2025-11-12", "2025-11-18")
        return
    assert isinstance(result, NotUnderstood)
    assert result.reason == "no_previous"
    assert "needs a period" in result.not_understood[0]


def test_the_week_before_all_of_the_data_cannot_be_counted() -> None:
    with pytest.raises(CannotRefine, match="needs a period"):
        refine(Query(), Refinement(before="week"), last_day=date(2025, 11, 25))


def test_refine_keeps_what_the_change_leaves_empty() -> None:
    previous = Query(
        measures=("requests",),
        breakdown="model",
        filters=(Filter("feature", ("faq-bot",)),),
        period=absolute(date(2025, 11, 3), date(2025, 11, 9)),
    )
    refined = refine(
        previous, Refinement(filters=(Filter("provider", ("openai",)),)), last_day=None
    )
    assert refined.measures == ("requests",)
    assert refined.breakdown == "model"
    assert [f.dimension for f in refined.filters] == ["provider", "feature"]
    assert refined.period == previous.period


def test_only_replaces_every_filter() -> None:
    previous = Query(filters=(Filter("model", ("gpt-4o",)), Filter("feature", ("faq-bot",))))
    refined = refine(
        previous,
        Refinement(filters=(Filter("provider", ("anthropic",)),), only=True),
        last_day=None,
    )
    assert refined.filters == (Filter("provider", ("anthropic",)),)


def test_why_baseline_of_a_day_is_the_seven_days_before_and_of_a_span_the_same_length() -> None:
    day = why_baseline(absolute(date(2025, 3, 1), date(2025, 3, 1)))
    assert (day.start, day.end, day.label) == (
        date(2025, 2, 22),
        date(2025, 2, 28),
        "the 7 days before",
    )
    span = why_baseline(absolute(date(2025, 3, 1), date(2025, 3, 10)))
    assert (span.start, span.end) == (date(2025, 2, 19), date(2025, 2, 28))
    month = why_baseline(absolute(date(2024, 3, 1), date(2024, 3, 31)))
    assert (month.start, month.end) == (date(2024, 2, 1), date(2024, 2, 29))
