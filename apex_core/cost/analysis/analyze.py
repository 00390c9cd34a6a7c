"""``analyze``: price a roll-up and break it down (stage 2). ``Analysis.to_json`` is the CLI's --json.

Every cell is priced with :class:`PriceBook` for its own day, batch flag and
service tier. Cells of models genai-prices cannot price are listed under
``unpriced`` with their token totals and excluded from every dollar figure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from apex_core.cost.analysis.recommendations import Recommendation, recommend
from apex_core.cost.model.cells import NO_USAGE, Usage
from apex_core.cost.model.rollup import UsageRollup
from apex_core.cost.pricing.book import PriceBook
from apex_core.cost.pricing.cards import RateCard

DAYS_PER_MONTH: Final = Decimal("30.4375")
SPIKE_RATIO: Final = 2
MIN_WINDOW_DAYS: Final = 7
"""Below this many observed days a monthly figure is flagged as a short-window extrapolation."""
MIN_WEEKDAY_COUNT: Final = 2
"""Each weekday must be seen this often before a weekly cycle counts as observed."""


@dataclass(slots=True)
class Analysis:
    """Priced breakdowns and recommendations of one roll-up."""

    total_cost_usd: Decimal
    period: dict[str, Any]
    by_day: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    by_provider: list[dict[str, Any]]
    by_feature: list[dict[str, Any]]
    by_end_user: list[dict[str, Any]]
    week_over_week: list[dict[str, Any]]
    spike_days: list[dict[str, Any]]
    unit_costs: dict[str, Any]
    recommendations: list[Recommendation]
    unpriced: list[dict[str, Any]]
    rows: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``apex analyze --json`` object (JSON-safe, USD as floats rounded to 1e-6)."""
        return {
            "total_cost_usd": usd(self.total_cost_usd),
            "period": self.period,
            "by_day": self.by_day,
            "by_model": self.by_model,
            "by_provider": self.by_provider,
            "by_feature": self.by_feature,
            "by_end_user": self.by_end_user,
            "week_over_week": self.week_over_week,
            "spike_days": self.spike_days,
            "unit_costs": self.unit_costs,
            "recommendations": [item.to_json() for item in self.recommendations],
            "unpriced": self.unpriced,
            "rows": self.rows,
            "notes": self.notes,
        }


def usd(amount: Decimal) -> float:
    """Dollars as a JSON float, rounded to a millionth of a dollar."""
    return float(round(amount, 6))


@dataclass(slots=True)
class _Tally:
    """What a breakdown row adds up: priced cost and the usage behind it."""

    cost: Decimal = Decimal(0)
    usage: Usage = NO_USAGE
    records: int = 0

    def add(self, cost: Decimal, usage: Usage, records: int = 0) -> None:
        self.cost += cost
        self.usage += usage
        self.records += records


def analyze(
    rollup: UsageRollup,
    *,
    prices: PriceBook | None = None,
    latency_insensitive_features: Iterable[str] = (),
    top: int = 10,
) -> Analysis:
    """Price every cell, build breakdowns, trends, spikes and recommendations."""
    book = prices or PriceBook()
    total = _Tally()
    by_day: dict[str, _Tally] = defaultdict(_Tally)
    by_model: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    by_provider: dict[str, _Tally] = defaultdict(_Tally)
    by_feature: dict[str, _Tally] = defaultdict(_Tally)
    unpriced: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for key, cell in rollup.cells.items():
        usage = cell.usage
        cost = book.price(key, usage)
        if cost is None:
            unpriced[(key.provider, key.model)].add(Decimal(0), usage, cell.records)
            continue
        for tally in (
            total,
            by_day[key.day],
            by_provider[key.provider],
            by_feature[key.feature],
            by_model[(key.provider, key.model)],
        ):
            tally.add(cost, usage)
    by_user = _price_end_users(rollup, book)
    days = rollup.period_days()
    scale = DAYS_PER_MONTH / days if days else Decimal(0)
    recommendations = recommend(
        rollup, book, monthly_scale=scale, period_days=days,
        latency_insensitive_features=frozenset(latency_insensitive_features),
    )  # fmt: skip
    notes = list(rollup.notes)
    if book.fallback_batch_providers:
        notes.append(
            "batch usage of " + ", ".join(sorted(book.fallback_batch_providers)) + " priced with "
            "the provider's published batch discount (data/batch_discounts.json): genai-prices "
            "has no batch price for those models on those dates"
        )
    requests = total.usage.requests
    tokens = total.usage.input_tokens + total.usage.output_tokens
    return Analysis(
        total_cost_usd=total.cost,
        period={
            "first_seen": rollup.first_seen.isoformat() if rollup.first_seen else None,
            "last_seen": rollup.last_seen.isoformat() if rollup.last_seen else None,
            "days": float(round(days, 4)),
            "monthly_scale": float(round(scale, 4)),
            "projected_monthly_cost_usd": usd(total.cost * scale),
            **_window(rollup.first_day, rollup.last_day, days, total.cost),
        },
        by_day=[
            {"date": d, "cost_usd": usd(v.cost), "requests": v.usage.requests}
            for d, v in sorted(by_day.items())
        ],
        by_model=[
            {
                "provider": provider,
                "model": model,
                "requests": v.usage.requests,
                "input_tokens": v.usage.input_tokens,
                "cached_input_tokens": v.usage.cached_input_tokens,
                "output_tokens": v.usage.output_tokens,
                "cost_usd": usd(v.cost),
            }
            for (provider, model), v in sorted(by_model.items(), key=lambda item: -item[1].cost)
        ],
        by_provider=_ranked(by_provider, "provider"),
        by_feature=_ranked(by_feature, "feature"),
        by_end_user=_ranked(by_user, "end_user")[:top],
        week_over_week=_weeks(by_day, rollup.first_day, rollup.last_day),
        spike_days=_spikes(by_day),
        unit_costs={
            "requests": requests,
            "tokens": tokens,
            "cost_per_request_usd": usd(total.cost / requests) if requests else None,
            "cost_per_1k_tokens_usd": usd(total.cost * 1000 / tokens) if tokens else None,
        },
        recommendations=recommendations,
        unpriced=[
            {
                "provider": p,
                "model": m,
                "records": v.records,
                "input_tokens": v.usage.input_tokens,
                "output_tokens": v.usage.output_tokens,
                "requests": v.usage.requests,
            }
            for (p, m), v in sorted(unpriced.items())
        ],
        rows=rollup.rows.to_json(),
        notes=notes,
    )


