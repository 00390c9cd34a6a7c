"""Exact prices of usage counters with genai-prices, cached per (provider, model, day, policy).

genai-prices' ``Usage.input_tokens`` is the total prompt including cache
reads and writes, which is the record's convention, so counters are passed
as they are (Anthropic's uncached input was already summed up by its
importer). A model genai-prices cannot price is ``None`` (unpriced), never $0.
Batch: genai-prices' ``processing=batch`` variant when one is active for the
date; otherwise the provider's published discount from
``data/batch_discounts.json``; otherwise the batch usage is unpriced.

A model's prices change only on the start dates of its dated prices and price
variants, so a card is computed once per *span* of days between two such dates
and reused for the span's other days (see :meth:`PriceBook.rate_card`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final

from genai_prices import Usage as PricedUsage
from genai_prices import calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    PriceCalculation,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from apex_core.cost.model.cells import PeriodKey, Usage
from apex_core.cost.pricing.batch import BatchDiscount, load_batch_discounts
from apex_core.cost.pricing.cards import RateCard, TieredPrice, linear_card
from apex_core.errors import PricingError

PRICED_TIERS: Final = frozenset({"flex", "priority", "fast"})
_PROBE: Final = Usage(
    requests=1, input_tokens=10_000_000, cached_input_tokens=3_000_000,
    cache_write_tokens=2_000_000, cache_write_1h_tokens=500_000, output_tokens=1_000_000,
)  # fmt: skip
"""A usage that exercises every rate of a card (checked against genai-prices)."""
CardKey = tuple[str, str, str, bool, str]
"""(provider, model, day, batch, service tier) of one day's rate card."""
SpanKey = tuple[str, str, date, bool, str]
"""(provider, model, first day of a span, batch, service tier); see :meth:`PriceBook.rate_card`."""


