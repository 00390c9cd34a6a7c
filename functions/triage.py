"""Triage's reading of a message: a typed question over the user's own names.

The message is parsed by :func:`apex_core.query.parser.parse` against the
vocabulary of the user's stored usage (every provider, model, feature and end
user, most spend first) and the thread's previous query, so "and the week
before?" refines it. The result is a :class:`Reading`: the parse result (a
query, or "not understood" with suggestions), and the roll-up, prices and
vocabulary the next agents reuse. Deterministic: the same message over the
same usage and previous query reads the same, which a redelivery's replay
relies on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from apex_core.answers.facts import facts_of, vocabulary_of
from apex_core.cost import PriceBook, UsageRollup
from apex_core.query.codec import query_to_json
from apex_core.query.describe import describe
from apex_core.query.model import Query
from apex_core.query.parser import NotUnderstood, Parsed, ParseResult, parse
from apex_core.query.suggestions import DataFacts, suggest_questions
from apex_core.query.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class Reading:
    """What triage found: the parsed question and the usage it is about."""

    parsed: ParseResult
    rollup: UsageRollup
    prices: PriceBook
    vocabulary: Vocabulary
    facts: DataFacts

    @property
    def query(self) -> Query | None:
        """The question's query, ``None`` when the message was not understood."""
        return self.parsed.query if isinstance(self.parsed, Parsed) else None

    @property
    def off_topic(self) -> bool:
        return isinstance(self.parsed, NotUnderstood) and self.parsed.reason in (
            "off_topic",
            "empty",
        )

    def label(self) -> str:
        """What triage understood, in words (for the route and the summaries)."""
        if isinstance(self.parsed, Parsed):
            return describe(self.parsed.query)
        return "not about AI costs" if self.off_topic else "not understood"

    def summary(self) -> str:
        """``tool_completed``'s summary: the parsed query as JSON, or what was not understood."""
        if isinstance(self.parsed, Parsed):
            return f"understood: {describe(self.parsed.query)}; query: {_compact(query_to_json(self.parsed.query))}"
        return f"not understood ({self.parsed.reason}): {'; '.join(self.parsed.not_understood) or 'no question about AI spend'}"

    def suggestions(self) -> tuple[str, ...]:
        """Questions worth asking about this user's data (their own names)."""
        return suggest_questions(self.vocabulary, self.facts, limit=3)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def read_question(text: str, rollup: UsageRollup, *, previous: Query | None) -> Reading:
    """Parse ``text`` over ``rollup``'s names, refining ``previous`` when it is a follow-up."""
    prices = PriceBook()
    vocabulary = vocabulary_of(rollup, prices)
    facts = facts_of(rollup, prices, vocabulary)
    parsed = parse(text, vocabulary, previous=previous, facts=facts)
    return Reading(parsed, rollup, prices, vocabulary, facts)