def _price_end_users(rollup: UsageRollup, book: PriceBook) -> dict[str, _Tally]:
    """Each end user's priced usage: summed per linear rate card, then each sum priced once.

    Summing before pricing is exact for a linear :class:`RateCard`; a
    :class:`TieredPrice` picks its tier by a cell's average request, so it
    prices each cell on its own.
    """
    by_user: dict[str, _Tally] = defaultdict(_Tally)
    sums: dict[tuple[str, RateCard], Usage] = {}
    for key, cell in rollup.user_cells.items():
        card = book.card(key)
        if card is None:
            continue
        usage = cell.usage
        if isinstance(card, RateCard):
            by_user[key.end_user].add(Decimal(0), usage)
            sums[(key.end_user, card)] = sums.get((key.end_user, card), NO_USAGE) + usage
        else:
            by_user[key.end_user].add(card.cost(usage), usage)
    for (user, card), usage in sums.items():
        by_user[user].cost += card.cost(usage)
    return by_user


def _ranked(groups: dict[str, _Tally], label: str) -> list[dict[str, Any]]:
    ordered = sorted(groups.items(), key=lambda item: (-item[1].cost, item[0]))
    return [
        {label: name, "cost_usd": usd(v.cost), "requests": v.usage.requests} for name, v in ordered
    ]


def _weeks(
    by_day: dict[str, _Tally], first_day: str | None, last_day: str | None
) -> list[dict[str, Any]]:
    """Cost per Monday-started week; ``change_pct`` compares average cost per observed day.

    A week's ``days`` are its days inside the observed period (first to last
    day with data, days without usage included); fewer than 7 make it
    ``partial``. Comparing per-day averages keeps a one-day week from reading
    as a collapse or a +600% jump; ``cost_usd`` stays the week's exact total.
    """
    if first_day is None or last_day is None:
        return []
    first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
    weeks: dict[date, Decimal] = defaultdict(Decimal)
    for day, tally in by_day.items():
        moment = date.fromisoformat(day)
        weeks[moment - timedelta(days=moment.weekday())] += tally.cost
    result: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for start, cost in sorted(weeks.items()):
        days = (min(start + timedelta(days=6), last) - max(start, first)).days + 1
        per_day = cost / days
        change = float(round((per_day - previous) / previous * 100, 2)) if previous else None
        result.append(
            {
                "week_start": start.isoformat(),
                "cost_usd": usd(cost),
                "days": days,
                "partial": days < 7,
                "cost_per_day_usd": usd(per_day),
                "change_pct": change,
            }
        )
        previous = per_day
    return result


def _window(
    first_day: str | None, last_day: str | None, days: Decimal, cost: Decimal
) -> dict[str, Any]:
    """How much data the monthly figure stands on (``period`` fields; docs/COST_ENGINE.md).

    ``short_window``: under :data:`MIN_WINDOW_DAYS` observed days or some
    weekday seen fewer than :data:`MIN_WEEKDAY_COUNT` times, so any monthly
    figure is an extrapolation. ``weekend_only``: every day is a Saturday or
    Sunday, so a weekly cycle cannot be extrapolated from it.
    """
    counts = [0] * 7
    if first_day is not None and last_day is not None:
        first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
        for offset in range((last - first).days + 1):
            counts[(first + timedelta(days=offset)).weekday()] += 1
    return {
        "observed_cost_usd": usd(cost),
        "cost_per_day_usd": usd(cost / days) if days else None,
        "weekday_counts": dict(
            zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), counts, strict=True)
        ),
        "short_window": days < MIN_WINDOW_DAYS or min(counts) < MIN_WEEKDAY_COUNT,
        "weekend_only": any(counts) and not any(counts[:5]),
    }


def _spikes(by_day: dict[str, _Tally]) -> list[dict[str, Any]]:
    if len(by_day) < 3:
        return []
    median = statistics.median(tally.cost for tally in by_day.values())
    if median <= 0:
        return []
    return [
        {"date": day, "cost_usd": usd(v.cost), "median_day_usd": usd(median), "ratio": float(round(v.cost / median, 2))}
        for day, v in sorted(by_day.items())
        if v.cost > median * SPIKE_RATIO
    ]  # fmt: skip