class PriceBook:
    """Prices usage blocks; one genai-prices lookup per (provider, model, batch, tier, price span)."""

    def __init__(self, batch_discounts: dict[str, BatchDiscount] | None = None) -> None:
        self.batch_discounts = (
            load_batch_discounts() if batch_discounts is None else batch_discounts
        )
        self._cards: dict[CardKey, RateCard | TieredPrice | None] = {}
        """Cards by day: the memo that makes repeated look-ups of a key cheap."""
        self._span_cards: dict[SpanKey, RateCard | TieredPrice | None] = {}
        """Cards by span of days: what genai-prices was actually asked for."""
        self._change_days: dict[tuple[str, str], tuple[date, ...] | None] = {}
        """(provider, model) -> the days its prices may change on; ``None``: any day."""
        self.fallback_batch_providers: set[str] = set()

    def cost(
        self,
        provider: str,
        model: str,
        day: str,
        usage: Usage,
        *,
        batch: bool = False,
        service_tier: str = "",
    ) -> Decimal | None:
        """USD cost of ``usage``, or ``None`` when the model is unpriced."""
        card = self.rate_card(provider, model, day, batch=batch, service_tier=service_tier)
        return None if card is None else card.cost(usage)

    def rate_card(
        self, provider: str, model: str, day: str, *, batch: bool = False, service_tier: str = ""
    ) -> RateCard | TieredPrice | None:
        """The (cached) prices of a model on a day under a policy; ``None`` when unpriced.

        A :class:`RateCard` is linear, so usage priced with one card may be
        summed first and priced once.

        The card is computed on the first day asked for in its *span*: the
        days from one start date of the model's dated prices or price variants
        in genai-prices up to the day before the next. Within a span every
        input genai-prices uses is the same (see :func:`_model_change_days`),
        so the card, the ``None`` of an unpriced model and the batch fallback
        are exactly what computing that day on its own gives. Errors are not
        cached: a day that raises raises again when asked again.
        """
        tier = service_tier if service_tier in PRICED_TIERS else ""
        key = (provider, model, day, batch, tier)
        if key in self._cards:
            return self._cards[key]
        card = self._cards[key] = self._span_card(provider, model, day, batch, tier)
        return card

    def price_periods(self, keys: Iterable[PeriodKey]) -> dict[PeriodKey, str]:
        """Each ``(day, provider, model, batch, service_tier)`` key -> the first day of its period.

        Per (provider, model, batch, service tier), the given days (ISO
        ``YYYY-MM-DD``, so their strings sort by date) are sorted and
        consecutive ones (gaps allowed) whose :meth:`rate_card` is equal
        (``==``, or both ``None``) form a period, named by its first day. Usage
        of any key of a period priced with the card of the period's day costs
        exactly what it costs with its own day's card, so end-user usage of a
        period may be summed under the period's day before it is priced.

        A :class:`TieredPrice` is not linear (the average request picks the
        tier), so summing usage would change its cost: a key with a tiered card
        is always a period of its own. Like :meth:`rate_card`, this records
        batch usage priced with the discount table in
        ``fallback_batch_providers``, and raises what it raises.
        """
        days: dict[tuple[str, str, bool, str], set[str]] = defaultdict(set)
        for day, provider, model, batch, tier in keys:
            days[(provider, model, batch, tier)].add(day)
        periods: dict[PeriodKey, str] = {}
        for (provider, model, batch, tier), group in days.items():
            start = ""
            previous: RateCard | TieredPrice | None = None
            for index, day in enumerate(sorted(group)):
                card = self.rate_card(provider, model, day, batch=batch, service_tier=tier)
                if index == 0 or card != previous or isinstance(card, TieredPrice):
                    start = day
                previous = card
                periods[PeriodKey(day, provider, model, batch, tier)] = start
        return periods

    def _span_card(
        self, provider: str, model: str, day: str, batch: bool, tier: str
    ) -> RateCard | TieredPrice | None:
        """The card of ``day``'s span, computed on ``day`` if the span has none yet."""
        span_key = (provider, model, self._span_start(provider, model, day), batch, tier)
        if span_key in self._span_cards:
            return self._span_cards[span_key]
        card = self._span_cards[span_key] = self._card(provider, model, day, batch, tier)
        return card

    def _span_start(self, provider: str, model: str, day: str) -> date:
        """First day of ``day``'s span (``date.min`` before the first change; ``day`` if unknown)."""
        moment = date.fromisoformat(day)
        key = (provider, model)
        if key not in self._change_days:
            self._change_days[key] = _change_days(provider, model)
        changes = self._change_days[key]
        if changes is None:
            return moment  # inputs not provably constant across days: one span per day
        index = bisect_right(changes, moment)
        return changes[index - 1] if index else date.min

    def _card(
        self, provider: str, model: str, day: str, batch: bool, tier: str
    ) -> RateCard | TieredPrice | None:
        moment = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
        context = {"service_tier": tier} if tier else {}
        try:
            standard = calc_price(
                PricedUsage(input_tokens=0), model, provider_id=provider,
                genai_request_timestamp=moment, price_context=context or None,
            )  # fmt: skip
        except LookupError:
            return None
        except ValueError as exc:
            raise PricingError(
                f"genai-prices could not price {provider}:{model} on {day}: {exc}"
            ) from exc
        if standard.model_price.input_mtok is None:
            return None  # not priced per token (e.g. per image): unpriced, never $0
        scale = Decimal(1)
        batch_source = ""
        calculation = standard
        if batch:
            if _has_active_batch_variant(standard.model, moment):
                calculation = calc_price(
                    PricedUsage(input_tokens=0), model, provider_id=provider,
                    genai_request_timestamp=moment,
                    price_context={**context, "processing": "batch"},
                )  # fmt: skip
                batch_source = "genai-prices"
            elif provider in self.batch_discounts:
                scale = 1 - self.batch_discounts[provider].discount
                batch_source = "discount-table"
                self.fallback_batch_providers.add(provider)
            else:
                return None
        return _rate_card(
            calculation, scale=scale, batch_source=batch_source, moment=moment,
            provider=provider, model=model, context=context, batch=batch,
        )  # fmt: skip


