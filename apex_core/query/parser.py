"""The deterministic parser: a message, the user's vocabulary and the thread's previous
query in; a query, or a "not understood" answer that says why, out.

Never a silent fallback: a message that is off topic, names something the
usage does not have, names a date that does not exist or lies outside the
data, or is a follow-up with nothing to follow, gets a :class:`NotUnderstood`
that says what was understood, what was not, and offers two or three
questions it can answer, with the user's own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from apex_core.query.codec import query_to_json
from apex_core.query.describe import period_phrase, understood_parts
from apex_core.query.followups import DEFAULT_QUERY, CannotRefine, Refinement, refine
from apex_core.query.model import Dimension, Filter, FilterDimension, Kind, Query, WhatIf
from apex_core.query.periods import Period, span_label
from apex_core.query.reading import Reading, read
from apex_core.query.suggestions import DataFacts, closest_questions, suggest_questions
from apex_core.query.text import tokenize
from apex_core.query.vocabulary import NameMatch, Vocabulary
from apex_core.query.words import COMPARE

Reason = Literal[
    "empty",
    "off_topic",
    "too_long",
    "unknown_name",
    "bad_date",
    "no_data",
    "no_previous",
    "unclear",
]
MAX_MESSAGE_WORDS: Final = 80
"""Longer messages are not read word by word (a question is short; the work grows with it)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """The message is this query."""

    query: Query
    understood: tuple[str, ...]
    """The query's parts in words (for the reply and ``agent_thinking``)."""
    notes: tuple[str, ...]
    """How names, typos and ambiguities were read; say them with the answer."""
    follow_up: bool
    """True when the query refines the thread's previous one."""
    names: tuple[NameMatch, ...]

    def to_json(self) -> dict[str, Any]:
        """For triage's ``tool_completed`` event and the run's result."""
        return {
            "understood": True,
            "query": query_to_json(self.query),
            "description": list(self.understood),
            "notes": list(self.notes),
            "follow_up": self.follow_up,
        }


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """The message could not become a query; :meth:`reply` says so to the user."""

    reason: Reason
    understood: tuple[str, ...]
    not_understood: tuple[str, ...]
    suggestions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """For triage's ``tool_completed`` event and the run's result."""
        return {
            "understood": False,
            "reason": self.reason,
            "description": list(self.understood),
            "not_understood": list(self.not_understood),
            "suggestions": list(self.suggestions),
        }

    def reply(self) -> str:
        """The answer to send: what was understood, what was not, what to ask instead."""
        lines: list[str] = []
        if self.reason == "off_topic":
            lines.append("That does not look like a question about your AI spend.")
        elif self.understood:
            lines.append(f"I understood: {'; '.join(self.understood)}.")
        if self.not_understood:
            lines.append(f"I did not understand: {'; '.join(self.not_understood)}.")
        lines.append("You could ask:")
        lines.extend(f"- {question}" for question in self.suggestions)
        return "\n".join(lines)


ParseResult = Parsed | NotUnderstood


def parse(
    text: str,
    vocabulary: Vocabulary,
    *,
    previous: Query | None = None,
    facts: DataFacts | None = None,
) -> ParseResult:
    """Turn ``text`` into a query over the user's ``vocabulary``; a follow-up refines ``previous``."""
    facts = facts or DataFacts()
    words = len(tokenize(text))
    if words > MAX_MESSAGE_WORDS:
        problem = f"a message of {words} words: ask one question at a time, in at most {MAX_MESSAGE_WORDS} words"
        return NotUnderstood(
            "too_long", (), (problem,), suggest_questions(vocabulary, facts, limit=3)
        )
    reading = read(text, vocabulary)
    if not text.strip() or reading.empty:
        reason: Reason = "empty" if not text.strip() else "off_topic"
        return NotUnderstood(reason, (), (), suggest_questions(vocabulary, facts, limit=3))
    problems = tuple(d.problem for d in reading.dates if d.problem)
    if problems or reading.unknown:
        return _not_understood(
            "bad_date" if problems else "unknown_name",
            reading,
            vocabulary,
            facts,
            problems + reading.unknown,
        )
    follow_up = previous is not None and _is_follow_up(reading)
    change = _refinement(reading)
    if change.kind == "what_if" and change.what_if is None:
        return _not_understood(
            "unclear",
            reading,
            vocabulary,
            facts,
            (
                "which change to price: prompt caching, the batch API, a response cache or another model",
            ),
        )
    try:
        query = refine(
            previous if follow_up and previous is not None else DEFAULT_QUERY,
            change,
            last_day=vocabulary.last_day,
            spike_day=facts.spike_day,
        )
    except CannotRefine as error:
        reason = "no_previous" if not follow_up and change.before else "unclear"
        return _not_understood(reason, reading, vocabulary, facts, (str(error),))
    outside = _outside_data(query, vocabulary)
    if outside:
        return _not_understood("no_data", reading, vocabulary, facts, (outside,), query=query)
    return Parsed(
        query, understood_parts(query), _notes(reading, query, vocabulary), follow_up, reading.names
    )


