"""Each importer on vendor-format samples and on the real third-party traces."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pytest

from apex_core.cost import BadModelMapping, UsageRecord, accumulate, read_usage
from tests.unit.cost.conftest import fixture, shared_trace

BURST_MAPPING = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"


def test_openai_usage_json_keeps_input_total_including_cached() -> None:
    result = read_usage(fixture("openai_usage_completions.json"))
    records = list(result)
    assert result.format == "openai-usage"
    assert [(r.model, r.input_tokens, r.cached_input_tokens, r.output_tokens, r.requests, r.batch)
            for r in records] == [
        ("gpt-4o-2024-08-06", 1_000_000, 400_000, 100_000, 100, False),
        ("gpt-4o-mini-2024-07-18", 2_000_000, 0, 500_000, 400, False),
        ("gpt-4o-2024-08-06", 500_000, 0, 50_000, 50, True),
    ]  # fmt: skip
    assert records[0].timestamp == datetime(2025, 3, 1, tzinfo=UTC)
    assert records[0].feature == "proj_support"
    assert records[1].end_user == "user_abc"
    assert result.stats.read == 3
    assert result.stats.rejected == 0


def test_openai_dashboard_csv_matches_the_api_json() -> None:
    from_json = list(read_usage(fixture("openai_usage_completions.json")))
    from_csv = list(read_usage(fixture("openai_usage_completions.csv")))
    fields = ("timestamp", "model", "input_tokens", "cached_input_tokens", "output_tokens",
              "requests", "batch", "feature")  # fmt: skip
    assert [tuple(getattr(r, f) for f in fields) for r in from_csv] == [
        tuple(getattr(r, f) for f in fields) for r in from_json
    ]


def test_anthropic_report_adds_cache_reads_and_writes_to_input_total() -> None:
    result = read_usage(fixture("anthropic_usage_report.json"))
    sonnet, haiku = list(result)
    assert result.format == "anthropic-usage"
    # uncached 1,000,000 + cache read 2,000,000 + writes 400,000 (5m) + 100,000 (1h)
    assert sonnet.input_tokens == 3_500_000
    assert sonnet.cached_input_tokens == 2_000_000
    assert (sonnet.cache_write_tokens, sonnet.cache_write_1h_tokens) == (500_000, 100_000)
    assert sonnet.requests == 0  # the report has no request count
    assert haiku.batch is True
    assert haiku.input_tokens == 1_000_000


def test_anthropic_console_csv_reads_console_column_names() -> None:
    (record,) = list(read_usage(fixture("anthropic_console_usage.csv")))
    assert record.model == "claude-3-5-sonnet-20241022"
    assert record.input_tokens == 3_500_000
    assert record.cached_input_tokens == 2_000_000
    assert record.cache_write_1h_tokens == 100_000


def test_otel_spans_keep_model_calls_and_skip_agent_and_http_spans() -> None:
    result = read_usage(fixture("otel_genai_spans.json"))
    records = list(result)
    assert result.format == "otel"
    assert [(r.provider, r.model, r.input_tokens, r.cached_input_tokens, r.cache_write_tokens)
            for r in records] == [
        ("openai", "gpt-4o-2024-08-06", 10_000, 4_000, 0),
        ("anthropic", "claude-3-5-sonnet-20241022", 10_000, 6_000, 2_000),
    ]  # fmt: skip
    assert records[0].latency_ms == pytest.approx(1500.0)
    assert records[0].end_user == "user-7"
    assert any("2 span(s) skipped" in note for note in result.notes)


def test_native_csv_and_jsonl_give_the_same_records() -> None:
    from_csv = list(read_usage(fixture("native_valid.csv")))
    from_jsonl = list(read_usage(fixture("native_valid.jsonl")))

    def key(r: UsageRecord) -> tuple[object, ...]:
        return (r.timestamp, r.provider, r.model, r.input_tokens, r.cached_input_tokens,
                r.cache_write_tokens, r.output_tokens, r.feature, r.end_user)  # fmt: skip

    assert [key(r) for r in from_csv] == [key(r) for r in from_jsonl]
    assert from_jsonl[1].prefix_blocks == ("a", "b")


def test_azure_trace_rows_and_token_sums_match_an_independent_read() -> None:
    path = shared_trace("azure_llm_2023/AzureLLMInferenceTrace_code.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = read_usage(path, model_mapping="openai:gpt-4o-mini")
    records = list(result)
    assert len(records) == len(rows) == 8819
    assert sum(r.input_tokens for r in records) == sum(int(row["ContextTokens"]) for row in rows)
    assert sum(r.output_tokens for r in records) == sum(int(row["GeneratedTokens"]) for row in rows)
    assert {(r.provider, r.model) for r in records} == {("openai", "gpt-4o-mini")}
    assert records[0].timestamp.date().isoformat() == "2023-11-16"
    assert any("priced as openai:gpt-4o-mini" in note for note in result.notes)


def test_mooncake_hash_ids_become_prefix_blocks() -> None:
    path = shared_trace("mooncake/conversation_trace.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records = list(read_usage(path, model_mapping="openai:gpt-4o"))
    assert len(records) == len(lines) == 12031
    assert records[1].prefix_blocks == tuple(str(block) for block in lines[1]["hash_ids"])
    assert sum(r.input_tokens for r in records) == sum(line["input_length"] for line in lines)


@pytest.mark.parametrize("name", ["BurstGPT_1_first400.csv", "BurstGPT_3_first400.csv"])
def test_burstgpt_maps_chatgpt_and_gpt4_by_name(name: str) -> None:
    path = shared_trace(f"burstgpt/{name}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = list(read_usage(path, model_mapping=BURST_MAPPING))
    assert len(records) == len(rows) == 400
    expected = {"ChatGPT": "gpt-3.5-turbo", "GPT-4": "gpt-4"}
    assert [r.model for r in records] == [expected[row["Model"]] for row in rows]
    assert [r.input_tokens for r in records] == [int(row["Request tokens"]) for row in rows]


def test_a_trace_without_a_model_mapping_fails_with_what_to_pass() -> None:
    path = shared_trace("mooncake/conversation_trace.jsonl")
    with pytest.raises(BadModelMapping, match="--model openai:gpt-4o-mini"):
        list(read_usage(path))


def test_uploaded_bytes_import_like_a_file() -> None:
    data = fixture("native_valid.csv").read_bytes()
    result = read_usage(data, source_name="upload.csv")
    records = list(result)
    assert len(records) == 2
    assert records[0].source == "upload.csv"


def test_a_trace_started_at_a_local_time_is_rolled_up_by_utc_day() -> None:
    # 00:30 at +02:00 is 22:30 UTC the day before: roll-up days are UTC days, as for
    # every other format (the first BurstGPT request is 5 s after the trace start)
    start = datetime.fromisoformat("2025-01-01T00:30:00+02:00")
    path = shared_trace("burstgpt/BurstGPT_1_first400.csv")
    rollup = accumulate(read_usage(path, model_mapping=BURST_MAPPING, trace_start=start))
    assert rollup.first_seen == datetime(2024, 12, 31, 22, 30, 5, tzinfo=UTC)
    assert rollup.first_day == "2024-12-31"
    days = {key.day for key in rollup.cells}
    assert days == {"2024-12-31", "2025-01-01"}
    assert rollup.usage.requests == 400
