"""A query's shape for table tests: what it asks, without the wording of its labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apex_core.query.model import Query
from apex_core.query.periods import Period

Span = tuple[str, str] | None


def span(period: Period | None) -> Span:
    if period is None or period.start is None or period.end is None:
        return None
    return (period.start.isoformat(), period.end.isoformat())


def shape(query: Query) -> dict[str, Any]:
    return {
        "kind": query.kind,
        "measures": query.measures,
        "breakdown": query.breakdown,
        "filters": {f.dimension: f.values for f in query.filters},
        "period": span(query.period),
        "relative": query.period.is_relative,
        "ranking": None if query.ranking is None else (query.ranking.direction, query.ranking.n),
        "comparison": span(query.comparison),
        "what_if": None
        if query.what_if is None
        else (query.what_if.lever, query.what_if.target_model),
    }


def expect(
    kind: str = "measure",
    *,
    measures: tuple[str, ...] = ("cost",),
    breakdown: str | None = None,
    filters: Mapping[str, tuple[str, ...]] | None = None,
    period: Span = None,
    relative: bool = False,
    ranking: tuple[str, int] | None = None,
    comparison: Span = None,
    what_if: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "measures": measures,
        "breakdown": breakdown,
        "filters": dict(filters or {}),
        "period": period,
        "relative": relative,
        "ranking": ranking,
        "comparison": comparison,
        "what_if": what_if,
    }
