"""Prices checked against arithmetic on published per-million-token prices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage as PricedUsage
from genai_prices import calc_price
from genai_prices.types import PriceCalculation

from apex_core.cost import PriceBook, UsageRecord, accumulate, analyze, demo_records, read_usage
from apex_core.cost.model.cells import Usage as CellUsage
from apex_core.cost.pricing.batch import load_batch_discounts
from apex_core.cost.pricing.cards import RateCard
from apex_core.errors import PricingError
from tests.unit.cost.conftest import fixture

M = 1_000_000
# Published prices (USD per million tokens) on 2025-03-01:
GPT_4O = {"input": 2.50, "cached": 1.25, "output": 10.00}
GPT_4O_MINI = {"input": 0.15, "output": 0.60}
SONNET_35 = {"input": 3.00, "write_5m": 3.75, "write_1h": 6.00, "read": 0.30, "output": 15.00}
HAIKU_35 = {"input": 0.80, "output": 4.00}
BATCH_DISCOUNT = 0.5  # OpenAI Batch API and Anthropic Message Batches: half price
DAY = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "model", "usage", "published"),
    [
        ("openai", "gpt-4o", PricedUsage(input_tokens=M), GPT_4O["input"]),
        ("openai", "gpt-4o", PricedUsage(input_tokens=M, cache_read_tokens=M), GPT_4O["cached"]),
        ("openai", "gpt-4o", PricedUsage(output_tokens=M), GPT_4O["output"]),
        ("anthropic", "claude-3-5-sonnet-20241022", PricedUsage(input_tokens=M), SONNET_35["input"]),
        ("anthropic", "claude-3-5-sonnet-20241022",
         PricedUsage(input_tokens=M, cache_write_tokens=M), SONNET_35["write_5m"]),
        ("anthropic", "claude-3-5-sonnet-20241022",
         PricedUsage(input_tokens=M, cache_read_tokens=M), SONNET_35["read"]),
        ("anthropic", "claude-3-5-sonnet-20241022", PricedUsage(output_tokens=M), SONNET_35["output"]),
    ],
)  # fmt: skip
def test_genai_prices_data_agrees_with_published_prices(
    provider: str, model: str, usage: PricedUsage, published: float
) -> None:
    price = calc_price(usage, model, provider_id=provider, genai_request_timestamp=DAY)
    assert float(price.total_price) == pytest.approx(published)


def test_openai_rows_with_cached_tokens_and_batch() -> None:
    analysis = analyze(accumulate(read_usage(fixture("openai_usage_completions.json"))))
    # 2025-03-01 gpt-4o: 600k uncached, 400k cached, 100k output
    gpt4o_day1 = 0.6 * GPT_4O["input"] + 0.4 * GPT_4O["cached"] + 0.1 * GPT_4O["output"]  # 3.00
    # 2025-03-01 gpt-4o-mini: 2M input, 500k output
    mini_day1 = 2.0 * GPT_4O_MINI["input"] + 0.5 * GPT_4O_MINI["output"]  # 0.60
    # 2025-03-02 gpt-4o batch: 500k input, 50k output at half price (discount table)
    gpt4o_batch = (0.5 * GPT_4O["input"] + 0.05 * GPT_4O["output"]) * BATCH_DISCOUNT  # 0.875
    result = analysis.to_json()
    assert result["total_cost_usd"] == pytest.approx(gpt4o_day1 + mini_day1 + gpt4o_batch)
    by_model = {entry["model"]: entry for entry in result["by_model"]}
    assert by_model["gpt-4o-2024-08-06"]["cost_usd"] == pytest.approx(gpt4o_day1 + gpt4o_batch)
    assert by_model["gpt-4o-2024-08-06"]["cached_input_tokens"] == 400_000
    assert result["by_day"] == [
        {"date": "2025-03-01", "cost_usd": pytest.approx(gpt4o_day1 + mini_day1), "requests": 500},
        {"date": "2025-03-02", "cost_usd": pytest.approx(gpt4o_batch), "requests": 50},
    ]
    assert any("published batch discount" in note for note in result["notes"])


def test_anthropic_rows_with_cache_writes_of_both_ttls() -> None:
    analysis = analyze(accumulate(read_usage(fixture("anthropic_usage_report.json"))))
    sonnet = (
        1.0 * SONNET_35["input"]  # uncached
        + 2.0 * SONNET_35["read"]
        + 0.4 * SONNET_35["write_5m"]
        + 0.1 * SONNET_35["write_1h"]
        + 0.2 * SONNET_35["output"]
    )  # 8.70
    haiku_batch = (1.0 * HAIKU_35["input"] + 0.1 * HAIKU_35["output"]) * BATCH_DISCOUNT  # 0.60
    result = analysis.to_json()
    by_model = {entry["model"]: entry["cost_usd"] for entry in result["by_model"]}
    assert by_model == {
        "claude-3-5-sonnet-20241022": pytest.approx(sonnet),
        "claude-3-5-haiku-20241022": pytest.approx(haiku_batch),
    }


def test_otel_spans_priced_with_the_input_includes_cached_rule() -> None:
    analysis = analyze(accumulate(read_usage(fixture("otel_genai_spans.json"))))
    openai_span = (6000 * GPT_4O["input"] + 4000 * GPT_4O["cached"] + 500 * GPT_4O["output"]) / M
    anthropic_span = (
        2000 * SONNET_35["input"] + 6000 * SONNET_35["read"]
        + 2000 * SONNET_35["write_5m"] + 1000 * SONNET_35["output"]
    ) / M  # fmt: skip
    assert analysis.to_json()["total_cost_usd"] == pytest.approx(openai_span + anthropic_span)


def test_unknown_model_is_unpriced_with_its_tokens_never_zero_dollars() -> None:
    records = [
        UsageRecord(DAY, "openai", "gpt-4o", input_tokens=M, output_tokens=0),
        UsageRecord(DAY, "openai", "ft:my-private-model", input_tokens=1234, output_tokens=56),
    ]
    result = analyze(accumulate(records)).to_json()
    assert result["total_cost_usd"] == pytest.approx(GPT_4O["input"])
    assert result["unpriced"] == [
        {"provider": "openai", "model": "ft:my-private-model", "records": 1,
         "input_tokens": 1234, "output_tokens": 56, "requests": 1},
    ]  # fmt: skip
    assert [entry["model"] for entry in result["by_model"]] == ["gpt-4o"]


def test_batch_uses_genai_prices_variant_when_it_is_active() -> None:
    book = PriceBook()
    usage = CellUsage(requests=1, input_tokens=M, output_tokens=M)
    # genai-prices 0.2.3 has gpt-4o batch prices from 2026-10-14: $1.25/M in, $5/M out
    assert book.cost("openai", "gpt-4o", "2026-11-01", usage, batch=True) == Decimal("6.25")
    assert "openai" not in book.fallback_batch_providers
    # before that date it has none, and the discount table halves the standard $12.50
    assert book.cost("openai", "gpt-4o", "2025-03-01", usage, batch=True) == Decimal("6.25")
    assert "openai" in book.fallback_batch_providers


def test_batch_of_a_provider_without_any_batch_price_is_unpriced() -> None:
    book = PriceBook(batch_discounts={})
    assert (
        book.cost(
            "openai",
            "gpt-4o",
            "2025-03-01",
            CellUsage(requests=1, input_tokens=M, output_tokens=M),
            batch=True,
        )
        is None
    )


def test_tiered_model_pays_the_tier_of_its_average_request() -> None:
    # gemini-2.5-pro, published: $1.25/M in and $10/M out up to 200k prompt tokens,
    # $2.50/M in and $15/M out above.
    book = PriceBook()
    small = CellUsage(requests=4, input_tokens=4 * 100_000, output_tokens=4 * 1000)  # 100k prompts
    large = CellUsage(requests=2, input_tokens=2 * 300_000, output_tokens=2 * 1000)  # 300k prompts
    cost_small = book.cost("google", "gemini-2.5-pro", "2025-08-01", small)
    cost_large = book.cost("google", "gemini-2.5-pro", "2025-08-01", large)
    assert cost_small == pytest.approx(Decimal((400_000 * 1.25 + 4000 * 10) / M))
    assert cost_large == pytest.approx(Decimal((600_000 * 2.50 + 2000 * 15) / M))


# Every model the demo and the benchmark (scripts/bench) price, models whose prices change on
# dated days in genai-prices 0.2.3 (o3's price cut on 2025-06-10; deepseek-v4-flash's dated
# and time-of-day prices; gpt-4o's priority variant from 2026-10-12 and batch variant from
# 2026-10-14) and a model genai-prices does not know.
BENCH_MODELS = (
    ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"),
    ("anthropic", "claude-3-5-sonnet-20241022"), ("anthropic", "claude-3-5-haiku-20241022"),
    ("google", "gemini-1.5-flash"),
)  # fmt: skip
DATED_MODELS = (("openai", "o3"), ("deepseek", "deepseek-v4-flash"), ("openai", "ft:my-private"))
PRICE_CHANGE_WINDOWS = (
    ("2025-02-26", 7), ("2025-06-07", 7), ("2026-08-15", 4), ("2026-09-08", 4), ("2026-10-10", 7)
)  # fmt: skip
POLICIES = tuple((batch, tier) for batch in (False, True) for tier in ("", "priority", "flex"))


def _days() -> list[str]:
    return [
        (date.fromisoformat(start) + timedelta(days=offset)).isoformat()
        for start, count in PRICE_CHANGE_WINDOWS
        for offset in range(count)
    ]


def _models() -> list[tuple[str, str]]:
    demo = {(r.provider, r.model) for r in demo_records("cards", now=DAY, days=2)}
    return sorted(demo | set(BENCH_MODELS) | set(DATED_MODELS))


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_cards_cached_across_days_equal_cards_computed_day_by_day(order: str) -> None:
    discounts = load_batch_discounts()
    days = _days() if order == "forward" else _days()[::-1]
    for provider, model in _models():
        cached = PriceBook(batch_discounts=discounts)
        fallback: set[str] = set()
        for day in days:
            for batch, tier in POLICIES:
                fresh = PriceBook(batch_discounts=discounts)
                expected = fresh.rate_card(provider, model, day, batch=batch, service_tier=tier)
                got = cached.rate_card(provider, model, day, batch=batch, service_tier=tier)
                assert got == expected, (provider, model, day, batch, tier)
                fallback |= fresh.fallback_batch_providers
                assert cached.fallback_batch_providers == fallback


def test_the_windows_cross_price_changes() -> None:
    book = PriceBook()

    def card(model: str, day: str, *, batch: bool = False, tier: str = "") -> RateCard:
        provider = "deepseek" if model.startswith("deepseek") else "openai"
        found = book.rate_card(provider, model, day, batch=batch, service_tier=tier)
        assert isinstance(found, RateCard)
        return found

    assert [card("o3", d).input for d in ("2025-06-09", "2025-06-10")] == [10, 2]
    assert [card("deepseek-v4-flash", d).input for d in ("2026-08-16", "2026-08-17")] == [
        Decimal("0.14"),
        Decimal("0.22"),
    ]
    assert [card("gpt-4o", d, batch=True).batch_source for d in ("2026-10-13", "2026-10-14")] == [
        "discount-table",
        "genai-prices",
    ]
    assert card("gpt-4o", "2026-10-11", tier="priority") != card(
        "gpt-4o", "2026-10-12", tier="priority"
    )


def test_genai_prices_is_asked_once_per_span_of_unchanged_prices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting(usage: PricedUsage, model: str, **kwargs: Any) -> PriceCalculation:
        calls.append(model)
        return calc_price(usage, model, **kwargs)

    monkeypatch.setattr("apex_core.cost.pricing.book.calc_price", counting)
    book = PriceBook()
    for day in range(1, 31):  # o3's price changes on 2025-06-10: two spans
        book.rate_card("openai", "o3", f"2025-06-{day:02d}")
    assert len(calls) == 2 * 2  # per span: the card's look-up and its check on a probe


def test_a_pricing_error_is_raised_for_every_day_it_happens_not_cached() -> None:
    book = PriceBook()
    for day in ("2025-03-01", "2025-03-02", "2025-03-01"):
        # perplexity's sonar has a per-request price the engine does not model
        with pytest.raises(PricingError, match="perplexity:sonar"):
            book.rate_card("perplexity", "sonar", day)


def test_tiered_cards_switch_tier_exactly_where_genai_prices_does() -> None:
    # gemini-1.5-flash: prompts above 128,000 tokens pay the higher tier for the whole request
    book = PriceBook()
    for prompt in (0, 1, 127_999, 128_000, 128_001, 500_000):
        usage = CellUsage(requests=1, input_tokens=prompt, output_tokens=1000)
        expected = calc_price(
            PricedUsage(input_tokens=prompt, output_tokens=1000), "gemini-1.5-flash",
            provider_id="google", genai_request_timestamp=DAY,
        ).total_price  # fmt: skip
        assert book.cost("google", "gemini-1.5-flash", "2025-03-01", usage) == expected
