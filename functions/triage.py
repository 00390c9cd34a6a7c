"""Rule-based classification of a user's message: what the run should do.

Three intents:

* ``full_analysis`` — anything about costs, spend, bills, savings or usage;
* ``question`` — a specific question about one lever, with a ``focus``:
  ``caching`` (prompt caching, repeated prefixes, duplicate responses),
  ``model_choice`` (which model, cheaper model, switching) or ``batch``
  (batch/asynchronous processing);
* ``off_topic`` — greetings and everything else; the supervisor answers with
  what it can do.

Deterministic and pure: the same text always gives the same classification,
which the run's replay after a redelivery relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Intent = Literal["full_analysis", "question", "off_topic"]
Focus = Literal["caching", "model_choice", "batch"]

FOCUS_KINDS: Final[dict[str, frozenset[str]]] = {
    "caching": frozenset({"prompt_caching", "response_cache"}),
    "model_choice": frozenset({"cheaper_model"}),
    "batch": frozenset({"batch"}),
}
"""The cost engine's recommendation kinds that answer each focus."""

_WORD: Final = re.compile(r"[a-z0-9][a-z0-9.\-]*")

_FOCUS_KEYWORDS: Final[dict[Focus, frozenset[str]]] = {
    "caching": frozenset({"cache", "caching", "cached", "prefix", "prefixes"}),
    "model_choice": frozenset(
        {"model", "models", "cheaper", "switch", "switching", "downgrade", "route", "routing"}
    ),
    "batch": frozenset({"batch", "batching", "batches", "asynchronous", "async", "offline"}),
}
_FULL_ANALYSIS_KEYWORDS: Final = frozenset(
    {"analyze", "analyse", "analysis", "audit", "report", "breakdown", "overview"}
)
_COST_KEYWORDS: Final = _FULL_ANALYSIS_KEYWORDS | frozenset(
    {
        "cost",
        "costs",
        "spend",
        "spending",
        "spent",
        "bill",
        "billing",
        "invoice",
        "save",
        "saving",
        "savings",
        "money",
        "budget",
        "usage",
        "tokens",
        "price",
        "pricing",
        "expensive",
        "optimize",
        "optimise",
        "reduce",
    }
)


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    focus: Focus | None
    matched: tuple[str, ...]
    """The keywords that decided it, in order of first appearance."""
    words: int

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "focus": self.focus,
            "matched": list(self.matched),
            "words": self.words,
        }


def classify(text: str) -> Classification:
    """Classify ``text``.

    An explicit request for an analysis or report (``analyze``, ``report`` …) is a
    ``full_analysis`` even if it names a lever; otherwise a focus keyword makes a
    ``question``, any other cost keyword a ``full_analysis``, and anything else
    is ``off_topic``.
    """
    words = _WORD.findall(text.lower())
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    explicit = tuple(w for w in seen if w in _FULL_ANALYSIS_KEYWORDS)
    if explicit:
        return Classification(
            "full_analysis", None, tuple(w for w in seen if w in _COST_KEYWORDS), len(words)
        )
    for focus, keywords in _FOCUS_KEYWORDS.items():
        hits = tuple(w for w in seen if w in keywords)
        if hits:
            return Classification("question", focus, hits, len(words))
    cost_hits = tuple(w for w in seen if w in _COST_KEYWORDS)
    if cost_hits:
        return Classification("full_analysis", None, cost_hits, len(words))
    return Classification("off_topic", None, (), len(words))
