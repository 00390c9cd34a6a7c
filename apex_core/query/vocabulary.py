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

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from typing import Final, Literal

from apex_core.query.model import FilterDimension
from apex_core.query.text import Token, name_key, name_parts

NameDimension = Literal["provider", "model", "feature", "end_user"]
Quality = Literal["exact", "snapshot", "partial", "fuzzy"]

NAME_DIMENSIONS: Final[tuple[NameDimension, ...]] = ("provider", "model", "feature", "end_user")
MAX_WORDS: Final = 4
FUZZY_CUTOFF: Final = 0.8
FUZZY_MIN_LENGTH: Final = 5
_SNAPSHOT: Final = re.compile(
    r"(:\d+|-v\d+|[-@]\d{8}|-\d{4}-\d{2}-\d{2}|-\d{3,4}|-latest)$", re.IGNORECASE
)
_VARIANT: Final = re.compile(
    r"^(mini|nano|turbo|flash|pro|lite|haiku|sonnet|opus|instruct|vision|large|small|medium|\d+b)$"
)
MODEL_SHAPED: Final = re.compile(
    r"^(gpt|chatgpt|o[1-9]|claude|gemini|gemma|llama|mistral|mixtral|codestral|command|deepseek|"
    r"qwen|grok|sonnet|haiku|opus|phi)([\w.\-:@/]*)$",
    re.IGNORECASE,
)
"""A word that looks like a model name (to say "not in your usage" rather than ignore it)."""
_FAMILY_ONLY: Final = frozenset({"gpt", "claude", "gemini", "llama", "mistral", "sonnet", "haiku"})


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

    def __post_init__(self) -> None:
        if (self.first_day is None) != (self.last_day is None):
            raise ValueError("a vocabulary needs both first_day and last_day or neither")
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")

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


def snapshot_base(name: str) -> str:
    """``name`` without snapshot suffixes: ``claude-3-5-sonnet-20241022`` -> ``claude-3-5-sonnet``."""
    base = name
    while (stripped := _SNAPSHOT.sub("", base)) != base and stripped:
        base = stripped
    return base


def match_phrase(
    phrase: str, names: Sequence[str], *, fuzzy: bool = True
) -> tuple[tuple[str, ...], Quality] | None:
    """The names ``phrase`` stands for and how well, or ``None``.

    No typo tolerance for a versioned model name: "gpt-4.1-mini" is not a typo of
    ``gpt-4o-mini``."""
    key = name_key(phrase)
    if not key:
        return None
    exact = [n for n in names if name_key(n) == key]
    same_model = [n for n in names if name_key(snapshot_base(n)) == key]
    if exact or same_model:
        chosen = tuple(n for n in names if n in exact or n in same_model)
        return chosen, "exact" if exact else "snapshot"
    words = name_parts(phrase)
    partial = tuple(n for n in names if _covers(words, name_parts(snapshot_base(n))))
    if partial:
        return partial, "partial"
    if (
        fuzzy
        and len(key) >= FUZZY_MIN_LENGTH
        and not (MODEL_SHAPED.match(phrase) and any(c.isdigit() for c in key))
    ):
        scored = [(_ratio(key, n), n) for n in names]
        best = max((score for score, _ in scored), default=0.0)
        if best >= FUZZY_CUTOFF:
            return tuple(n for score, n in scored if score == best), "fuzzy"
    return None


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
        for size in range(MAX_WORDS, 0, -1):
            for start in range(len(tokens) - size + 1):
                span = range(start, start + size)
                if used.intersection(span):
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
        names = vocabulary.names(dimension)
        result = match_phrase(phrase, names, fuzzy=fuzzy and loose)
        if result is None:
            continue
        values, quality = result
        if quality == "partial" and (not loose or dimension not in ("model", "feature")):
            continue
        hits.append((rank[quality], dimension, values, quality))
    if not hits:
        return None
    best = min(hit[0] for hit in hits)
    winners = [hit for hit in hits if hit[0] == best]
    _, dimension, values, quality = winners[0]
    others = tuple(v for hit in winners[1:] for v in hit[2])
    return NameMatch(dimension, phrase, values, quality, start, end, others)


def _covers(words: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """True when every word is a part of the name and no variant part of it went unsaid.

    A lone family word ("claude", "gpt") covers every model of the family.
    """
    if not words or not set(words) <= set(parts):
        return False
    if not any(w.isalpha() and len(w) >= 3 for w in words):
        return False
    if len(words) == 1 and words[0] in _FAMILY_ONLY:
        return parts[0] == words[0] or words[0] in parts
    return all(part in words for part in parts if _VARIANT.match(part))


def _ratio(key: str, name: str) -> float:
    return max(
        SequenceMatcher(None, key, name_key(name)).ratio(),
        SequenceMatcher(None, key, name_key(snapshot_base(name))).ratio(),
    )
