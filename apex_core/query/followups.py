"""Refining a query: a follow-up ("and the week before?", "only for anthropic", "why?",
"break it down by model") changes some parts of the previous query and keeps the rest.

A fresh question is a refinement of :data:`DEFAULT_QUERY` (cost over all the
data), so both go through :func:`refine`. Pure: the thread stores the
previous query; this only computes the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Final

from apex_core.query.dates import Before
from apex_core.query.model import (
    Dimension,
    Direction,
    Filter,
    Kind,
    Measure,
    Query,
    Ranking,
    WhatIf,
    with_filter,
)
from apex_core.query.periods import Period, Unit, preceding, relative

DEFAULT_QUERY: Final = Query()
WHY_BASELINE_DAYS: Final = 7
"""A single day (a spike) is explained against this many days before it."""
DEFAULT_BREAKDOWN: Final[Dimension] = "model"
"""What "top 5" ranks when nothing says what to break down by."""


class CannotRefine(ValueError):
    """The change cannot apply to the query (e.g. "the week before" all of the data)."""


@dataclass(frozen=True, slots=True)
class Refinement:
    """The parts a message sets; everything left empty is kept from the previous query."""

    kind: Kind | None = None
    measures: tuple[Measure, ...] = ()
    breakdown: Dimension | None = None
    ranking: Ranking | None = None
    superlative: Direction | None = None
    """"the most" / "the least": rank the breakdown, one group."""
    filters: tuple[Filter, ...] = ()
    only: bool = False
    """The filters replace all of the previous query's ("only for anthropic")."""
    period: Period | None = None
    comparison: Period | None = None
    """A second period the message named ("October vs September")."""
    before: Before | None = None
    over: Unit | None = None
    what_if: WhatIf | None = None
    spike: bool = False
    """The message is about a spike: a "why" over all the data looks at the spike day."""


def refine(
    previous: Query,
    change: Refinement,
    *,
    last_day: date | None,
    spike_day: date | None = None,
) -> Query:
    """``previous`` with the parts ``change`` sets; :class:`CannotRefine` if they cannot apply."""
    kind = _kind(previous, change)
    breakdown = change.breakdown or (previous.breakdown if kind == "measure" else None)
    ranking = change.ranking or (
        Ranking(change.superlative, 1) if change.superlative and breakdown else None
    )
    if ranking is None and kind == "measure":
        ranking = previous.ranking
    if ranking is not None and breakdown is None:
        breakdown = DEFAULT_BREAKDOWN
    filters = () if change.only and change.filters else previous.filters
    for item in change.filters:
        filters = with_filter(filters, item)
    period, comparison = _periods(previous, change, last_day)
    if kind == "why":
        if period.is_whole:
            period = _why_default(change, last_day, spike_day)
        if comparison is None:
            comparison = why_baseline(period)
    measures = change.measures or (previous.measures if kind == "measure" else ("cost",))
    what_if = change.what_if or (previous.what_if if kind == "what_if" else None)
    try:
        return Query(
            kind=kind,
            measures=measures,
            breakdown=breakdown if kind == "measure" else None,
            filters=filters,
            period=period,
            ranking=ranking if kind == "measure" else None,
            comparison=comparison if kind in ("measure", "why") else None,
            what_if=what_if,
        )
    except ValueError as error:
        raise CannotRefine(str(error)) from error


def why_baseline(period: Period) -> Period:
    """What a "why" compares ``period`` with: the 7 days before a single day, else the
    span of the same length just before it."""
    if period.days == 1:
        return replace(preceding(period, "week"), label=f"the {WHY_BASELINE_DAYS} days before")
    return preceding(period)


def _kind(previous: Query, change: Refinement) -> Kind:
    if change.kind is not None:
        return change.kind
    if previous.kind != "measure" and (change.breakdown or change.measures or change.ranking):
        return "measure"
    return previous.kind


def _periods(
    previous: Query, change: Refinement, last_day: date | None
) -> tuple[Period, Period | None]:
    if change.period is not None:
        period = change.period
    elif change.before is not None:
        if previous.period.is_whole:
            raise CannotRefine(f"'the {change.before} before' needs a period to count back from")
        period = preceding(previous.period, None if change.before == "period" else change.before)
    elif change.over is not None and previous.period.is_whole:
        period = _latest_complete(change.over, last_day)
    else:
        period = previous.period
    if change.comparison is not None:
        return period, change.comparison
    if change.over is not None:
        return period, preceding(period, change.over)
    if change.before is not None and change.period is not None:
        return period, preceding(period, None if change.before == "period" else change.before)
    if period == previous.period:
        return period, previous.comparison
    if previous.comparison is not None and previous.kind == "measure" and not period.is_whole:
        return period, preceding(period)
    return period, None


def _latest_complete(unit: Unit, last_day: date | None) -> Period:
    if last_day is None:
        raise CannotRefine(f"'{unit} over {unit}' needs usage data to count back from")
    name = {"day": "latest", "week": "last_week", "month": "last_month"}[unit]
    return relative(name, last_day)


def _why_default(change: Refinement, last_day: date | None, spike_day: date | None) -> Period:
    if change.spike and spike_day is not None:
        return Period(spike_day, spike_day, f"{spike_day.day} {spike_day:%b %Y}")
    if last_day is None:
        raise CannotRefine("'why' needs usage data, or a day or period to explain")
    return relative("last_weeks", last_day, n=1)
