"""Saying a query in words: what the parser understood, what the agents are doing.

``describe(query)`` is one line ("cost of support-chat on 6 Oct 2025, compared
with the 7 days before"), fit for an ``agent_thinking`` text or the
"I understood" part of a reply; ``understood_parts`` lists the pieces.
"""

from __future__ import annotations

from typing import Final

from apex_core.query.model import Dimension, Filter, Measure, Query
from apex_core.query.periods import Period, day_label, span_label

MEASURE_WORDS: Final[dict[Measure, str]] = {
    "cost": "cost",
    "input_tokens": "input tokens",
    "cached_input_tokens": "cached input tokens",
    "output_tokens": "output tokens",
    "requests": "requests",
    "cost_per_request": "cost per request",
    "cost_per_1k_tokens": "cost per 1K tokens",
    "share_of_spend": "share of spend",
}
DIMENSION_WORDS: Final[dict[Dimension, str]] = {
    "day": "day",
    "week": "week",
    "month": "month",
    "provider": "provider",
    "model": "model",
    "feature": "feature",
    "end_user": "end user",
    "batch": "batch or not",
}
LEVER_WORDS: Final = {
    "switch_model": "switching model",
    "prompt_caching": "prompt caching",
    "batch": "the batch API",
    "response_cache": "a response cache",
}


def period_phrase(period: Period) -> str:
    """``last week (24-30 Nov 2025, counted back from your data's last day, 30 Nov 2025)``."""
    if period.start is None or period.end is None:
        return period.label
    dates = span_label(period.start, period.end)
    if period.relative_to is not None:
        return f"{period.label} ({dates}, counted back from your data's last day, {day_label(period.relative_to)})"
    return period.label if period.label == dates else f"{period.label} ({dates})"


def filter_phrase(item: Filter) -> str:
    """``model gpt-4o`` / ``feature support-chat or faq-bot`` / ``batch requests``."""
    if item.dimension == "batch":
        return (
            "batch requests"
            if item.values == ("true",)
            else "interactive (non-batch) requests"
            if item.values == ("false",)
            else "batch and interactive requests"
        )
    return f"{DIMENSION_WORDS[item.dimension]} {' or '.join(item.values)}"


def understood_parts(query: Query) -> tuple[str, ...]:
    """The pieces of ``query``, each a short phrase."""
    parts: list[str] = []
    if query.kind == "full_analysis":
        parts.append("a full analysis with savings")
    elif query.kind == "why":
        parts.append("why the cost changed")
    elif query.what_if is not None:
        lever = LEVER_WORDS[query.what_if.lever]
        if query.what_if.target_model:
            lever = f"switching to {query.what_if.target_model}"
        parts.append(f"what {lever} would save")
    else:
        parts.append(", ".join(MEASURE_WORDS[m] for m in query.measures))
    parts.extend(filter_phrase(f) for f in query.filters)
    parts.append(period_phrase(query.period))
    if query.breakdown is not None:
        parts.append(f"by {DIMENSION_WORDS[query.breakdown]}")
    if query.ranking is not None:
        parts.append(f"{query.ranking.direction} {query.ranking.n}")
    if query.comparison is not None:
        parts.append(f"compared with {period_phrase(query.comparison)}")
    return tuple(parts)


def describe(query: Query) -> str:
    """One line listing what ``query`` asks (its parts)."""
    return "; ".join(understood_parts(query))


def thinking(query: Query) -> str:
    """A sentence saying what the run is doing, for ``agent_thinking``: "Comparing the cost
    for feature support-chat on 6 Oct 2025 with the 7 days before (29 Sep - 5 Oct 2025)"."""
    scope = " for " + ", ".join(filter_phrase(f) for f in query.filters) if query.filters else ""
    when = _when(query.period)
    if query.kind == "full_analysis":
        return f"Analysing the usage{scope} {when} and what would save money"
    if query.kind == "why" and query.comparison is not None:
        return f"Explaining what changed the cost{scope} {when} against {period_phrase(query.comparison)}"
    if query.what_if is not None:
        lever = LEVER_WORDS[query.what_if.lever]
        if query.what_if.target_model:
            lever = f"{query.what_if.target_model} instead"
        return f"Repricing the usage{scope} {when} with {lever}"
    what = " and ".join(MEASURE_WORDS[m] for m in query.measures)
    if query.comparison is not None:
        return f"Comparing the {what}{scope} {when} with {period_phrase(query.comparison)}"
    if query.breakdown is not None:
        rank = f", {query.ranking.direction} {query.ranking.n}" if query.ranking else ""
        return f"Breaking down the {what}{scope} {when} by {DIMENSION_WORDS[query.breakdown]}{rank}"
    return f"Measuring the {what}{scope} {when}"


def _when(period: Period) -> str:
    if period.is_whole:
        return "over all your data"
    if period.days == 1 and not period.is_relative:
        return f"on {period_phrase(period)}"
    if period.is_relative:
        return period_phrase(period)
    return f"in {period_phrase(period)}"
