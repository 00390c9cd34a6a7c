"""Exact prices of usage counters with genai-prices, cached per (provider, model, day, policy).

genai-prices' ``Usage.input_tokens`` is the total prompt including cache
reads and writes, which is the record's convention, so counters are passed
as they are (Anthropic's uncached input was already summed up by its
importer). A model genai-prices cannot price is ``None`` (unpriced), never $0.
Batch: genai-prices' ``processing=batch`` variant when one is active for the
date; otherwise the provider's published discount from
``data/batch_discounts.json``; otherwise the batch usage is unpriced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Final, Literal

from genai_prices import Usage, calc_price
from genai_prices.types import ModelInfo, PriceCalculation, TieredPrices
from pydantic import BaseModel, ConfigDict, Field

from apex_core.errors import PricingError

MILLION: Final = Decimal(1_000_000)
PRICED_TIERS: Final = frozenset({"flex", "priority", "fast"})
Rate = Decimal | None


class BatchDiscount(BaseModel):
    """One provider's published batch discount (validated from the data file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    provider: str = Field(min_length=1)
    discount: Decimal = Field(gt=0, lt=1)
    applies_to: tuple[Literal["input", "cache_read", "cache_write", "output"], ...]
    source: str = Field(min_length=10)
    as_of: date


class BatchDiscountTable(BaseModel):
    """The whole ``batch_discounts.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    about: str
    discounts: tuple[BatchDiscount, ...]


def load_batch_discounts() -> dict[str, BatchDiscount]:
    """Provider id -> discount, from the packaged, validated data file."""
    text = resources.files("apex_core.cost").joinpath("data/batch_discounts.json").read_text()
    table = BatchDiscountTable.model_validate(json.loads(text))
    return {entry.provider: entry for entry in table.discounts}


@dataclass(slots=True, frozen=True)
class RateCard:
    """USD per million tokens for one model on one day under one policy (linear prices only)."""

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    output: Decimal
    batch_source: str
    """'genai-prices', 'discount-table' or '' (not batch)."""

    def cost(self, usage: Sequence[int]) -> Decimal:
        """Cost of a usage block (requests, input, cached, write, write_1h, output, reasoning)."""
        _, total_in, cached, write, write_1h, output, _ = usage[:7]
        uncached = total_in - cached - write
        return (
            uncached * self.input
            + cached * self.cache_read
            + (write - write_1h) * self.cache_write
            + write_1h * self.cache_write_1h
            + output * self.output
        ) / MILLION


class PriceBook:
    """Prices usage blocks; one genai-prices lookup per (provider, model, day, batch, tier)."""

    def __init__(self, batch_discounts: dict[str, BatchDiscount] | None = None) -> None:
        self.batch_discounts = (
            load_batch_discounts() if batch_discounts is None else batch_discounts
        )
        self._cards: dict[tuple[str, str, str, bool, str], RateCard | TieredPrice | None] = {}
        self.fallback_batch_providers: set[str] = set()

    def cost(
        self,
        provider: str,
        model: str,
        day: str,
        usage: Sequence[int],
        *,
        batch: bool = False,
        service_tier: str = "",
    ) -> Decimal | None:
        """USD cost of ``usage`` (a 7-counter block), or ``None`` when the model is unpriced."""
        card = self.rate_card(provider, model, day, batch=batch, service_tier=service_tier)
        return None if card is None else card.cost(usage)

    def rate_card(
        self, provider: str, model: str, day: str, *, batch: bool = False, service_tier: str = ""
    ) -> RateCard | TieredPrice | None:
        """The (cached) prices of a model on a day under a policy; ``None`` when unpriced.

        A :class:`RateCard` is linear, so usage priced with one card may be
        summed first and priced once.
        """
        tier = service_tier if service_tier in PRICED_TIERS else ""
        key = (provider, model, day, batch, tier)
        if key in self._cards:
            return self._cards[key]
        card = self._cards[key] = self._card(provider, model, day, batch, tier)
        return card

    def _card(
        self, provider: str, model: str, day: str, batch: bool, tier: str
    ) -> RateCard | TieredPrice | None:
        moment = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
        context = {"service_tier": tier} if tier else {}
        try:
            standard = calc_price(
                Usage(input_tokens=0), model, provider_id=provider,
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
                    Usage(input_tokens=0), model, provider_id=provider,
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


def _has_active_batch_variant(model: ModelInfo, moment: datetime) -> bool:
    for variant in model.price_variants or ():
        if variant.when == {"processing": "batch"} and (
            variant.constraint is None or variant.constraint.active(moment)
        ):
            return True
    return False


@dataclass(slots=True, frozen=True)
class TieredPrice:
    """Prompt-size dependent prices: the tier is chosen by the *average* request's input.

    genai-prices applies a tier to a whole request when its input crosses the
    tier's start; a roll-up only knows sums, so the average request decides.
    """

    rates: tuple[tuple[str, Decimal | TieredPrices | None], ...]
    scale: Decimal
    batch_source: str

    def card_for(self, input_per_request: Decimal) -> RateCard:
        """The linear card of the tier that requests of this size pay."""
        resolved: dict[str, Decimal | None] = {}
        for name, rate in self.rates:
            if isinstance(rate, TieredPrices):
                chosen = rate.base
                for tier in reversed(rate.tiers):
                    if input_per_request > tier.start:
                        chosen = tier.price
                        break
                resolved[name] = chosen
            else:
                resolved[name] = rate
        return _linear_card(resolved, self.scale, self.batch_source)

    def cost(self, usage: Sequence[int]) -> Decimal:
        """Cost of a usage block, at the tier of its average request."""
        requests, total_in = usage[0], usage[1]
        return self.card_for(Decimal(total_in) / (requests or 1)).cost(usage)


def _linear_card(rates: dict[str, Decimal | None], scale: Decimal, batch_source: str) -> RateCard:
    base = rates["input"] if rates["input"] is not None else Decimal(0)
    read = rates["cache_read"] if rates["cache_read"] is not None else base
    write = rates["cache_write"] if rates["cache_write"] is not None else base
    write_1h = rates["cache_write_1h"] if rates["cache_write_1h"] is not None else write
    output = rates["output"] if rates["output"] is not None else Decimal(0)
    return RateCard(
        base * scale, read * scale, write * scale, write_1h * scale, output * scale, batch_source
    )


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
    card = _linear_card(rates, scale, batch_source)
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
    probe = (1, 10_000_000, 3_000_000, 2_000_000, 500_000, 1_000_000, 0)
    usage = Usage(
        input_tokens=probe[1], cache_read_tokens=probe[2], cache_write_tokens=probe[3],
        cache_write_1h_tokens=probe[4], cache_write_5m_tokens=probe[3] - probe[4],
        output_tokens=probe[5],
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
