"""Each recommendation's dollars, derived by hand from published prices and the what-if rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apex_core.cost import UsageRecord, accumulate, analyze

START = datetime(2025, 3, 1, 12, tzinfo=UTC)
TEN_DAYS_SCALE = 30.4375 / 10  # a month of 30.4375 days over a 10-day observation
ONE_HOUR_SCALE = 30.4375 * 24  # observations shorter than an hour count as one hour
GPT_4O_IN, GPT_4O_CACHED, GPT_4O_OUT = 2.50e-6, 1.25e-6, 10.0e-6
MINI_IN, MINI_OUT = 0.15e-6, 0.60e-6
SONNET_IN, SONNET_WRITE, SONNET_READ = 3.00e-6, 3.75e-6, 0.30e-6


def _spread(count: int, days: float = 10) -> list[datetime]:
    step = timedelta(days=days) / (count - 1)
    return [START + step * index for index in range(count)]


def _recommendations(records: list[UsageRecord], kind: str) -> list[dict[str, Any]]:
    result = analyze(accumulate(records)).to_json()
    return [item for item in result["recommendations"] if item["kind"] == kind]


def test_cheaper_model_for_short_outputs_reprices_at_the_same_providers_mini() -> None:
    records = [
        UsageRecord(moment, "openai", "gpt-4o-2024-08-06", 1000, 50, feature="ticket-router")
        for moment in _spread(100)
    ]
    (item,) = _recommendations(records, "cheaper_model")
    observed = 100 * (1000 * GPT_4O_IN + 50 * GPT_4O_OUT)  # $0.30
    what_if = 100 * (1000 * MINI_IN + 50 * MINI_OUT)  # $0.018
    assert item["estimated_monthly_savings_usd"] == round((observed - what_if) * TEN_DAYS_SCALE, 2)
    assert item["evidence"]["cheaper_model"] == "gpt-4o-mini"
    assert item["evidence"]["observed_cost_usd"] == pytest.approx(observed)
    assert item["evidence"]["what_if_cost_usd"] == pytest.approx(what_if)
    assert "10.0 day(s)" in item["assumption"]


def test_long_outputs_get_no_cheaper_model_recommendation() -> None:
    records = [
        UsageRecord(moment, "openai", "gpt-4o", 1000, 900, feature="writer")
        for moment in _spread(20)
    ]
    assert _recommendations(records, "cheaper_model") == []


def test_duplicate_requests_are_removed_by_a_response_cache() -> None:
    records = [
        UsageRecord(START + timedelta(hours=h), "openai", "gpt-4o", 2000, 100,
                    feature="faq", prompt_fingerprint="same-question")
        for h in range(10)
    ]  # fmt: skip
    # pin the period to 10 days with one unrelated request
    records.append(UsageRecord(START + timedelta(days=10), "openai", "gpt-4o", 10, 10, feature="x"))
    (item,) = _recommendations(records, "response_cache")
    duplicates = 9  # the first request is not a duplicate
    saved = duplicates * (2000 * GPT_4O_IN + 100 * GPT_4O_OUT)
    assert item["estimated_monthly_savings_usd"] == round(saved * TEN_DAYS_SCALE, 2)
    assert item["evidence"]["duplicate_requests"] == duplicates


def _prefix_requests(provider: str, model: str) -> list[UsageRecord]:
    shared = ("s0", "s1", "s2", "s3")  # a 4-block (2048-token) system prompt
    return [
        UsageRecord(START + timedelta(minutes=i), provider, model, 3000, 100,
                    feature="assistant", prefix_blocks=(*shared, f"own-{i}"))
        for i in range(4)
    ]  # fmt: skip


def test_prompt_caching_on_openai_reprices_repeated_prefix_as_cached_input() -> None:
    (item,) = _recommendations(_prefix_requests("openai", "gpt-4o"), "prompt_caching")
    # requests 2..4 hit the 4 shared blocks: 3 x 2048 tokens become cache reads;
    # OpenAI has no cache-write surcharge, so writes cost the input price as before.
    hit_tokens = 3 * 2048
    saved = hit_tokens * (GPT_4O_IN - GPT_4O_CACHED)
    assert item["evidence"]["repeated_prefix_tokens"] == hit_tokens
    assert item["estimated_monthly_savings_usd"] == round(saved * ONE_HOUR_SCALE, 2)


def test_prompt_caching_on_anthropic_pays_for_cache_writes() -> None:
    records = _prefix_requests("anthropic", "claude-3-5-sonnet-20241022")
    (item,) = _recommendations(records, "prompt_caching")
    hit_tokens = 3 * 2048
    # first request writes its whole 5-block prefix (2560 tokens), the others their own block
    write_tokens = 2560 + 3 * 512
    saved = hit_tokens * (SONNET_IN - SONNET_READ) - write_tokens * (SONNET_WRITE - SONNET_IN)
    assert item["estimated_monthly_savings_usd"] == round(saved * ONE_HOUR_SCALE, 2)


def test_no_caching_recommendation_when_tokens_are_already_cached() -> None:
    records = _prefix_requests("openai", "gpt-4o")
    for record in records:
        record.cached_input_tokens = 1024
    assert _recommendations(records, "prompt_caching") == []


def test_latency_insensitive_feature_is_repriced_at_batch_prices() -> None:
    records = [
        UsageRecord(moment, "openai", "gpt-4o", 10_000, 1000, feature="nightly-report")
        for moment in _spread(10)
    ]
    (item,) = _recommendations(records, "batch")
    observed = 10 * (10_000 * GPT_4O_IN + 1000 * GPT_4O_OUT)  # $0.35
    saved = observed * 0.5  # the published 50% Batch API discount
    assert item["estimated_monthly_savings_usd"] == round(saved * TEN_DAYS_SCALE, 2)


def test_explicitly_named_feature_gets_batch_and_others_do_not() -> None:
    records = [
        UsageRecord(moment, "openai", "gpt-4o", 10_000, 1000, feature="chat")
        for moment in _spread(10)
    ]
    assert _recommendations(records, "batch") == []
    result = analyze(accumulate(records), latency_insensitive_features=["chat"]).to_json()
    assert [item["kind"] for item in result["recommendations"]] == ["batch"]
