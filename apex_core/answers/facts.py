"""The user's names and a few facts about their usage, for the parser and the suggestions.

:func:`vocabulary_of` lists every provider, model, feature and end user of the
roll-up, most spend first (priced like ``analyze``), with the data's first and
last day, and the models genai-prices knows for the user's providers (what-if
targets the usage never used). :func:`facts_of` names the top model, feature
and provider and the largest spike day (a day above twice the median day,
``analyze``'s rule), for suggested questions.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date
from decimal import Decimal

from genai_prices.data_snapshot import get_snapshot

from apex_core.answers.tally import priced
from apex_core.cost import PriceBook, UsageRollup
from apex_core.cost.analysis.analyze import SPIKE_RATIO
from apex_core.query.suggestions import DataFacts
from apex_core.query.vocabulary import Vocabulary


def _by_spend(spend: dict[str, Decimal]) -> tuple[str, ...]:
    return tuple(name for name, _ in sorted(spend.items(), key=lambda item: (-item[1], item[0])))


def vocabulary_of(rollup: UsageRollup, book: PriceBook) -> Vocabulary:
    """The user's names, most spend first, and the data's days."""
    spend: dict[str, dict[str, Decimal]] = {
        name: defaultdict(Decimal) for name in ("provider", "model", "feature", "end_user")
    }
    for key, cell in rollup.cells.items():
        cost = priced(book, key, cell.usage).cost
        spend["provider"][key.provider] += cost
        spend["model"][key.model] += cost
        if key.feature:
            spend["feature"][key.feature] += cost
    for user_key, user_cell in rollup.user_cells.items():
        if user_key.end_user:
            spend["end_user"][user_key.end_user] += priced(book, user_key, user_cell.usage).cost
    providers = _by_spend(spend["provider"])
    first, last = rollup.first_day, rollup.last_day
    return Vocabulary(
        providers=providers,
        models=_by_spend(spend["model"]),
        features=_by_spend(spend["feature"]),
        end_users=_by_spend(spend["end_user"]),
        first_day=date.fromisoformat(first) if first else None,
        last_day=date.fromisoformat(last) if last else None,
        catalog_models=_catalog(providers),
    )


def _catalog(providers: tuple[str, ...]) -> tuple[str, ...]:
    known = {provider.id: provider for provider in get_snapshot().providers}
    return tuple(
        dict.fromkeys(
            model.id for name in providers if name in known for model in known[name].models
        )
    )


def facts_of(rollup: UsageRollup, book: PriceBook, vocabulary: Vocabulary) -> DataFacts:
    """Top names and the largest spike day of the usage."""
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for key, cell in rollup.cells.items():
        by_day[key.day] += priced(book, key, cell.usage).cost
    spike: date | None = None
    if len(by_day) >= 3:
        median = statistics.median(by_day.values())
        peaks = [
            (cost, day)
            for day, cost in by_day.items()
            if median > 0 and cost > median * SPIKE_RATIO
        ]
        if peaks:
            spike = date.fromisoformat(max(peaks)[1])
    return DataFacts(
        top_model=vocabulary.models[0] if vocabulary.models else None,
        top_feature=vocabulary.features[0] if vocabulary.features else None,
        top_provider=vocabulary.providers[0] if vocabulary.providers else None,
        spike_day=spike,
    )
