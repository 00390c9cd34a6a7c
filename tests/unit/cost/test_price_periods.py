"""``PriceBook.price_periods``: runs of days whose rate cards are equal share the first day."""

from __future__ import annotations

from apex_core.cost import PriceBook
from apex_core.cost.model.cells import PeriodKey, Usage
from apex_core.cost.pricing.cards import RateCard

USAGE = Usage(
    requests=3, input_tokens=1_200_000, cached_input_tokens=300_000, cache_write_tokens=50_000,
    cache_write_1h_tokens=10_000, output_tokens=400_000,
)  # fmt: skip


def _keys(
    provider: str, model: str, days: list[str], *, batch: bool = False, tier: str = ""
) -> list[PeriodKey]:
    return [PeriodKey(day, provider, model, batch, tier) for day in days]


def test_a_price_change_inside_the_range_splits_it_into_two_periods() -> None:
    # openai o3: $10/M input until 2025-06-09, $2/M from 2025-06-10 (genai-prices 0.2.3)
    days = ["2025-06-12", "2025-06-05", "2025-06-09", "2025-06-07", "2025-06-15", "2025-06-12"]
    periods = PriceBook().price_periods(_keys("openai", "o3", days))
    assert {key[0]: day for key, day in periods.items()} == {
        "2025-06-05": "2025-06-05",
        "2025-06-07": "2025-06-05",
        "2025-06-09": "2025-06-05",
        "2025-06-12": "2025-06-12",  # 2025-06-10 and -11 are not given: the period starts here
        "2025-06-15": "2025-06-12",
    }


def test_constant_prices_give_one_period_named_by_the_first_day() -> None:
    days = [f"2025-03-{day:02d}" for day in range(31, 0, -2)]
    periods = PriceBook().price_periods(_keys("openai", "gpt-4o", days))
    assert set(periods.values()) == {"2025-03-01"}
    assert len(periods) == len(days)


def test_an_unpriced_model_maps_consistently() -> None:
    book = PriceBook()
    days = ["2025-03-02", "2025-03-01", "2026-10-20"]
    periods = book.price_periods(_keys("openai", "ft:my-private-model", days))
    assert set(periods.values()) == {"2025-03-01"}
    assert all(book.rate_card("openai", "ft:my-private-model", day) is None for day in days)


def test_each_policy_has_its_own_periods() -> None:
    # gpt-4o: a priority-tier variant from 2026-10-12 and a batch variant from 2026-10-14
    book = PriceBook()
    days = ["2026-10-10", "2026-10-11", "2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15"]
    keys = [
        *_keys("openai", "gpt-4o", days),
        *_keys("openai", "gpt-4o", days, tier="priority"),
        *_keys("openai", "gpt-4o", days, batch=True),
    ]
    starts: dict[tuple[bool, str], set[str]] = {}
    for (_, _, _, batch, tier), day in book.price_periods(keys).items():
        starts.setdefault((batch, tier), set()).add(day)
    assert starts == {
        (False, ""): {"2026-10-10"},
        (False, "priority"): {"2026-10-10", "2026-10-12"},
        (True, ""): {"2026-10-10", "2026-10-14"},  # discount table, then genai-prices' batch price
    }
    assert book.fallback_batch_providers == {"openai"}


def test_tiered_cards_are_never_merged_across_days() -> None:
    # gemini-1.5-flash's tier is chosen by a cell's average request: summing cells would change it
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    periods = PriceBook().price_periods(_keys("google", "gemini-1.5-flash", days))
    assert [periods[key] for key in _keys("google", "gemini-1.5-flash", days)] == days


def test_usage_priced_with_its_periods_card_costs_the_same() -> None:
    book = PriceBook()
    days = [f"2025-06-{day:02d}" for day in range(1, 21)]
    keys = [
        *_keys("openai", "o3", days),
        *_keys("openai", "gpt-4o", days, batch=True),
        *_keys("anthropic", "claude-3-5-sonnet-20241022", days),
    ]
    for (day, provider, model, batch, tier), start in book.price_periods(keys).items():
        own = book.rate_card(provider, model, day, batch=batch, service_tier=tier)
        period = book.rate_card(provider, model, start, batch=batch, service_tier=tier)
        assert isinstance(own, RateCard)
        assert own == period
        assert own.cost(USAGE) == period.cost(USAGE)


def test_no_keys_no_periods() -> None:
    assert PriceBook().price_periods([]) == {}
