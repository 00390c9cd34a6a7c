"""The deterministic narrator fills its templates with computed facts."""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import pytest

from functions.narrator import TEMPLATES, Step, TemplateNarrator

FACTS = {
    "intent_label": "a full cost analysis",
    "agents": "data",
    "total_usd": Decimal("1234.5"),
    "days": 30,
    "models": 4,
    "recommendations": 2,
    "savings_usd": Decimal("99.999"),
    "words": 4,
    "uploads": 1,
    "requests": 12345,
    "demo_days": 30,
    "top_model": "gpt-4o",
    "top_share": Decimal("0.4567"),
    "summary": "1 row(s) computed from your usage",
    "sentence": "You spent $1.00 over all your data.",
    "count": 2,
    "top_title": "Cache it",
    "top_savings_usd": 12.5,
    "lines": 20,
}


def test_every_step_has_a_template() -> None:
    assert set(TEMPLATES) == set(get_args(Step))


@pytest.mark.parametrize("step", get_args(Step))
def test_every_template_renders_with_the_facts(step: Step) -> None:
    text = TemplateNarrator().narrate(step, FACTS)
    assert text
    assert "{" not in text


def test_numbers_are_formatted_from_the_facts() -> None:
    narrator = TemplateNarrator()
    assert narrator.narrate("data.summary", FACTS) == (
        "$1,234.50 over 30 days on 4 priced models; the most expensive is gpt-4o at 45.7% of spend."
    )
    assert "$100.00 a month" in narrator.narrate("supervisor.summary", FACTS)


def test_a_missing_fact_names_the_step_and_the_fact() -> None:
    with pytest.raises(LookupError, match=r"data\.summary.*total_usd"):
        TemplateNarrator().narrate("data.summary", {})


def test_counts_agree_with_their_nouns_and_verbs() -> None:
    narrator = TemplateNarrator()
    one = narrator.narrate(
        "triage.summary",
        {"intent_label": "A full analysis", "uploads": 1, "requests": 1, "days": 1},
    )
    assert one == "A full analysis; stored usage: 1 upload, 1 request over 1 day."
    many = narrator.narrate(
        "optimization.summary",
        {"count": 2, "savings_usd": 3.5, "top_title": "x", "top_savings_usd": 2.0},
    )
    assert many.startswith("2 changes save up to $3.50 a month")
    single = narrator.narrate(
        "optimization.summary",
        {"count": 1, "savings_usd": 3.5, "top_title": "x", "top_savings_usd": 3.5},
    )
    assert single.startswith("1 change saves up to")


def test_amounts_under_a_dollar_follow_the_report_money_rule() -> None:
    text = TemplateNarrator().narrate("supervisor.summary", {**FACTS, "total_usd": 0.2473})
    assert text.startswith("Analysed $0.247 of AI spend")
