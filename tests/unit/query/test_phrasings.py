"""The phrasing table: what people type, and the query each must become.

Expected dates are worked out by hand from the demo data's last day, Tuesday
2025-11-25 (first day 2025-10-27): "last week" is Mon 17 - Sun 23 Nov, "this
week" Mon 24 - Tue 25 Nov, "last month" October, "this month" 1-25 Nov.
"""

from __future__ import annotations

from typing import Any

import pytest

from apex_core.query.parser import Parsed, parse
from tests.unit.query.shapes import expect, shape
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS, REAL

LAST_WEEK = ("2025-11-17", "2025-11-23")
WEEK_BEFORE = ("2025-11-10", "2025-11-16")
THIS_WEEK = ("2025-11-24", "2025-11-25")
THIS_MONTH = ("2025-11-01", "2025-11-25")
OCTOBER = ("2025-10-01", "2025-10-31")
LAST_7 = ("2025-11-19", "2025-11-25")
PREVIOUS_7 = ("2025-11-12", "2025-11-18")
LATEST = ("2025-11-25", "2025-11-25")
SONNET = ("claude-3-5-sonnet-20241022",)
TOKENS = ("input_tokens", "cached_input_tokens", "output_tokens")

STANDALONE: list[tuple[str, dict[str, Any]]] = [
    # the issue's own examples
    (
        "How much did we spend on gpt-4o last week?",
        expect(filters={"model": ("gpt-4o",)}, period=LAST_WEEK, relative=True),
    ),
    (
        "Why did costs spike on Nov 24?",
        expect("why", period=("2025-11-24", "2025-11-24"), comparison=("2025-11-17", "2025-11-23")),
    ),
    ("Analyze my AI costs", expect("full_analysis")),
    ("Which team spends the most?", expect(breakdown="feature", ranking=("top", 1))),
    ("give me a report", expect("full_analysis")),
    (
        "what if support-chat used gpt-4o-mini",
        expect(
            "what_if",
            filters={"feature": ("support-chat",)},
            what_if=("switch_model", "gpt-4o-mini"),
        ),
    ),
    (
        "what would prompt caching save on doc-search",
        expect("what_if", filters={"feature": ("doc-search",)}, what_if=("prompt_caching", None)),
    ),
    (
        "what would the batch API save on nightly-report",
        expect("what_if", filters={"feature": ("nightly-report",)}, what_if=("batch", None)),
    ),
    # casing, spacing and punctuation of names
    (
        "how much did gpt4o cost yesterday",
        expect(filters={"model": ("gpt-4o",)}, period=LATEST, relative=True),
    ),
    (
        "GPT-4o spend this month",
        expect(filters={"model": ("gpt-4o",)}, period=THIS_MONTH, relative=True),
    ),
    ("HOW MUCH DID WE SPEND ON GPT 4O?", expect(filters={"model": ("gpt-4o",)})),
    ("spend on gpt-4o-mini", expect(filters={"model": ("gpt-4o-mini",)})),
    (
        "claude sonnet tokens last 7 days",
        expect(measures=TOKENS, filters={"model": SONNET}, period=LAST_7, relative=True),
    ),
    (
        "cost per 1k tokens for gemini",
        expect(measures=("cost_per_1k_tokens",), filters={"model": ("gemini-1.5-flash",)}),
    ),
    ("Gemini 1.5 Flash spend", expect(filters={"model": ("gemini-1.5-flash",)})),
    ("how much did Support Chat cost", expect(filters={"feature": ("support-chat",)})),
    ("costs of the support_chat feature", expect(filters={"feature": ("support-chat",)})),
    ("how much did nightly report cost", expect(filters={"feature": ("nightly-report",)})),
    ("spend for ANTHROPIC", expect(filters={"provider": ("anthropic",)})),
    (
        "Open AI spend last month",
        expect(filters={"provider": ("openai",)}, period=OCTOBER, relative=True),
    ),
    ("costs for user-07", expect(filters={"end_user": ("user-07",)})),
    (
        "gemini spend for user 3",
        expect(filters={"model": ("gemini-1.5-flash",), "end_user": ("user-03",)}),
    ),
    ("spend on gpt-4o and gpt-4o-mini", expect(filters={"model": ("gpt-4o", "gpt-4o-mini")})),
    (
        "compare gpt-4o and claude last week",
        expect(
            breakdown="model",
            filters={"model": ("claude-3-5-sonnet-20241022", "gpt-4o")},
            period=LAST_WEEK,
            relative=True,
        ),
    ),
    (
        "support-chat vs faq-bot tokens",
        expect(
            measures=TOKENS, breakdown="feature", filters={"feature": ("faq-bot", "support-chat")}
        ),
    ),
    ("faq-bot's cost", expect(filters={"feature": ("faq-bot",)})),
    # typos
    (
        "how much did we spnd on suport-chat last wek",
        expect(filters={"feature": ("support-chat",)}, period=LAST_WEEK, relative=True),
    ),
    ("anlyze my costs", expect("full_analysis")),
    ("whcih model costs the most", expect(breakdown="model", ranking=("top", 1))),
    ("cost by modle", expect(breakdown="model")),
    ("daly spend", expect(breakdown="day")),
    ("spend on ticket-clasifier", expect(filters={"feature": ("ticket-classifier",)})),
    (
        "tokns used by code-review yesterday",
        expect(
            measures=TOKENS, filters={"feature": ("code-review",)}, period=LATEST, relative=True
        ),
    ),
    # absolute dates and ranges
    ("spend on 2025-11-06", expect(period=("2025-11-06", "2025-11-06"))),
    ("what's our bill on 6 Nov", expect(period=("2025-11-06", "2025-11-06"))),
    ("cost on November 6th, 2025", expect(period=("2025-11-06", "2025-11-06"))),
    ("cost in October 2025", expect(period=OCTOBER)),
    ("cost in october", expect(period=OCTOBER)),
    ("spend in 2025-10", expect(period=OCTOBER)),
    (
        "between Nov 1 and Nov 7 by day",
        expect(breakdown="day", period=("2025-11-01", "2025-11-07")),
    ),
    ("costs from 28 Oct to 3 Nov", expect(period=("2025-10-28", "2025-11-03"))),
    ("spend Nov 3-9", expect(period=("2025-11-03", "2025-11-09"))),
    (
        "how much did anthropic cost between 2025-11-01 and 2025-11-15",
        expect(filters={"provider": ("anthropic",)}, period=("2025-11-01", "2025-11-15")),
    ),
    (
        "input tokens of support-chat on Nov 12",
        expect(
            measures=("input_tokens",),
            filters={"feature": ("support-chat",)},
            period=("2025-11-12", "2025-11-12"),
        ),
    ),
    # relative periods
    ("spend this week", expect(period=THIS_WEEK, relative=True)),
    ("spend last week", expect(period=LAST_WEEK, relative=True)),
    ("cost over the last 30 days", expect(period=("2025-10-27", "2025-11-25"), relative=True)),
    ("costs in the past 2 weeks", expect(period=("2025-11-12", "2025-11-25"), relative=True)),
    ("spend in the last three days", expect(period=("2025-11-23", "2025-11-25"), relative=True)),
    ("what did we spend today", expect(period=LATEST, relative=True)),
    ("spend month to date", expect(period=THIS_MONTH, relative=True)),
    ("total spend all time", expect()),
    # measures
    ("cost per request by model", expect(measures=("cost_per_request",), breakdown="model")),
    (
        "average cost per call for faq-bot",
        expect(measures=("cost_per_request",), filters={"feature": ("faq-bot",)}),
    ),
    (
        "how many requests did faq-bot make last week",
        expect(
            measures=("requests",),
            filters={"feature": ("faq-bot",)},
            period=LAST_WEEK,
            relative=True,
        ),
    ),
    (
        "what share of spend is support-chat",
        expect(measures=("share_of_spend",), filters={"feature": ("support-chat",)}),
    ),
    (
        "what percent of our spend goes to openai",
        expect(measures=("share_of_spend",), filters={"provider": ("openai",)}),
    ),
    ("cached tokens by provider", expect(measures=("cached_input_tokens",), breakdown="provider")),
    (
        "output tokens by day last week",
        expect(measures=("output_tokens",), breakdown="day", period=LAST_WEEK, relative=True),
    ),
    (
        "input and output tokens for code-review",
        expect(measures=("input_tokens", "output_tokens"), filters={"feature": ("code-review",)}),
    ),
    # breakdowns and rankings
    ("Spend By Provider", expect(breakdown="provider")),
    ("spend per customer", expect(breakdown="end_user")),
    (
        "which customer costs the most this month",
        expect(breakdown="end_user", ranking=("top", 1), period=THIS_MONTH, relative=True),
    ),
    ("top 3 features by cost", expect(breakdown="feature", ranking=("top", 3))),
    (
        "top five users last week",
        expect(breakdown="end_user", ranking=("top", 5), period=LAST_WEEK, relative=True),
    ),
    (
        "cheapest 2 models last month",
        expect(breakdown="model", ranking=("bottom", 2), period=OCTOBER, relative=True),
    ),
    ("most expensive day", expect(breakdown="day", ranking=("top", 1))),
    ("weekly spend", expect(breakdown="week")),
    ("monthly costs by month", expect(breakdown="month")),
    ("daily spend for openai", expect(breakdown="day", filters={"provider": ("openai",)})),
    (
        "spend over time for support-chat",
        expect(breakdown="day", filters={"feature": ("support-chat",)}),
    ),
    ("batch vs interactive spend", expect(breakdown="batch")),
    (
        "cost of batch requests last month",
        expect(filters={"batch": ("true",)}, period=OCTOBER, relative=True),
    ),
    (
        "which project spends most on claude",
        expect(breakdown="feature", ranking=("top", 1), filters={"model": SONNET}),
    ),
    (
        "who uses gpt-4o the most",
        expect(breakdown="end_user", ranking=("top", 1), filters={"model": ("gpt-4o",)}),
    ),
    # comparisons
    ("spend week over week", expect(period=LAST_WEEK, relative=True, comparison=WEEK_BEFORE)),
    (
        "spend last week vs the week before",
        expect(period=LAST_WEEK, relative=True, comparison=WEEK_BEFORE),
    ),
    (
        "costs on Nov 3 compared to the week before",
        expect(period=("2025-11-03", "2025-11-03"), comparison=("2025-10-27", "2025-11-02")),
    ),
    ("November vs October", expect(period=("2025-11-01", "2025-11-30"), comparison=OCTOBER)),
    (
        "gpt-4o spend on Nov 20 vs the day before",
        expect(
            filters={"model": ("gpt-4o",)},
            period=("2025-11-20", "2025-11-20"),
            comparison=("2025-11-19", "2025-11-19"),
        ),
    ),
    # why
    (
        "why did spend jump?",
        expect("why", period=("2025-11-10", "2025-11-10"), comparison=("2025-11-03", "2025-11-09")),
    ),
    (
        "why did costs go up last week",
        expect("why", period=LAST_WEEK, relative=True, comparison=WEEK_BEFORE),
    ),
    (
        "what drove support-chat's cost on Nov 10?",
        expect(
            "why",
            filters={"feature": ("support-chat",)},
            period=("2025-11-10", "2025-11-10"),
            comparison=("2025-11-03", "2025-11-09"),
        ),
    ),
    ("why is our bill higher", expect("why", period=LAST_7, relative=True, comparison=PREVIOUS_7)),
    # what-if
    (
        "what would a cheaper model save on ticket-classifier",
        expect(
            "what_if", filters={"feature": ("ticket-classifier",)}, what_if=("switch_model", None)
        ),
    ),
    (
        "what would a response cache save on faq-bot",
        expect("what_if", filters={"feature": ("faq-bot",)}, what_if=("response_cache", None)),
    ),
    (
        "how much would we save by moving nightly-report to the batch API",
        expect("what_if", filters={"feature": ("nightly-report",)}, what_if=("batch", None)),
    ),
    (
        "what if we used gpt-4.1-mini for support chat",
        expect(
            "what_if",
            filters={"feature": ("support-chat",)},
            what_if=("switch_model", "gpt-4.1-mini"),
        ),
    ),
    (
        "What if code-review switched to gpt-4o?",
        expect(
            "what_if", filters={"feature": ("code-review",)}, what_if=("switch_model", "gpt-4o")
        ),
    ),
    (
        "what would caching save last week",
        expect("what_if", period=LAST_WEEK, relative=True, what_if=("prompt_caching", None)),
    ),
]

