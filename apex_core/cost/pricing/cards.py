"""Rate cards: USD per million tokens of one model on one day under one policy.

A :class:`RateCard` is linear, so usage priced with one card may be summed
first and priced once. A :class:`TieredPrice` depends on the prompt size: the
average request of the usage picks its tier.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from genai_prices.types import TieredPrices

from apex_core.cost.model.cells import Usage

MILLION: Final = Decimal(1_000_000)


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

    def cost(self, usage: Usage) -> Decimal:
        """Cost of some usage (of a cell: of all its requests)."""
        cached = usage.cached_input_tokens
        write = usage.cache_write_tokens
        write_1h = usage.cache_write_1h_tokens
        return (
            (usage.input_tokens - cached - write) * self.input
            + cached * self.cache_read
            + (write - write_1h) * self.cache_write
            + write_1h * self.cache_write_1h
            + usage.output_tokens * self.output
        ) / MILLION


@dataclass(slots=True, frozen=True)
class TieredPrice:
    """Prompt-size dependent prices: the tier is chosen by the *average* request's input.

    genai-prices applies a tier to a whole request when its input crosses the
    tier's start; a roll-up only knows sums, so the average request decides.
    """

    rates: tuple[tuple[str, Decimal | TieredPrices | None], ...]
    scale: Decimal
    batch_source: str
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    """Every tier start of every rate, sorted, without repeats."""
    _cards: tuple[RateCard, ...] = field(init=False, repr=False, compare=False)
    """``_cards[i]``: the card of requests above exactly ``i`` of ``_starts``."""

    def __post_init__(self) -> None:
        """Resolve each tier's card once instead of once per priced block.

        A request of size x pays, per rate, the last tier whose start is below
        x, so its card depends only on how many of ``_starts`` are below x.
        ``_starts[i]`` has exactly ``i`` starts below it (``last + 1``: all).
        """
        starts = sorted({
            tier.start for _, rate in self.rates if isinstance(rate, TieredPrices)
            for tier in rate.tiers
        })  # fmt: skip
        sizes = [*starts, starts[-1] + 1 if starts else 0]
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_cards", tuple(self._resolve(Decimal(x)) for x in sizes))

    def card_for(self, input_per_request: Decimal) -> RateCard:
        """The linear card of the tier that requests of this size pay."""
        return self._cards[bisect_left(self._starts, input_per_request)]

    def cost(self, usage: Usage) -> Decimal:
        """Cost of some usage, at the tier of its average request."""
        per_request = Decimal(usage.input_tokens) / (usage.requests or 1)
        return self.card_for(per_request).cost(usage)

    def _resolve(self, input_per_request: Decimal) -> RateCard:
        """genai-prices' tier rule: per rate, the last tier whose start is below the size."""
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
        return linear_card(resolved, self.scale, self.batch_source)


def linear_card(rates: dict[str, Decimal | None], scale: Decimal, batch_source: str) -> RateCard:
    base = rates["input"] if rates["input"] is not None else Decimal(0)
    read = rates["cache_read"] if rates["cache_read"] is not None else base
    write = rates["cache_write"] if rates["cache_write"] is not None else base
    write_1h = rates["cache_write_1h"] if rates["cache_write_1h"] is not None else write
    output = rates["output"] if rates["output"] is not None else Decimal(0)
    return RateCard(
        base * scale, read * scale, write * scale, write_1h * scale, output * scale, batch_source
    )
