"""``Tally``: priced usage (cost in exact ``Decimal`` dollars) and the measures of it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apex_core.cost import PriceBook, Usage
from apex_core.cost.model.cells import NO_USAGE
from apex_core.query.model import Measure


@dataclass(frozen=True, slots=True)
class Tally:
    """The cost and usage of priced cells, and the usage of cells no price was found for."""

    cost: Decimal = Decimal(0)
    usage: Usage = NO_USAGE
    unpriced: Usage = NO_USAGE

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.cost + other.cost, self.usage + other.usage, self.unpriced + other.unpriced
        )

    @property
    def tokens(self) -> int:
        """Input plus output tokens (what ``apex analyze``'s unit costs divide by)."""
        return self.usage.input_tokens + self.usage.output_tokens

    def value(self, measure: Measure, *, whole: Decimal) -> Decimal | int | None:
        """The measure; ``whole`` is the spend ``share_of_spend`` is a share of.
        ``None`` when it divides by zero."""
        if measure == "cost":
            return self.cost
        if measure in ("input_tokens", "cached_input_tokens", "output_tokens", "requests"):
            count: int = getattr(self.usage, measure)
            return count
        if measure == "cost_per_request":
            return self.cost / self.usage.requests if self.usage.requests else None
        if measure == "cost_per_1k_tokens":
            return self.cost * 1000 / self.tokens if self.tokens else None
        return self.cost / whole if whole else None


def priced(book: PriceBook, key: Any, usage: Usage) -> Tally:
    """The tally of one cell's usage priced for its own day, batch flag and service tier."""
    cost = book.cost(
        key.provider, key.model, key.day, usage, batch=key.batch, service_tier=key.service_tier
    )
    return Tally(unpriced=usage) if cost is None else Tally(cost, usage)


def json_value(measure: Measure, value: Decimal | int | None) -> float | int | None:
    """A measure as JSON: dollars rounded to 1e-6 (like ``apex analyze --json``), shares to 1e-4."""
    if value is None or isinstance(value, int):
        return value
    return float(round(value, 4 if measure == "share_of_spend" else 6))
