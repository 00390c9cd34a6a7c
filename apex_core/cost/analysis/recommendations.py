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
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib import resources
from typing import Any, Final, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from apex_core.cost.model.cells import NO_USAGE, FeatureCell, FeatureKey, Usage
from apex_core.cost.model.rollup import (
    DUPLICATE_WINDOW_SECONDS,
    PREFIX_CACHE_TTL_SECONDS,
    SHORT_OUTPUT_TOKENS,
    UsageRollup,
)
from apex_core.cost.pricing.book import PriceBook

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
    observed_savings_usd: Decimal
    """What the change would have saved over the observed period itself (no extrapolation)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "kind": self.kind,
            "title": self.title,
            "estimated_monthly_savings_usd": float(round(self.estimated_monthly_savings_usd, 2)),
            "observed_savings_usd": float(round(self.observed_savings_usd, 6)),
            "assumption": self.assumption,
            "evidence": self.evidence,
        }


class Group(NamedTuple):
    """What a recommendation is about."""

    provider: str
    model: str
    feature: str


@dataclass(slots=True)
class WhatIf:
    """The usage a change touches in one group: its cost now and under the change."""

    current: Decimal = Decimal(0)
    changed: Decimal = Decimal(0)
    usage: Usage = NO_USAGE

    @property
    def saved(self) -> Decimal:
        """What the change saves on this usage over the observed period."""
        return self.current - self.changed


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
    # one scale for all, so this is also the ranking by observed savings
    found.sort(key=lambda item: (-item.estimated_monthly_savings_usd, item.kind, item.title))
    return found[:MAX_RECOMMENDATIONS]


def _what_if(
    rollup: UsageRollup,
    book: PriceBook,
    select: Callable[[FeatureKey, FeatureCell], Usage | None],
    change: Callable[[FeatureKey, Usage, FeatureCell], Decimal | None],
) -> dict[Group, WhatIf]:
    """Per group, the selected usage of its cells priced as it is and under ``change``."""
    groups: dict[Group, WhatIf] = defaultdict(WhatIf)
    for key, cell in rollup.cells.items():
        usage = select(key, cell)
        if usage is None or usage.empty:
            continue
        current = book.price(key, usage)
        changed = change(key, usage, cell)
        if current is None or changed is None:
            continue
        entry = groups[_group(key)]
        entry.current += current
        entry.changed += changed
        entry.usage += usage
    return groups


def _group(key: FeatureKey) -> Group:
    return Group(key.provider, key.model, key.feature)


def _evidence(group: Group, values: WhatIf, **extra: Any) -> dict[str, Any]:
    return {
        "provider": group.provider, "model": group.model, "feature": group.feature,
        "requests": values.usage.requests, "input_tokens": values.usage.input_tokens,
        "output_tokens": values.usage.output_tokens,
        "observed_cost_usd": float(round(values.current, 6)),
        "what_if_cost_usd": float(round(values.changed, 6)), **extra,
    }  # fmt: skip


def _cheaper_models(
    rollup: UsageRollup,
    book: PriceBook,
    rules: RecommendationRules,
    *,
    scale: Decimal,
    scaling: str,
) -> list[Recommendation]:
    models = {(key.provider, key.model) for key in rollup.cells}
    # the rules' regexes run once per model, not once per cell
    substitutes = {pair: _substitute(rules, *pair) for pair in models}
    totals: dict[Group, int] = defaultdict(int)
    for key, cell in rollup.cells.items():
        totals[_group(key)] += cell.requests

    def select(key: FeatureKey, cell: FeatureCell) -> Usage | None:
        return cell.short if substitutes[(key.provider, key.model)] else None

    def change(key: FeatureKey, usage: Usage, _: FeatureCell) -> Decimal | None:
        cheaper = substitutes[(key.provider, key.model)]
        return None if cheaper is None else book.price(key._replace(model=cheaper), usage)

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        requests = values.usage.requests
        share = Decimal(requests) / totals[group] if totals[group] else Decimal(0)
        cheaper = substitutes[(group.provider, group.model)]
        if share < rules.min_short_output_share or cheaper is None:
            continue
        result.append(Recommendation(
            kind="cheaper_model",
            title=f"Route short-output '{group.feature or '(no feature)'}' requests from {group.model} to {cheaper}",
            estimated_monthly_savings_usd=values.saved * scale,
            observed_savings_usd=values.saved,
            assumption=(
                f"{float(round(share * 100, 1))}% of these requests produce <= {SHORT_OUTPUT_TOKENS} "
                f"output tokens; those requests, with the same tokens, are repriced at {group.provider}:"
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
    def select(key: FeatureKey, cell: FeatureCell) -> Usage | None:
        if cell.cached_input_tokens or not cell.prefix_hit_tokens:
            return None
        return cell.usage

    def change(key: FeatureKey, usage: Usage, cell: FeatureCell) -> Decimal | None:
        total_in = usage.input_tokens
        cached = min(usage.cached_input_tokens + cell.prefix_hit_tokens, total_in)
        write = min(usage.cache_write_tokens + cell.prefix_write_tokens, total_in - cached)
        with_cache = replace(
            usage, cached_input_tokens=cached, cache_write_tokens=write,
            cache_write_1h_tokens=min(usage.cache_write_1h_tokens, write),
        )  # fmt: skip
        return book.price(key, with_cache)

    hits: dict[Group, int] = defaultdict(int)
    for key, cell in rollup.cells.items():
        if not cell.cached_input_tokens:
            hits[_group(key)] += cell.prefix_hit_tokens
    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        input_tokens = values.usage.input_tokens
        share = Decimal(hits[group]) / input_tokens if input_tokens else Decimal(0)
        result.append(Recommendation(
            kind="prompt_caching",
            title=f"Enable prompt caching for '{group.feature or '(no feature)'}' on {group.model}",
            estimated_monthly_savings_usd=values.saved * scale,
            observed_savings_usd=values.saved,
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
    features = {key.feature for key in rollup.cells}
    offline = {feature for feature in features if insensitive(feature)}

    def select(key: FeatureKey, cell: FeatureCell) -> Usage | None:
        return None if key.batch or key.feature not in offline else cell.usage

    def change(key: FeatureKey, usage: Usage, _: FeatureCell) -> Decimal | None:
        return book.price(key._replace(batch=True, service_tier=""), usage)

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        why = (
            "named latency-insensitive"
            if group.feature in explicit
            else "its name marks offline work"
        )
        result.append(Recommendation(
            kind="batch",
            title=f"Move '{group.feature}' on {group.model} to the {group.provider} Batch API",
            estimated_monthly_savings_usd=values.saved * scale,
            observed_savings_usd=values.saved,
            assumption=(
                f"Feature '{group.feature}' is latency-insensitive ({why}) and can wait up to 24 h; its "
                f"interactive requests are repriced at {group.provider}'s batch prices for the same tokens. "
                f"{scaling}"
            ),
            evidence=_evidence(group, values),
        ))  # fmt: skip
    return result


def _response_cache(
    rollup: UsageRollup, book: PriceBook, scale: Decimal, scaling: str
) -> list[Recommendation]:
    def select(key: FeatureKey, cell: FeatureCell) -> Usage | None:
        return cell.duplicate

    def change(key: FeatureKey, usage: Usage, _: FeatureCell) -> Decimal | None:
        return Decimal(0)

    result = []
    for group, values in _what_if(rollup, book, select, change).items():
        result.append(Recommendation(
            kind="response_cache",
            title=f"Cache responses of duplicate '{group.feature or '(no feature)'}' requests on {group.model}",
            estimated_monthly_savings_usd=values.saved * scale,
            observed_savings_usd=values.saved,
            assumption=(
                f"{values.usage.requests} requests repeat an identical request (same prompt fingerprint) seen "
                f"within {int(DUPLICATE_WINDOW_SECONDS // 3600)} h; a response cache keyed on the "
                f"fingerprint answers them without an API call, so their cost is removed. {scaling}"
            ),
            evidence=_evidence(group, values, duplicate_requests=values.usage.requests),
        ))  # fmt: skip
    return result
