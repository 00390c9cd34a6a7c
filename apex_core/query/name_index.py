"""Matching one phrase against a list of names, through an index built once per list.

Kinds of match, best first: ``exact`` (same normal form: "GPT 4o" is
``gpt-4o``), ``snapshot`` (the name without its snapshot suffix: "claude 3.5
sonnet" is ``claude-3-5-sonnet-20241022``), ``partial`` (every word is a part of
the name and no variant part went unsaid: "claude sonnet"; "gpt-4o" is not
``gpt-4o-mini``), ``fuzzy`` (a typo of a long name: "suport-chat"; never for a
versioned model name). Ties keep the list's order (most spend first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Final, Literal

from apex_core.query.text import name_key, name_parts

Quality = Literal["exact", "snapshot", "partial", "fuzzy"]

FUZZY_CUTOFF: Final = 0.8
FUZZY_MIN_LENGTH: Final = 5
_SNAPSHOT: Final = re.compile(
    r"(:\d+|-v\d+|[-@]\d{8}|-\d{4}-\d{2}-\d{2}|-\d{3,4}|-latest)$", re.IGNORECASE
)
_VARIANT: Final = re.compile(
    r"^(mini|nano|turbo|flash|pro|lite|haiku|sonnet|opus|instruct|vision|large|small|medium|\d+b)$"
)
MODEL_SHAPED: Final = re.compile(
    r"^(?:(?:gpt|chatgpt|claude|gemini|gemma|llama|mistral|mixtral|codestral|deepseek|qwen)[\w.\-:@/]*"
    r"|o[1-9][\w.\-:@/]*"
    r"|(?:command|grok|phi|sonnet|haiku|opus)[-.:@/\d][\w.\-:@/]*)$",
    re.IGNORECASE,
)
"""A word that is surely a model name ("gpt-5", "claude-opus-4", "llama3"), to say "not in
your usage" rather than ignore it. Bare "haiku" or "command" may be English: see MODEL_WORD."""
MODEL_WORD: Final = re.compile(r"^(?:sonnet|haiku|opus|grok|command|phi)$", re.IGNORECASE)
"""A bare family word, a model name only where a model is expected (a what-if's target)."""
_FAMILY_ONLY: Final = frozenset({"gpt", "claude", "gemini", "llama", "mistral", "sonnet", "haiku"})


def snapshot_base(name: str) -> str:
    """``name`` without snapshot suffixes: ``claude-3-5-sonnet-20241022`` -> ``claude-3-5-sonnet``."""
    base = name
    while (stripped := _SNAPSHOT.sub("", base)) != base and stripped:
        base = stripped
    return base


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    key: str
    base_key: str
    parts: tuple[str, ...]
    part_set: frozenset[str]
    variants: frozenset[str]


@dataclass(frozen=True, slots=True)
class NameIndex:
    """The names of one dimension, in order, with their normal forms computed once."""

    entries: tuple[_Entry, ...]
    by_key: dict[str, tuple[int, ...]]
    by_base: dict[str, tuple[int, ...]]
    by_length: dict[int, tuple[tuple[int, str], ...]]
    """(position, key or base key) by the key's length: a typo changes the length little."""

    @classmethod
    def of(cls, names: Sequence[str]) -> NameIndex:
        """Index ``names`` (kept in their order)."""
        entries = []
        by_key: dict[str, list[int]] = {}
        by_base: dict[str, list[int]] = {}
        for position, name in enumerate(names):
            base = snapshot_base(name)
            parts = name_parts(base)
            entry = _Entry(
                name,
                name_key(name),
                name_key(base),
                parts,
                frozenset(parts),
                frozenset(p for p in parts if _VARIANT.match(p)),
            )
            entries.append(entry)
            by_key.setdefault(entry.key, []).append(position)
            by_base.setdefault(entry.base_key, []).append(position)
        by_length: dict[int, list[tuple[int, str]]] = {}
        for position, entry in enumerate(entries):
            for key in dict.fromkeys((entry.key, entry.base_key)):
                by_length.setdefault(len(key), []).append((position, key))
        return cls(
            tuple(entries),
            {k: tuple(v) for k, v in by_key.items()},
            {k: tuple(v) for k, v in by_base.items()},
            {k: tuple(v) for k, v in by_length.items()},
        )


def match_phrase(
    phrase: str,
    names: NameIndex | Sequence[str],
    *,
    fuzzy: bool = True,
    partial: bool = True,
) -> tuple[tuple[str, ...], Quality] | None:
    """The names ``phrase`` stands for and how well, or ``None``."""
    index = names if isinstance(names, NameIndex) else NameIndex.of(names)
    key = name_key(phrase)
    if not key:
        return None
    exact = index.by_key.get(key, ())
    same_model = index.by_base.get(key, ())
    if exact or same_model:
        positions = sorted(set(exact) | set(same_model))
        return tuple(index.entries[p].name for p in positions), "exact" if exact else "snapshot"
    if partial:
        words = name_parts(phrase)
        found = tuple(e.name for e in index.entries if _covers(words, e))
        if found:
            return found, "partial"
    if (
        fuzzy
        and len(key) >= FUZZY_MIN_LENGTH
        and not (MODEL_SHAPED.match(phrase) and any(c.isdigit() for c in key))
    ):
        return _closest(key, index)
    return None


def _covers(words: tuple[str, ...], entry: _Entry) -> bool:
    """True when every word is a part of the name and no variant part of it went unsaid.

    A lone family word ("claude", "gpt") covers every model of the family.
    """
    if not words or not entry.part_set.issuperset(words):
        return False
    if not any(w.isalpha() and len(w) >= 3 for w in words):
        return False
    if len(words) == 1 and words[0] in _FAMILY_ONLY:
        return True
    return entry.variants.issubset(words)


def _closest(key: str, index: NameIndex) -> tuple[tuple[str, ...], Quality] | None:
    """The names most like ``key`` (at least :data:`FUZZY_CUTOFF`).

    Only keys of a length that can reach the cutoff are compared (a ratio is at most
    2·min/(sum of lengths)), and difflib's cheap upper bounds go before the real ratio.
    """
    matcher = SequenceMatcher()
    matcher.set_seq2(key)
    size = len(key)
    lowest = math.ceil(size * FUZZY_CUTOFF / (2 - FUZZY_CUTOFF))
    highest = math.floor(size * (2 - FUZZY_CUTOFF) / FUZZY_CUTOFF)
    scores: dict[int, float] = {}
    for length in range(lowest, highest + 1):
        for position, candidate in index.by_length.get(length, ()):
            matcher.set_seq1(candidate)
            if matcher.real_quick_ratio() >= FUZZY_CUTOFF and matcher.quick_ratio() >= FUZZY_CUTOFF:
                score = matcher.ratio()
                if score >= FUZZY_CUTOFF:
                    scores[position] = max(score, scores.get(position, 0.0))
    if not scores:
        return None
    best = max(scores.values())
    return tuple(index.entries[p].name for p in sorted(scores) if scores[p] == best), "fuzzy"
