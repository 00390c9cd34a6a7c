"""Recommendations with dollar figures, each a what-if: the same usage repriced under a change.

Kinds (docs/COST_ENGINE.md): ``cheaper_model`` (short-output requests on a
premium model, repriced at the same provider's cheaper model),
``prompt_caching`` (repeated prefix blocks where no tokens were cached,
repriced as cache reads/writes), ``batch`` (latency-insensitive features
repriced at batch prices) and ``response_cache`` (duplicate requests, which a
response cache would not send). Savings = current cost - what-if cost, both
from the same :class:`PriceBook`, scaled from the observed period to a month.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from apex_core.cost.pricing import PriceBook
from apex_core.cost.rollup import (
    ALL,
    DUP,
    DUPLICATE_WINDOW_SECONDS,
    PREFIX_CACHE_TTL_SECONDS,
    PREFIX_HIT_TOKENS,
    PREFIX_WRITE_TOKENS,
    SHORT,
    SHORT_OUTPUT_TOKENS,
    CellKey,
    UsageRollup,
)

MAX_RECOMMENDATIONS: Final = 20
MIN_MONTHLY_SAVINGS: Final = Decimal("0.01")


class Substitute(BaseModel):
    """A cheaper model of the same provider for a premium model (regex on the model name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    provider: str = Field(min_length=1)
    premium: re.Pattern[str]
    cheaper: str = Field(min_length=1)


class RecommendationRules(BaseModel):
    """The validated ``data/recommendation_rules.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    about: str
    min_short_output_share: Decimal = Field(gt=0, le=1)
    substitutes: tuple[Substitute, ...]
    latency_insensitive_words: tuple[str, ...]


def load_rules() -> RecommendationRules:
    """The packaged recommendation rules."""
    text = resources.files("apex_core.cost").joinpath("data/recommendation_rules.json").read_text()
    return RecommendationRules.model_validate(json.loads(text))


@dataclass(slots=True)
class Recommendation:
    """One change, what it saves a month, what that rests on, and the usage behind it."""

    kind: str
    title: str
    estimated_monthly_savings_usd: Decimal
    assumption: str
    evidence: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "kind": self.kind,
            "title": self.title,
            "estimated_monthly_savings_usd": float(round(self.estimated_monthly_savings_usd, 2)),
            "assumption": self.assumption,
            "evidence": self.evidence,
        }


Group = tuple[str, str, str]  # provider, model, feature
WhatIf = Callable[[Sequence[int], Sequence[int]], Sequence[int] | None]


def recommend(
    rollup: UsageRollup,
    book: PriceBook,
    *,
    monthly_scale: Decimal,
    period_days: Decimal,
    latency_insensitive_features: frozenset[str] = frozenset(),
    rules: RecommendationRules | None = None,
) -> list[Recommendation]:
    """Every recommendation worth at least a cent a month, largest saving first."""
    rules = rules or load_rules()
    scaling = (
        f"Monthly = observed {float(round(period_days, 3))} day(s) x "
        f"{float(round(monthly_scale, 3))} (30.44-day month / observed period, first to last record)."
    )
    found: list[Recommendation] = []
    found += _cheaper_models(rollup, book, rules, scale=monthly_scale, scaling=scaling)
    found += _caching(rollup, book, scale=monthly_scale, scaling=scaling)
    found += _batching(
        rollup, book, rules, explicit=latency_insensitive_features, scale=monthly_scale,
        scaling=scaling,
    )  # fmt: skip
    found += _response_cache(rollup, book, scale=monthly_scale, scaling=scaling)
    found = [item for item in found if item.estimated_monthly_savings_usd >= MIN_MONTHLY_SAVINGS]
    found.sort(key=lambda item: (-item.estimated_monthly_savings_usd, item.kind, item.title))
    return found[:MAX_RECOMMENDATIONS]


def _what_if(
    rollup: UsageRollup,
    book: PriceBook,
    select: Callable[[CellKey, list[int]], Sequence[int] | None],
    change: Callable[[CellKey, Sequence[int], list[int]], Decimal | None],
) -> dict[Group, list[Any]]:
    """Per (provider, model, feature): [current cost, what-if cost, requests, input, output]."""
    groups: dict[Group, list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0, 0, 0])
    for key, cell in rollup.cells.items():
        day, provider, model, feature, batch, tier = key
        block = select(key, cell)
        if block is None or not any(block):
            continue
        current = book.cost(provider, model, day, block, batch=batch, service_tier=tier)
        changed = change(key, block, cell)
        if current is None or changed is None:
            continue
        entry = groups[(provider, model, feature)]
        entry[0] += current
        entry[1] += changed
        entry[2] += block[0]
        entry[3] += block[1]
        entry[4] += block[5]
    return groups


def _evidence(group: Group, values: list[Any], **extra: Any) -> dict[str, Any]:
    provider, model, feature = group
    return {
        "provider": provider, "model": model, "feature": feature, "requests": values[2],
        "input_tokens": values[3], "output_tokens": values[4],
        "observed_cost_usd": float(round(values[0], 6)),
        "what_if_cost_usd": float(round(values[1], 6)), **extra,
    }  # fmt: skip


def _cheaper_models(
    rollup: UsageRollup,
    book: PriceBook,
    rules: RecommendationRules,
    *,
    scale: Decimal,
    scaling: str,
) -> list[Recommendation]:
    models = {(provider, model) for _, provider, model, _, _, _ in rollup.cells}
    # the rules' regexes run once per model, not once per cell
    substitutes = {pair: _substitute(rules, *pair) for pair in models}
    totals: dict[Group, int] = defaultdict(int)
    for (_, provider, model, feature, _, _), cell in rollup.cells.items():
        totals[(provider, model, feature)] += cell[ALL]

    def select(key: CellKey, cell: list[int]) -> Sequence[int] | None:
        return cell[SHORT : SHORT + 7] if substitutes[(key[1], key[2])] else None

    def change(key: CellKey, block: Sequence[int], _: list[int]) -> Decimal | None:
        day, provider, model, _feature, batch, tier = key
        cheaper = substitutes[(provider, model)]
        return (
            None
            if cheaper is None
            else book.cost(provider, cheaper, day, block, batch=batch, service_tier=tier)
        )

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        share = Decimal(values[2]) / totals[group] if totals[group] else Decimal(0)
        cheaper = substitutes[(group[0], group[1])]
        if share < rules.min_short_output_share or cheaper is None:
            continue
        result.append(Recommendation(
            kind="cheaper_model",
            title=f"Route short-output '{group[2] or '(no feature)'}' requests from {group[1]} to {cheaper}",
            estimated_monthly_savings_usd=(values[0] - values[1]) * scale,
            assumption=(
                f"{float(round(share * 100, 1))}% of these requests produce <= {SHORT_OUTPUT_TOKENS} "
                f"output tokens; those requests, with the same tokens, are repriced at {group[0]}:"
                f"{cheaper} (same provider), assuming its quality suffices for short answers. {scaling}"
            ),
            evidence=_evidence(group, values, short_output_share=float(round(share, 4)), cheaper_model=cheaper),
        ))  # fmt: skip
    return result


def _substitute(rules: RecommendationRules, provider: str, model: str) -> str | None:
    """The first rule's cheaper model for a premium ``provider:model``, or ``None``."""
    for rule in rules.substitutes:
        if rule.provider == provider and rule.premium.match(model) and model != rule.cheaper:
            return rule.cheaper
    return None


def _caching(
    rollup: UsageRollup, book: PriceBook, scale: Decimal, scaling: str
) -> list[Recommendation]:
    def select(key: CellKey, cell: list[int]) -> Sequence[int] | None:
        if cell[ALL + 2] or not cell[PREFIX_HIT_TOKENS]:
            return None
        return cell[ALL : ALL + 7]

    def change(key: CellKey, block: Sequence[int], cell: list[int]) -> Decimal | None:
        day, provider, model, _feature, batch, tier = key
        requests, total_in, cached, write, write_1h, output, reasoning = block
        new_cached = min(cached + cell[PREFIX_HIT_TOKENS], total_in)
        new_write = min(write + cell[PREFIX_WRITE_TOKENS], total_in - new_cached)
        cached_block = (
            requests,
            total_in,
            new_cached,
            new_write,
            min(write_1h, new_write),
            output,
            reasoning,
        )
        return book.cost(provider, model, day, cached_block, batch=batch, service_tier=tier)

    hits: dict[Group, int] = defaultdict(int)
    for (_, provider, model, feature, _, _), cell in rollup.cells.items():
        if not cell[ALL + 2]:
            hits[(provider, model, feature)] += cell[PREFIX_HIT_TOKENS]
    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        share = Decimal(hits[group]) / values[3] if values[3] else Decimal(0)
        result.append(Recommendation(
            kind="prompt_caching",
            title=f"Enable prompt caching for '{group[2] or '(no feature)'}' on {group[1]}",
            estimated_monthly_savings_usd=(values[0] - values[1]) * scale,
            assumption=(
                f"No input tokens were cached, yet {float(round(share * 100, 1))}% of input tokens "
                f"repeat a prefix seen within {int(PREFIX_CACHE_TTL_SECONDS // 60)} minutes (prefix "
                "blocks, prompts >= 1024 tokens). Those tokens are repriced as cache reads and the rest "
                f"of each prefix as cache writes, at the model's own cache prices. {scaling}"
            ),
            evidence=_evidence(group, values, repeated_prefix_tokens=hits[group]),
        ))  # fmt: skip
    return result


def _batching(
    rollup: UsageRollup, book: PriceBook, rules: RecommendationRules, *,
    explicit: frozenset[str], scale: Decimal, scaling: str,
) -> list[Recommendation]:  # fmt: skip
    def insensitive(feature: str) -> bool:
        lowered = feature.lower()
        return feature in explicit or any(
            word in lowered for word in rules.latency_insensitive_words
        )

    # each feature's name is checked once, not once per cell
    features = {key[3] for key in rollup.cells}
    offline = {feature for feature in features if insensitive(feature)}

    def select(key: CellKey, cell: list[int]) -> Sequence[int] | None:
        return None if key[4] or key[3] not in offline else cell[ALL : ALL + 7]

    def change(key: CellKey, block: Sequence[int], _: list[int]) -> Decimal | None:
        return book.cost(key[1], key[2], key[0], block, batch=True, service_tier="")

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        why = "named latency-insensitive" if group[2] in explicit else "its name marks offline work"
        result.append(Recommendation(
            kind="batch",
            title=f"Move '{group[2]}' on {group[1]} to the {group[0]} Batch API",
            estimated_monthly_savings_usd=(values[0] - values[1]) * scale,
            assumption=(
                f"Feature '{group[2]}' is latency-insensitive ({why}) and can wait up to 24 h; its "
                f"interactive requests are repriced at {group[0]}'s batch prices for the same tokens. "
                f"{scaling}"
            ),
            evidence=_evidence(group, values),
        ))  # fmt: skip
    return result


def _response_cache(
    rollup: UsageRollup, book: PriceBook, scale: Decimal, scaling: str
) -> list[Recommendation]:
    def select(key: CellKey, cell: list[int]) -> Sequence[int] | None:
        return cell[DUP : DUP + 7]

    def change(key: CellKey, block: Sequence[int], _: list[int]) -> Decimal | None:
        return Decimal(0)

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        result.append(Recommendation(
            kind="response_cache",
            title=f"Cache responses of duplicate '{group[2] or '(no feature)'}' requests on {group[1]}",
            estimated_monthly_savings_usd=(values[0] - values[1]) * scale,
            assumption=(
                f"{values[2]} requests repeat an identical request (same prompt fingerprint) seen "
                f"within {int(DUPLICATE_WINDOW_SECONDS // 3600)} h; a response cache keyed on the "
                f"fingerprint answers them without an API call, so their cost is removed. {scaling}"
            ),
            evidence=_evidence(group, values, duplicate_requests=values[2]),
        ))  # fmt: skip
    return result