REAL_NAMES: list[tuple[str, dict[str, Any]]] = [
    # every stored snapshot of a model answers to its plain name
    ("gpt-4o spend", expect(filters={"model": ("gpt-4o", "gpt-4o-2024-08-06")})),
    ("gpt-4o-mini spend", expect(filters={"model": ("gpt-4o-mini-2024-07-18",)})),
    (
        "claude haiku cost on Mar 3",
        expect(
            filters={"model": ("claude-3-5-haiku-20241022",)}, period=("2025-03-03", "2025-03-03")
        ),
    ),
    (
        "claude spend",
        expect(filters={"model": ("claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022")}),
    ),
    (
        "cost of proj_support last week",
        expect(
            filters={"feature": ("proj_support",)},
            period=("2025-03-24", "2025-03-30"),
            relative=True,
        ),
    ),
    ("spend by workspace", expect(breakdown="feature")),
    (
        "what if proj_search used gpt-4.1-mini",
        expect(
            "what_if",
            filters={"feature": ("proj_search",)},
            what_if=("switch_model", "gpt-4.1-mini"),
        ),
    ),
    (
        "what if proj_support used gemini 2.0 flash",
        expect(
            "what_if",
            filters={"feature": ("proj_support",)},
            what_if=("switch_model", "gemini-2.0-flash"),
        ),
    ),
    (
        "what if proj_support used claude 3.5 haiku",
        expect(
            "what_if",
            filters={"feature": ("proj_support",)},
            what_if=("switch_model", "claude-3-5-haiku-20241022"),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), STANDALONE, ids=[t for t, _ in STANDALONE])
def test_demo_phrasing(text: str, expected: dict[str, Any]) -> None:
    result = parse(text, DEMO, facts=DEMO_FACTS)
    assert isinstance(result, Parsed), result
    assert shape(result.query) == expected
    assert not result.follow_up


@pytest.mark.parametrize(("text", "expected"), REAL_NAMES, ids=[t for t, _ in REAL_NAMES])
def test_real_export_names(text: str, expected: dict[str, Any]) -> None:
    result = parse(text, REAL)
    assert isinstance(result, Parsed), result
    assert shape(result.query) == expected
