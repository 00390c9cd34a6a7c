"""The user's own names, and finding them in a message.

:class:`Vocabulary` is built by the caller from the user's stored usage (every
provider, model, feature and end user, most spend first, plus the data's
first and last day). :func:`find_names` finds those names in a message,
tolerant of case, spacing, punctuation and snapshot suffixes: "gpt4o",
"GPT-4o" and "gpt 4o" are ``gpt-4o`` (and every stored snapshot of it, e.g.
``gpt-4o-2024-08-06``); "claude sonnet" is every stored Claude Sonnet; a
phrase that names a version never matches a variant it did not name ("gpt-4o"
is not ``gpt-4o-mini``). Equally good matches in two dimensions are resolved
by dimension order (provider, model, feature, end user) and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from apex_core.query.model import FilterDimension
from apex_core.query.name_index import NameIndex, Quality, match_phrase
from apex_core.query.text import Token

NameDimension = Literal["provider", "model", "feature", "end_user"]

NAME_DIMENSIONS: Final[tuple[NameDimension, ...]] = ("provider", "model", "feature", "end_user")
MAX_NAME_WORDS: Final = 4
MAX_FUZZY_WORDS: Final = 2
"""A typo is looked for in phrases of at most this many words, none of them the parser's own."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The user's names by dimension, each tuple most spend first, and the data's days."""

    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    end_users: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    catalog_models: tuple[str, ...] = ()
    """Models the caller can price though the usage never used them (what-if targets)."""
    _indexes: dict[str, NameIndex] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if (self.first_day is None) != (self.last_day is None):
            raise ValueError("a vocabulary needs both first_day and last_day or neither")
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")
        for dimension in NAME_DIMENSIONS:
            self._indexes[dimension] = NameIndex.of(self.names(dimension))
        self._indexes["catalog"] = NameIndex.of(self.catalog_models)

    def index(self, dimension: NameDimension) -> NameIndex:
        """The names of ``dimension``, indexed for matching."""
        return self._indexes[dimension]

    @property
    def catalog_index(self) -> NameIndex:
        """``catalog_models``, indexed for matching."""
        return self._indexes["catalog"]

    def names(self, dimension: NameDimension) -> tuple[str, ...]:
        """The stored names of ``dimension``."""
        return {
            "provider": self.providers,
            "model": self.models,
            "feature": self.features,
            "end_user": self.end_users,
        }[dimension]


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Words of the message that name one or more stored names of one dimension."""

    dimension: NameDimension
    phrase: str
    """The user's words."""
    values: tuple[str, ...]
    """The stored names they stand for, in vocabulary order (snapshots of one model together)."""
    quality: Quality
    start: int
    end: int
    """Token indexes ``start``..``end`` (exclusive) of the phrase."""
    alternatives: tuple[str, ...] = ()
    """Names of other dimensions that matched as well and were not chosen."""

    @property
    def filter_dimension(self) -> FilterDimension:
        """The query filter this match becomes."""
        return self.dimension


def find_names(
    tokens: Sequence[Token],
    vocabulary: Vocabulary,
    *,
    taken: frozenset[int] = frozenset(),
    known: frozenset[int] = frozenset(),
) -> tuple[NameMatch, ...]:
    """Every stored name the message mentions, longest phrases first, left to right.

    ``taken`` are token indexes already understood as something else (dates); a
    phrase never includes them. ``known`` are indexes of the parser's own words
    ("report", "on"): a phrase that starts or ends with one must match a name
    exactly, never partly or by a typo ("report" is not ``nightly-report``, "on
    suport-chat" is not a typo of ``support-chat`` but "suport-chat" is).
    """
    used = set(taken)
    found: list[NameMatch] = []
    for fuzzy in (False, True):
        for size in range(MAX_FUZZY_WORDS if fuzzy else MAX_NAME_WORDS, 0, -1):
            for start in range(len(tokens) - size + 1):
                span = range(start, start + size)
                if used.intersection(span) or (fuzzy and known.intersection(span)):
                    continue
                loose = start not in known and start + size - 1 not in known
                phrase = " ".join(tokens[i].text for i in span)
                match = _best(phrase, start, start + size, vocabulary, fuzzy=fuzzy, loose=loose)
                if match is not None:
                    found.append(match)
                    used.update(span)
    return tuple(sorted(found, key=lambda m: m.start))


def _best(
    phrase: str, start: int, end: int, vocabulary: Vocabulary, *, fuzzy: bool, loose: bool
) -> NameMatch | None:
    rank = {"exact": 0, "snapshot": 1, "partial": 2, "fuzzy": 3}
    hits: list[tuple[int, NameDimension, tuple[str, ...], Quality]] = []
    for dimension in NAME_DIMENSIONS:
        partial = loose and dimension in ("model", "feature")
        result = match_phrase(
            phrase, vocabulary.index(dimension), fuzzy=fuzzy and loose, partial=partial
        )
        if result is None:
            continue
        values, quality = result
        hits.append((rank[quality], dimension, values, quality))
    if not hits:
        return None
    best = min(hit[0] for hit in hits)
    winners = [hit for hit in hits if hit[0] == best]
    _, dimension, values, quality = winners[0]
    others = tuple(v for hit in winners[1:] for v in hit[2])
    return NameMatch(dimension, phrase, values, quality, start, end, others)
