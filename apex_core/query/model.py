"""The typed question: what to measure, how to break it down, over which usage and days.

A :class:`Query` is what triage hands to the data agent, what the thread
stores for follow-ups (:mod:`apex_core.query.codec`) and what a planner's tool
call turns into (:mod:`apex_core.query.tool_schema`). Names in filters are the
user's own names as they appear in the stored usage (the parser matched them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from apex_core.query.periods import Period

Kind = Literal["measure", "why", "what_if", "full_analysis"]
"""``measure``: figures, optionally broken down; ``why``: the change from ``comparison``
to ``period`` decomposed; ``what_if``: a repricing the user named; ``full_analysis``: the report."""

Measure = Literal[
    "cost",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "requests",
    "cost_per_request",
    "cost_per_1k_tokens",
    "share_of_spend",
]
Dimension = Literal["day", "week", "month", "provider", "model", "feature", "end_user", "batch"]
"""What a breakdown groups by (weeks start on Monday)."""
FilterDimension = Literal["provider", "model", "feature", "end_user", "batch"]
Direction = Literal["top", "bottom"]
Lever = Literal["switch_model", "prompt_caching", "batch", "response_cache"]
"""A what-if: ``switch_model`` to ``target_model``, or the cost engine's other levers
(its recommendation kinds ``prompt_caching``, ``batch``, ``response_cache``)."""

KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
MEASURES: Final[tuple[Measure, ...]] = get_args(Measure)
DIMENSIONS: Final[tuple[Dimension, ...]] = get_args(Dimension)
FILTER_DIMENSIONS: Final[tuple[FilterDimension, ...]] = get_args(FilterDimension)
LEVERS: Final[tuple[Lever, ...]] = get_args(Lever)
BATCH_VALUES: Final = ("true", "false")
"""A batch filter's values: ``true`` (batch API) or ``false`` (interactive)."""
MAX_RANK: Final = 100


@dataclass(frozen=True, slots=True)
class Filter:
    """Keep usage whose ``dimension`` is one of ``values`` (the stored names, sorted)."""

    dimension: FilterDimension
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.dimension not in FILTER_DIMENSIONS:
            raise ValueError(
                f"filter dimension must be one of {FILTER_DIMENSIONS}, got {self.dimension!r}"
            )
        if not self.values or any(not value for value in self.values):
            raise ValueError(f"a {self.dimension} filter needs at least one non-empty value")
        if self.values != tuple(sorted(set(self.values))):
            raise ValueError(f"filter values must be sorted and distinct, got {self.values!r}")
        if self.dimension == "batch" and not set(self.values) <= set(BATCH_VALUES):
            raise ValueError(f"a batch filter's values are 'true'/'false', got {self.values!r}")


@dataclass(frozen=True, slots=True)
class Ranking:
    """Only the ``n`` largest (``top``) or smallest (``bottom``) groups of the breakdown."""

    direction: Direction
    n: int

    def __post_init__(self) -> None:
        if self.direction not in ("top", "bottom"):
            raise ValueError(f"ranking direction must be 'top' or 'bottom', got {self.direction!r}")
        if not 1 <= self.n <= MAX_RANK:
            raise ValueError(f"ranking n must be 1..{MAX_RANK}, got {self.n}")


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A repricing the user named: the usage in the query's filters under ``lever``."""

    lever: Lever
    target_model: str | None = None
    """The model to reprice at (``switch_model`` only; ``None``: the cost engine's own pick
    of a cheaper model). May be a model the usage never used."""

    def __post_init__(self) -> None:
        if self.lever not in LEVERS:
            raise ValueError(f"what-if lever must be one of {LEVERS}, got {self.lever!r}")
        if self.target_model is not None and self.lever != "switch_model":
            raise ValueError(f"a target_model goes only with switch_model, not {self.lever!r}")
        if self.target_model == "":
            raise ValueError("a target_model cannot be empty")


@dataclass(frozen=True, slots=True)
class Query:
    """One question about the user's usage. Invariants are checked on construction."""

    kind: Kind = "measure"
    measures: tuple[Measure, ...] = ("cost",)
    breakdown: Dimension | None = None
    filters: tuple[Filter, ...] = ()
    """At most one filter per dimension, in :data:`FILTER_DIMENSIONS` order."""
    period: Period = field(default_factory=Period)
    ranking: Ranking | None = None
    comparison: Period | None = None
    """The other period: the baseline of a ``why``, or what a ``measure`` is compared with."""
    what_if: WhatIf | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not self.measures or len(set(self.measures)) != len(self.measures):
            raise ValueError(f"measures must be distinct and at least one, got {self.measures!r}")
        if unknown := [m for m in self.measures if m not in MEASURES]:
            raise ValueError(f"unknown measures {unknown}; expected some of {MEASURES}")
        if self.breakdown is not None and self.breakdown not in DIMENSIONS:
            raise ValueError(f"breakdown must be one of {DIMENSIONS}, got {self.breakdown!r}")
        order = [FILTER_DIMENSIONS.index(f.dimension) for f in self.filters]
        if order != sorted(set(order)):
            raise ValueError("filters must name each dimension once, in FILTER_DIMENSIONS order")
        if self.ranking is not None and self.breakdown is None:
            raise ValueError("a ranking needs a breakdown to rank")
        if (self.kind == "what_if") != (self.what_if is not None):
            raise ValueError("a what_if (and only a what_if query) needs its lever")
        if self.kind == "why" and self.comparison is None:
            raise ValueError("a why query needs the comparison period it explains the change from")
        if self.comparison is not None and (self.period.is_whole or self.comparison.is_whole):
            raise ValueError("a comparison needs two bounded periods")

    def filter_on(self, dimension: FilterDimension) -> Filter | None:
        """The filter on ``dimension``, if any."""
        return next((f for f in self.filters if f.dimension == dimension), None)


def with_filter(filters: tuple[Filter, ...], new: Filter) -> tuple[Filter, ...]:
    """``filters`` with ``new`` replacing any filter on the same dimension, kept in order."""
    kept = [f for f in filters if f.dimension != new.dimension] + [new]
    return tuple(sorted(kept, key=lambda f: FILTER_DIMENSIONS.index(f.dimension)))
