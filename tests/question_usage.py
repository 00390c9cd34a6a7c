"""A small usage file for questions, and its costs computed row by row with genai-prices.

The expected figures of the answer tests come from here: each row priced on its
own with ``genai_prices.calc_price`` (never with the roll-up or the answer code).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from genai_prices import Usage as PricedUsage
from genai_prices import calc_price


class Line(NamedTuple):
    """One row of the usage file."""

    at: str
    provider: str
    model: str
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    requests: int
    feature: str
    end_user: str


ROWS = [Line(*row) for row in [
    ("2025-10-01T09:00:00Z", "openai", "gpt-4o", 1000, 0, 200, 1, "support-chat", "u1"),
    ("2025-10-01T10:00:00Z", "openai", "gpt-4o-mini", 5000, 0, 1000, 2, "faq-bot", "u2"),
    ("2025-10-02T09:00:00Z", "openai", "gpt-4o", 2000, 500, 300, 1, "support-chat", "u1"),
    ("2025-10-03T09:00:00Z", "openai", "gpt-4o", 1500, 0, 250, 1, "support-chat", "u1"),
    ("2025-10-06T09:00:00Z", "openai", "gpt-4o", 40000, 0, 8000, 10, "support-chat", "u3"),
    ("2025-10-06T11:00:00Z", "anthropic", "claude-3-5-sonnet-20241022", 3000, 0, 500, 1, "faq-bot", "u2"),
    ("2025-10-07T09:00:00Z", "openai", "gpt-4o-mini", 1000, 0, 100, 1, "faq-bot", "u1"),
]]  # fmt: skip
HEADER = "timestamp,provider,model,input_tokens,cached_input_tokens,output_tokens,requests,batch,feature,end_user"


def usage_csv(rows: list[Line]) -> bytes:
    lines = [HEADER] + [",".join(map(str, (*r[:7], "false", *r[7:]))) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def price_of(row: Line, model: str | None = None) -> Decimal:
    usage = PricedUsage(
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cached_input_tokens,
        output_tokens=row.output_tokens,
    )
    when = datetime.fromisoformat(row.at.replace("Z", "+00:00")).astimezone(UTC)
    price = calc_price(
        usage, model or row.model, provider_id=row.provider, genai_request_timestamp=when
    )
    return Decimal(price.total_price)


def dollars(value: Decimal) -> str:
    """As an answer shows dollars (docs/COST_ENGINE.md's money rule): ``$1,234.56`` from a
    dollar up, three significant figures below (``$0.0181``, ``$0.13``)."""
    sign, amount = ("-" if value < 0 else ""), abs(value)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"
    # 3 significant figures: the first non-zero digit's place, two more, at least cents
    places = max(2, 2 - amount.adjusted())
    text = f"{amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN):f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"
