"""What a change the user named would have cost: the usage in scope repriced.

``switch_model`` with a target reprices every request in scope, with the same
tokens, at the target model (its provider: the cell's own if it prices the
target, else the first provider of the user's usage that does). The other
levers, and ``switch_model`` without a target, are the cost engine's own
what-if repricing (:func:`apex_core.cost.analysis.recommendations.recommend`)
run over the usage in scope, with every feature in scope taken as
latency-insensitive for ``batch`` (the user asked for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from apex_core.answers.errors import CannotAnswer
from apex_core.answers.scope import cells, uses_end_users
from apex_core.answers.tally import json_value, priced
from apex_core.cost import FeatureCell, FeatureKey, PriceBook, UsageRollup
from apex_core.cost.analysis.analyze import DAYS_PER_MONTH
from apex_core.cost.analysis.recommendations import recommend
from apex_core.query.model import Lever, Query

ENGINE_KINDS: Final[dict[Lever, str]] = {
    "switch_model": "cheaper_model",
    "prompt_caching": "prompt_caching",
    "batch": "batch",
    "response_cache": "response_cache",
}


@dataclass(frozen=True, slots=True)
class Repricing:
    """The cost of the usage in scope as it is and under the change, over the query's period."""

    lever: Lever
    target_model: str | None
    current: Decimal
    changed: Decimal
    monthly_scale: Decimal
    assumptions: tuple[str, ...]
    changes: tuple[str, ...] = ()
    """The engine's recommendation titles behind it (engine levers)."""

    @property
    def saving(self) -> Decimal:
        return self.current - self.changed

    @property
    def monthly_saving(self) -> Decimal:
        return self.saving * self.monthly_scale

    def to_json(self) -> dict[str, Any]:
        return {
            "what_if": {
                "lever": self.lever,
                "target_model": self.target_model,
                "current_cost_usd": json_value("cost", self.current),
                "what_if_cost_usd": json_value("cost", self.changed),
                "saving_usd": json_value("cost", self.saving),
                "monthly_saving_usd": json_value("cost", self.monthly_saving),
                "changes": list(self.changes),
                "assumptions": list(self.assumptions),
            }
        }


def reprice(query: Query, rollup: UsageRollup, book: PriceBook) -> Repricing:
    """The what-if of ``query`` (a ``what_if`` query) over its scope."""
    if query.what_if is None:
        raise ValueError("reprice needs a what_if query")
    days = Decimal(query.period.days) if query.period.days else rollup.period_days()
    scale = DAYS_PER_MONTH / days if days else Decimal(0)
    scaling = (
        f"a month is {float(round(scale, 3))} x the {float(round(days, 3))} day(s) asked about"
    )
    lever, target = query.what_if.lever, query.what_if.target_model
    if lever == "switch_model" and target is not None:
        current, changed = _switch(query, rollup, book, target)
        return Repricing(lever, target, current, changed, scale, (
            f"every request in scope repriced at {target} with the same tokens (same cached and "
            "batch share), assuming its answers would do",
            scaling,
        ))  # fmt: skip
    if uses_end_users(query):
        raise CannotAnswer(
            "the engine's what-ifs work on feature usage; ask about a feature or a model, not an "
            "end user"
        )
    scoped = UsageRollup(
        cells={key: cell for key, cell in cells(query, rollup) if isinstance(key, FeatureKey)
               and isinstance(cell, FeatureCell)},
        first_seen=rollup.first_seen, last_seen=rollup.last_seen,
        daily_buckets=rollup.daily_buckets,
    )  # fmt: skip
    features = frozenset(key.feature for key in scoped.cells) if lever == "batch" else frozenset()
    found = [
        item
        for item in recommend(
            scoped,
            book,
            monthly_scale=scale,
            period_days=days,
            latency_insensitive_features=features,
        )
        if item.kind == ENGINE_KINDS[lever]
    ]
    current = sum((Decimal(str(r.evidence["observed_cost_usd"])) for r in found), Decimal(0))
    changed = sum((Decimal(str(r.evidence["what_if_cost_usd"])) for r in found), Decimal(0))
    return Repricing(
        lever, None, current, changed, scale,
        tuple(dict.fromkeys(r.assumption for r in found))[:3] or (
            "the engine found no usage in scope this change applies to",
        ),
        tuple(r.title for r in found),
    )  # fmt: skip


def _switch(
    query: Query, rollup: UsageRollup, book: PriceBook, target: str
) -> tuple[Decimal, Decimal]:
    providers = list(dict.fromkeys(key.provider for key in rollup.cells))
    current = changed = Decimal(0)
    for key, cell in cells(query, rollup):
        now = priced(book, key, cell.usage)
        if not now.usage.requests:
            continue
        for provider in dict.fromkeys([key.provider, *providers]):
            cost = book.cost(
                provider, target, key.day, cell.usage, batch=key.batch,
                service_tier=key.service_tier,
            )  # fmt: skip
            if cost is not None:
                break
        else:
            raise CannotAnswer(
                f"no price is known for {target} on {key.day}; name a model of the price list"
            )
        current += now.cost
        changed += cost
    return current, changed
