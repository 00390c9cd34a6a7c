"""Questions to suggest, written with the user's own names.

:func:`suggest_questions` feeds the page's suggested questions and the
off-topic reply; :func:`closest_questions` the "not understood" reply, starting
from what was understood. Every question returned here parses (the tests hold
it to that) into a query over the same vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches
from typing import Final

from apex_core.query.text import name_parts
from apex_core.query.vocabulary import NAME_DIMENSIONS, NameMatch, Vocabulary

MAX_SUGGESTIONS: Final = 3
CLOSE_CUTOFF: Final = 0.6


@dataclass(frozen=True, slots=True)
class DataFacts:
    """A few facts about the user's usage the caller computed (the engine's figures)."""

    top_model: str | None = None
    top_feature: str | None = None
    top_provider: str | None = None
    spike_day: date | None = None
    """The day whose spend rose most above the days before it, if any stands out."""


def short_day(day: date) -> str:
    """``Nov 24``: how a person writes a day (the parser places its year from the data)."""
    return f"{day:%b} {day.day}"


def suggest_questions(
    vocabulary: Vocabulary, facts: DataFacts, *, limit: int = 4
) -> tuple[str, ...]:
    """Questions worth asking about this user's data, most telling first."""
    model = facts.top_model or _first(vocabulary.models)
    feature = facts.top_feature or _first(vocabulary.features)
    candidates = [
        f"How much did we spend on {model} last week?" if model else None,
        f"Why did costs spike on {short_day(facts.spike_day)}?" if facts.spike_day else None,
        "Which feature spends the most?" if vocabulary.features else "Which model spends the most?",
        f"What would prompt caching save on {feature}?" if feature else None,
        "Analyze my AI costs",
    ]
    return _distinct(candidates, limit)


def closest_questions(
    vocabulary: Vocabulary,
    facts: DataFacts,
    *,
    names: tuple[NameMatch, ...] = (),
    unknown_words: tuple[str, ...] = (),
    period_words: str | None = None,
    limit: int = MAX_SUGGESTIONS,
) -> tuple[str, ...]:
    """Two or three questions near what the user asked: the names understood, or the stored
    names closest to ones that were not, with the period understood."""
    when = f" {period_words}" if period_words else ""
    candidates: list[str | None] = []
    named = [match.values[0] for match in names]
    for word in unknown_words:
        near = closest_name(word, vocabulary)
        if near is not None and near not in named:
            named.append(near)
    candidates.extend(f"How much did we spend on {name}{when}?" for name in named)
    model = facts.top_model or _first(vocabulary.models)
    if model and model not in named:
        candidates.append(f"How much did we spend on {model}{when or ' last week'}?")
    candidates.append(
        f"Which feature spends the most{when}?"
        if vocabulary.features
        else f"Which model spends the most{when}?"
    )
    if facts.spike_day:
        candidates.append(f"Why did costs spike on {short_day(facts.spike_day)}?")
    candidates.append("Analyze my AI costs")
    return _distinct(candidates, limit)


def closest_name(word: str, vocabulary: Vocabulary) -> str | None:
    """The stored name nearest to ``word``: similar spelling, else the same first part
    ("proj_billing" -> the first ``proj_*`` name), most spend first."""
    for dimension in NAME_DIMENSIONS:
        names = vocabulary.names(dimension)
        lowered = {name.lower(): name for name in names}
        near = get_close_matches(word.lower(), list(lowered), n=1, cutoff=CLOSE_CUTOFF)
        if near:
            return lowered[near[0]]
    head = name_parts(word)[:1]
    for dimension in NAME_DIMENSIONS:
        for name in vocabulary.names(dimension):
            if head and name_parts(name)[:1] == head:
                return name
    return None


def _first(names: tuple[str, ...]) -> str | None:
    return names[0] if names else None


def _distinct(candidates: list[str | None], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for c in candidates if c))[:limit]