def _is_follow_up(reading: Reading) -> bool:
    """A message that starts like a follow-up, or that says nothing a question needs on its own."""
    standalone = (
        reading.measures or reading.cost_words or reading.on_topic_words or reading.analysis
    )
    return reading.follow_up_start or not standalone


def _refinement(reading: Reading) -> Refinement:
    main = [d for d in reading.dates if d.period is not None]
    before = next((d.before for d in reading.dates if d.before), None)
    over = next((d.over for d in reading.dates if d.over), None)
    return Refinement(
        kind=_kind(reading),
        measures=reading.measures
        or (("cost",) if reading.cost_words and not reading.analysis else ()),
        breakdown=reading.breakdowns[0] if reading.breakdowns else _compared(reading),
        ranking=reading.ranking,
        superlative=reading.superlative,
        filters=_filters(reading),
        only=reading.only,
        period=main[0].period if main else None,
        comparison=main[1].period if len(main) > 1 else None,
        before=before,
        over=over,
        what_if=_what_if(reading),
        spike="spike" in reading.masked or "jump" in reading.masked or "peak" in reading.masked,
    )


def _compared(reading: Reading) -> Dimension | None:
    """ "compare gpt-4o and claude", "support-chat vs faq-bot": a breakdown by that dimension."""
    if not COMPARE.search(reading.masked):
        return None
    dimensions = [m.dimension for m in reading.names]
    return next((d for d in dimensions if dimensions.count(d) > 1), None)


def _kind(reading: Reading) -> Kind | None:
    if reading.what_if:
        return "what_if"
    if reading.why:
        return "why"
    if reading.analysis and not (reading.breakdowns or reading.measures or reading.ranking):
        return "full_analysis"
    return None


def _what_if(reading: Reading) -> WhatIf | None:
    if not reading.what_if:
        return None
    lever = reading.lever or ("switch_model" if reading.target else None)
    if lever is None:
        return None
    return WhatIf(lever, reading.target if lever == "switch_model" else None)


def _filters(reading: Reading) -> tuple[Filter, ...]:
    values: dict[FilterDimension, set[str]] = {}
    for match in reading.names:
        values.setdefault(match.filter_dimension, set()).update(match.values)
    if reading.batch_filter is not None:
        values["batch"] = {reading.batch_filter}
    return tuple(Filter(dimension, tuple(sorted(names))) for dimension, names in values.items())


def _outside_data(query: Query, vocabulary: Vocabulary) -> str | None:
    first, last = vocabulary.first_day, vocabulary.last_day
    if first is None or last is None or query.period.overlaps(first, last):
        return None
    return f"{period_phrase(query.period)} has no usage: your data covers {span_label(first, last)}"


def _notes(reading: Reading, query: Query, vocabulary: Vocabulary) -> tuple[str, ...]:
    notes = [f'read "{typed}" as "{meant}"' for typed, meant in reading.corrections]
    for match in reading.names:
        if match.quality == "fuzzy":
            notes.append(f'read "{match.phrase}" as {" or ".join(match.values)}')
        elif match.quality == "partial" and len(match.values) > 1:
            notes.append(f'"{match.phrase}" covers {", ".join(match.values)}')
        if match.alternatives:
            notes.append(
                f'"{match.phrase}" also names {", ".join(match.alternatives)}; '
                f"used the {match.dimension.replace('_', ' ')} {', '.join(match.values)}"
            )
    if len(reading.breakdowns) > 1 and query.breakdown is not None:
        notes.append(f"one breakdown at a time: by {query.breakdown.replace('_', ' ')}")
    target = query.what_if.target_model if query.what_if else None
    if target and target not in vocabulary.models:
        notes.append(f"{target} is not in your usage: it is priced from the price list")
    return tuple(notes)


def _not_understood(
    reason: Reason,
    reading: Reading,
    vocabulary: Vocabulary,
    facts: DataFacts,
    problems: tuple[str, ...],
    *,
    query: Query | None = None,
) -> NotUnderstood:
    understood = understood_parts(query) if query is not None else _understood_words(reading)
    unknown_words = tuple(p.split('"')[1] for p in problems if p.startswith('"'))
    period = next(
        (d.period for d in reading.dates if d.period is not None and not d.period.is_whole), None
    )
    suggestions = closest_questions(
        vocabulary,
        facts,
        names=reading.names,
        unknown_words=unknown_words,
        period_words=_period_words(period) if reason != "no_data" else None,
    )
    return NotUnderstood(reason, understood, problems, suggestions)


def _understood_words(reading: Reading) -> tuple[str, ...]:
    parts = [f"{m.dimension.replace('_', ' ')} {', '.join(m.values)}" for m in reading.names]
    parts += [period_phrase(d.period) for d in reading.dates if d.period is not None]
    parts += [m.replace("_", " ") for m in reading.measures]
    return tuple(parts)


def _period_words(period: Period | None) -> str | None:
    """The period as words a suggested question can end with ("last week", "on 6 Nov 2025")."""
    if period is None:
        return None
    if period.is_relative:
        return period.label
    return f"on {period.label}" if period.days == 1 else f"in {period.label}"
