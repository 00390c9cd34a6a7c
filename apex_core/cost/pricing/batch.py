"""Providers' published batch discounts: the fallback price of batch usage.

Used when genai-prices has no ``processing=batch`` price for a model on a date;
the table is ``data/batch_discounts.json`` (validated, dated, sourced).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
