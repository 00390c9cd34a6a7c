"""``execute``: a query over the user's roll-up -> :class:`Result` (figures, rows, chart data).

Cells in scope (:mod:`~apex_core.answers.scope`) are priced one by one with the
engine's :class:`~apex_core.cost.PriceBook` and summed in exact ``Decimal``
dollars, the way ``analyze`` sums them: a figure equals ``apex analyze --json``
over the same usage restricted to the same filters and days. ``why`` and
``what_if`` queries add their sections (:mod:`~apex_core.answers.why`,
:mod:`~apex_core.answers.what_if`). ``full_analysis`` is not a question for the
executor: the agents run ``analyze`` for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apex_core.answers.errors import CannotAnswer
from apex_core.answers.scope import TIME_DIMENSIONS, cells, group_of, uses_end_users
from apex_core.answers.tally import Tally, json_value, priced
from apex_core.cost import PriceBook, UsageRollup
from apex_core.query.codec import query_to_json
from apex_core.query.describe import period_phrase
from apex_core.query.model import Measure, Query
from apex_core.query.periods import Period


@dataclass(frozen=True, slots=True)
class Row:
    """One group of a breakdown."""

    label: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class Result:
    """What a query found; ``to_json`` is the run's ``result``."""

    query: Query
    total: Tally
    """The usage in scope (filters and period)."""
    period_spend: Decimal
    """All spend of the period, no filters (what ``share_of_spend`` divides by)."""
    rows: tuple[Row, ...] = ()
    """The breakdown's groups, ranked (time breakdowns in time order)."""
    groups: int = 0
    """How many groups the breakdown had before a top/bottom N."""
    comparison: Tally | None = None
    """The usage in scope over ``query.comparison``."""
    comparison_spend: Decimal = Decimal(0)
    assumptions: tuple[str, ...] = ()
    sections: dict[str, Any] = field(default_factory=dict)
    """``why`` / ``what_if`` as JSON (their modules build them)."""

    def value(self, measure: Measure, tally: Tally | None = None) -> Decimal | int | None:
        """A measure of ``tally`` (the total by default)."""
        return (tally or self.total).value(measure, whole=self.period_spend)

    def chart(self) -> dict[str, Any] | None:
        """Series and labels for the page and ``apex chat``: the breakdown's first measure."""
        if not self.rows:
            return None
        measure = self.query.measures[0]
        return {
            "type": "line" if self.query.breakdown in TIME_DIMENSIONS else "bar",
            "measure": measure,
            "labels": [row.label for row in self.rows],
            "series": [{
                "name": measure,
                "values": [json_value(measure, self.value(measure, row.tally)) for row in self.rows],
            }],
        }  # fmt: skip

    def table(self) -> dict[str, Any]:
        """Columns and rows (the breakdown's groups, or the one total); a row is an object
        keyed by column (Firestore stores no array directly inside an array)."""
        measures = self.query.measures
        column = self.query.breakdown or "scope"
        rows = self.rows or (Row("total", self.total),)
        return {
            "columns": [column, *measures],
            "rows": [
                {
                    column: row.label,
                    **{m: json_value(m, self.value(m, row.tally)) for m in measures},
                }
                for row in rows
            ],
        }

    def to_json(self) -> dict[str, Any]:
        """The run's ``result`` for a question (JSON-safe; dollars rounded to 1e-6)."""
        measures = self.query.measures
        body: dict[str, Any] = {
            "kind": self.query.kind,
            "query": query_to_json(self.query),
            "figures": {m: json_value(m, self.value(m)) for m in measures},
            "period_spend_usd": json_value("cost", self.period_spend),
            "table": self.table(),
            "chart": self.chart(),
            "groups": self.groups,
            "assumptions": list(self.assumptions),
            "unpriced_requests": self.total.unpriced.requests,
        }
        if self.comparison is not None:
            body["comparison"] = {
                m: json_value(m, self.comparison.value(m, whole=self.comparison_spend))
                for m in measures
            }
        return {**body, **self.sections}


def spend(rollup: UsageRollup, book: PriceBook, period: Period) -> Decimal:
    """All priced spend of ``period`` (feature table, no filters)."""
    total = Decimal(0)
    whole = Query(period=period)
    for key, cell in cells(whole, rollup, filters=False):
        total += priced(book, key, cell.usage).cost
    return total


def tally(
    query: Query, rollup: UsageRollup, book: PriceBook, period: Period | None = None
) -> Tally:
    """The priced usage in the query's scope (over ``period`` instead of its own, when given)."""
    total = Tally()
    for key, cell in cells(query, rollup, period=period):
        total += priced(book, key, cell.usage)
    return total


def execute(query: Query, rollup: UsageRollup, *, prices: PriceBook | None = None) -> Result:
    """Run ``query`` over ``rollup``; raises :class:`CannotAnswer` for what the data cannot say."""
    if query.kind == "full_analysis":
        raise CannotAnswer("a full analysis is the analysis report, not a question to execute")
    book = prices or PriceBook()
    groups: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for key, cell in cells(query, rollup):
        one = priced(book, key, cell.usage)
        total += one
        if query.breakdown is not None:
            groups[group_of(key, query.breakdown)] += one
    period_spend = spend(rollup, book, query.period)
    rows = _ranked(query, groups, period_spend)
    comparison = comparison_spend = None
    if query.comparison is not None:
        comparison = tally(query, rollup, book, query.comparison)
        comparison_spend = spend(rollup, book, query.comparison)
    return Result(
        query=query,
        total=total,
        period_spend=period_spend,
        rows=rows,
        groups=len(groups),
        comparison=comparison,
        comparison_spend=comparison_spend or Decimal(0),
        assumptions=_assumptions(query, total, rollup),
    )


def _ranked(query: Query, groups: dict[str, Tally], whole: Decimal) -> tuple[Row, ...]:
    rows = [Row(label, tally) for label, tally in groups.items()]
    if query.breakdown in TIME_DIMENSIONS and query.ranking is None:
        return tuple(sorted(rows, key=lambda row: row.label))
    measure = query.measures[0]

    def size(row: Row) -> Decimal:
        value = row.tally.value(measure, whole=whole)
        return Decimal(value) if value is not None else Decimal(-1)

    descending = query.ranking is None or query.ranking.direction == "top"
    rows.sort(key=lambda row: row.label)
    rows.sort(key=size, reverse=descending)
    return tuple(rows[: query.ranking.n] if query.ranking else rows)


def _assumptions(query: Query, total: Tally, rollup: UsageRollup) -> tuple[str, ...]:
    notes: list[str] = []
    for period in (query.period, query.comparison):
        if period is not None and period.relative_to is not None:
            notes.append(
                f"{period.label} is counted back from the end of your data "
                f"({period.relative_to.isoformat()}), not from today"
            )
            break
    if query.period.is_whole and rollup.first_day and rollup.last_day:
        notes.append(f"over all your data, {rollup.first_day} to {rollup.last_day}")
    elif not query.period.is_whole and not query.period.is_relative:
        notes.append(f"period: {period_phrase(query.period)}")
    if total.unpriced.requests:
        notes.append(
            f"{total.unpriced.requests:,} requests of models with no known price are left out of "
            "every dollar figure"
        )
    if uses_end_users(query):
        notes.append("end-user figures come from the end-user table (usage summed per end user)")
    notes.append("prices: list prices of each model on each day (genai-prices), in USD")
    return tuple(notes)
