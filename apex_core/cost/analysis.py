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

from apex_core.cost.pricing import PriceBook, RateCard
from apex_core.cost.recommendations import Recommendation, recommend
from apex_core.cost.rollup import ALL, UsageRollup

DAYS_PER_MONTH: Final = Decimal("30.4375")
SPIKE_RATIO: Final = 2
MIN_PERIOD_DAYS: Final = Decimal(1) / 24


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


def period_days(rollup: UsageRollup) -> Decimal:
    """Observed period in days: first to last record (+1 day for daily buckets), >= 1 hour."""
    if rollup.first_seen is None or rollup.last_seen is None:
        return Decimal(0)
    seconds = Decimal((rollup.last_seen - rollup.first_seen).total_seconds())
    days = seconds / 86400 + (1 if rollup.daily_buckets else 0)
    return max(days, MIN_PERIOD_DAYS)


def analyze(
    rollup: UsageRollup,
    *,
    prices: PriceBook | None = None,
    latency_insensitive_features: Iterable[str] = (),
    top: int = 10,
) -> Analysis:
    """Price every cell, build breakdowns, trends, spikes and recommendations."""
    book = prices or PriceBook()
    total = Decimal(0)
    by_day: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    by_model: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0, 0, 0])
    by_provider: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    by_feature: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    by_user: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    unpriced: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    tokens = 0
    requests = 0
    for (day, provider, model, feature, batch, tier), cell in rollup.cells.items():
        block = cell[ALL : ALL + 7]
        cost = book.cost(provider, model, day, block, batch=batch, service_tier=tier)
        if cost is None:
            entry = unpriced[(provider, model)]
            entry[0] += cell[-1]
            entry[1] += block[1]
            entry[2] += block[5]
            entry[3] += block[0]
            continue
        total += cost
        tokens += block[1] + block[5]
        requests += block[0]
        for bucket, name in (
            (by_day, day),
            (by_provider, provider),
            (by_feature, feature),
        ):
            bucket[name][0] += cost
            bucket[name][1] += block[0]
        model_entry = by_model[(provider, model)]
        model_entry[0] += cost
        for position, index in enumerate((0, 1, 2, 5), start=1):
            model_entry[position] += block[index]
    _price_end_users(rollup, book, by_user)
    days = period_days(rollup)
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
    return Analysis(
        total_cost_usd=total,
        period={
            "first_seen": rollup.first_seen.isoformat() if rollup.first_seen else None,
            "last_seen": rollup.last_seen.isoformat() if rollup.last_seen else None,
            "days": float(round(days, 4)),
            "monthly_scale": float(round(scale, 4)),
            "projected_monthly_cost_usd": usd(total * scale),
        },
        by_day=[
            {"date": d, "cost_usd": usd(v[0]), "requests": v[1]} for d, v in sorted(by_day.items())
        ],
        by_model=[
            {
                "provider": provider,
                "model": model,
                "requests": v[1],
                "input_tokens": v[2],
                "cached_input_tokens": v[3],
                "output_tokens": v[4],
                "cost_usd": usd(v[0]),
            }
            for (provider, model), v in sorted(by_model.items(), key=lambda item: -item[1][0])
        ],
        by_provider=_ranked(by_provider, "provider"),
        by_feature=_ranked(by_feature, "feature"),
        by_end_user=_ranked(by_user, "end_user")[:top],
        week_over_week=_weeks(by_day),
        spike_days=_spikes(by_day),
        unit_costs={
            "requests": requests,
            "tokens": tokens,
            "cost_per_request_usd": usd(total / requests) if requests else None,
            "cost_per_1k_tokens_usd": usd(total * 1000 / tokens) if tokens else None,
        },
        recommendations=recommendations,
        unpriced=[
            {
                "provider": p,
                "model": m,
                "records": v[0],
                "input_tokens": v[1],
                "output_tokens": v[2],
                "requests": v[3],
            }
            for (p, m), v in sorted(unpriced.items())
        ],
        rows=rollup.rows.to_json(),
        notes=notes,
    )


def _price_end_users(rollup: UsageRollup, book: PriceBook, by_user: dict[str, list[Any]]) -> None:
    """Sum each user's usage per linear rate card, then price each sum once.

    Summing before pricing is exact for a linear :class:`RateCard`; a
    :class:`TieredPrice` picks its tier by a cell's average request, so it
    prices each cell on its own.
    """
    sums: dict[tuple[str, RateCard], list[int]] = {}
    for (day, provider, model, user, batch, tier), cell in rollup.user_cells.items():
        card = book.rate_card(provider, model, day, batch=batch, service_tier=tier)
        if card is None:
            continue
        by_user[user][1] += cell[0]
        if isinstance(card, RateCard):
            total = sums.setdefault((user, card), [0] * 7)
            for index in range(7):
                total[index] += cell[index]
        else:
            by_user[user][0] += card.cost(cell)
    for (user, card), usage in sums.items():
        by_user[user][0] += card.cost(usage)


def _ranked(groups: dict[str, list[Any]], label: str) -> list[dict[str, Any]]:
    ordered = sorted(groups.items(), key=lambda item: (-item[1][0], item[0]))
    return [{label: name, "cost_usd": usd(v[0]), "requests": v[1]} for name, v in ordered]


def _weeks(by_day: dict[str, list[Any]]) -> list[dict[str, Any]]:
    weeks: dict[date, Decimal] = defaultdict(Decimal)
    for day, values in by_day.items():
        moment = date.fromisoformat(day)
        weeks[moment - timedelta(days=moment.weekday())] += values[0]
    result: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for start, cost in sorted(weeks.items()):
        change = float(round((cost - previous) / previous * 100, 2)) if previous else None
        result.append(
            {"week_start": start.isoformat(), "cost_usd": usd(cost), "change_pct": change}
        )
        previous = cost
    return result


def _spikes(by_day: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if len(by_day) < 3:
        return []
    median = statistics.median(values[0] for values in by_day.values())
    if median <= 0:
        return []
    return [
        {"date": day, "cost_usd": usd(v[0]), "median_day_usd": usd(median), "ratio": float(round(v[0] / median, 2))}
        for day, v in sorted(by_day.items())
        if v[0] > median * SPIKE_RATIO
    ]  # fmt: skip