def _change_days(provider: str, model: str) -> tuple[date, ...] | None:
    """The sorted days ``provider:model``'s genai-prices inputs may change on (``None``: any day)."""
    try:
        _, info = get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        # calc_price makes this same date-independent look-up first, so it fails on every day
        return ()
    return _model_change_days(info)


def _model_change_days(info: ModelInfo) -> tuple[date, ...] | None:
    """Start dates of a model's dated prices and price variants, or ``None`` if not provable.

    genai-prices picks a model's prices and variants by their constraints at
    the request moment, which the book always sets to 00:00 UTC of the day. A
    :class:`StartDateConstraint` is active from its start date on, so between
    two consecutive start dates every one of them keeps its value. A
    :class:`TimeOfDateConstraint` depends only on the UTC time of day, which
    is always 00:00, so it never changes. Any other constraint (a newer
    genai-prices) is not understood here: ``None``, and every day is its own span.
    """
    constraints = [] if isinstance(info.prices, ModelPrice) else [p.constraint for p in info.prices]
    constraints += [variant.constraint for variant in info.price_variants or ()]
    days: set[date] = set()
    for constraint in constraints:
        if type(constraint) is StartDateConstraint and type(constraint.start_date) is date:
            days.add(constraint.start_date)
        elif constraint is not None and type(constraint) is not TimeOfDateConstraint:
            return None
    return tuple(sorted(days))


def _has_active_batch_variant(model: ModelInfo, moment: datetime) -> bool:
    for variant in model.price_variants or ():
        if variant.when == {"processing": "batch"} and (
            variant.constraint is None or variant.constraint.active(moment)
        ):
            return True
    return False


def _rate_card(
    calculation: PriceCalculation,
    *,
    scale: Decimal,
    batch_source: str,
    moment: datetime,
    provider: str,
    model: str,
    context: dict[str, str],
    batch: bool,
) -> RateCard | TieredPrice:
    prices = calculation.model_price
    rates = {
        name: getattr(prices, f"{name}_mtok")
        for name in ("input", "cache_read", "cache_write", "cache_write_1h", "output")
    }
    if any(isinstance(rate, TieredPrices) for rate in rates.values()):
        return TieredPrice(tuple(rates.items()), scale, batch_source)
    card = linear_card(rates, scale, batch_source)
    _check_against_genai_prices(
        card, scale=scale, provider=provider, model=model, moment=moment, context=context,
        batch=batch,
    )  # fmt: skip
    return card


def _check_against_genai_prices(
    card: RateCard,
    *,
    scale: Decimal,
    provider: str,
    model: str,
    moment: datetime,
    context: dict[str, str],
    batch: bool,
) -> None:
    """The linear card must agree with genai-prices on a probe; else the card is wrong."""
    probe = _PROBE
    usage = PricedUsage(
        input_tokens=probe.input_tokens, cache_read_tokens=probe.cached_input_tokens,
        cache_write_tokens=probe.cache_write_tokens,
        cache_write_1h_tokens=probe.cache_write_1h_tokens,
        cache_write_5m_tokens=probe.cache_write_tokens - probe.cache_write_1h_tokens,
        output_tokens=probe.output_tokens,
    )  # fmt: skip
    price_context = dict(context)
    if card.batch_source == "genai-prices":
        price_context["processing"] = "batch"
    expected = calc_price(
        usage, model, provider_id=provider, genai_request_timestamp=moment,
        price_context=price_context or None,
    ).total_price * scale  # fmt: skip
    if abs(card.cost(probe) - expected) > Decimal("0.000001"):
        raise PricingError(
            f"rate card for {provider}:{model} ({'batch' if batch else 'standard'}) gives "
            f"{card.cost(probe)} on a probe where genai-prices gives {expected}; "
            "the model uses price units the engine does not model"
        )
