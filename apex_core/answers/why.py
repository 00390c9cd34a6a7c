"""Why the cost changed: ``query.period`` against ``query.comparison``, by model and by feature,
each change split into a volume effect (more or fewer requests at the old cost per request)
and a price effect (the rest: a dearer mix of tokens or models per request).

When the two periods differ in length (a spike day against the 7 days before),
the baseline is the comparison scaled to the period's length (its daily
average times the period's days). End users are not decomposed over days:
their stored usage is summed per price period, not per day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from apex_core.answers.scope import cells, group_of
from apex_core.answers.tally import Tally, json_value, priced
from apex_core.cost import PriceBook, UsageRollup
from apex_core.query.model import Dimension, Query

Effect = Literal["volume", "price"]
WHY_DIMENSIONS: Final[tuple[Dimension, ...]] = ("model", "feature")
MAX_ROWS: Final = 5


@dataclass(frozen=True, slots=True)
class Change:
    """One group's change against the (scaled) baseline."""

    dimension: str
    label: str
    now: Decimal
    before: Decimal
    volume: Decimal
    price: Decimal

    @property
    def change(self) -> Decimal:
        return self.now - self.before

    @property
    def effect(self) -> Effect:
        """What moved it more: the number of requests or the cost of each."""
        return "volume" if abs(self.volume) >= abs(self.price) else "price"

    def to_json(self) -> dict[str, Any]:
        return {
            self.dimension: self.label,
            "cost_usd": json_value("cost", self.now),
            "baseline_usd": json_value("cost", self.before),
            "change_usd": json_value("cost", self.change),
            "volume_effect_usd": json_value("cost", self.volume),
            "price_effect_usd": json_value("cost", self.price),
            "driven_by": self.effect,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The change of the whole scope and of its groups, largest change first."""

    now: Decimal
    comparison: Decimal
    scale: Decimal
    changes: dict[Dimension, tuple[Change, ...]]

    @property
    def baseline(self) -> Decimal:
        return self.comparison * self.scale

    def driver(self, dimension: Dimension) -> Change | None:
        """The group of ``dimension`` whose change is largest in the direction of the total."""
        rows = self.changes.get(dimension, ())
        up = self.now >= self.baseline
        same = [c for c in rows if (c.change >= 0) == up]
        return max(same, key=lambda c: abs(c.change), default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "why": {
                "cost_usd": json_value("cost", self.now),
                "comparison_cost_usd": json_value("cost", self.comparison),
                "baseline_usd": json_value("cost", self.baseline),
                "baseline_scale": float(round(self.scale, 6)),
                "change_usd": json_value("cost", self.now - self.baseline),
                **{
                    f"by_{dimension}": [c.to_json() for c in rows[:MAX_ROWS]]
                    for dimension, rows in self.changes.items()
                },
            }
        }


def explain(query: Query, rollup: UsageRollup, book: PriceBook) -> Explanation:
    """Decompose the change from ``query.comparison`` to ``query.period``."""
    if query.comparison is None or query.period.days is None or query.comparison.days is None:
        raise ValueError("explain needs a query with two bounded periods")
    scale = Decimal(query.period.days) / Decimal(query.comparison.days)
    now: dict[str, dict[str, Tally]] = {d: defaultdict(Tally) for d in WHY_DIMENSIONS}
    before: dict[str, dict[str, Tally]] = {d: defaultdict(Tally) for d in WHY_DIMENSIONS}
    totals = {"now": Decimal(0), "before": Decimal(0)}
    for name, period, table in (("now", query.period, now), ("before", query.comparison, before)):
        for key, cell in cells(query, rollup, period=period):
            one = priced(book, key, cell.usage)
            totals[name] += one.cost
            for dimension in WHY_DIMENSIONS:
                table[dimension][group_of(key, dimension)] += one
    changes = {
        dimension: _changes(dimension, now[dimension], before[dimension], scale)
        for dimension in WHY_DIMENSIONS
    }
    return Explanation(totals["now"], totals["before"], scale, changes)


def _changes(
    dimension: str, now: dict[str, Tally], before: dict[str, Tally], scale: Decimal
) -> tuple[Change, ...]:
    rows = []
    for label in sorted(set(now) | set(before)):
        after, old = now.get(label, Tally()), before.get(label, Tally())
        old_cost = old.cost * scale
        old_requests = Decimal(old.usage.requests) * scale
        per_request = old.cost / old.usage.requests if old.usage.requests else Decimal(0)
        volume = (Decimal(after.usage.requests) - old_requests) * per_request
        if not old.usage.requests:
            volume = after.cost  # new usage: all of it is volume
        change = after.cost - old_cost
        rows.append(Change(dimension, label, after.cost, old_cost, volume, change - volume))
    rows.sort(key=lambda c: (-abs(c.change), c.label))
    return tuple(rows)
