"""Malformed inputs are reported with file, line and reason; nothing is dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from apex_core.cost import UnknownUsageFormat, accumulate, read_usage
from apex_core.errors import ImportFailed
from tests.unit.cost.conftest import fixture
from tests.usage_fixtures import MALFORMED_NATIVE_REJECTIONS, MALFORMED_NATIVE_ROWS


def test_bad_number_missing_column_and_negative_tokens_are_rejected_by_line() -> None:
    path = fixture("native_malformed.csv")
    result = read_usage(path)
    records = list(result)
    assert [r.line for r in records] == [2, 6]
    stats = result.stats
    assert {k: v for k, v in stats.to_json().items() if k != "examples"} == MALFORMED_NATIVE_ROWS
    assert [(r.line, r.reason) for r in stats.examples] == MALFORMED_NATIVE_REJECTIONS
    assert "'12x'" in stats.examples[0].detail
    assert stats.examples[0].describe().startswith(f"{path}:3: bad number in input_tokens")


def test_truncated_jsonl_line_is_rejected_and_the_rest_imported() -> None:
    result = read_usage(fixture("native_truncated.jsonl"))
    records = list(result)
    assert [r.input_tokens for r in records] == [1000, 3000]
    (rejection,) = result.stats.examples
    assert (rejection.line, rejection.reason) == (2, "invalid JSON")


def test_truncated_json_document_fails_the_file_with_its_line() -> None:
    path = fixture("openai_usage_truncated.json")
    result = read_usage(path)
    with pytest.raises(ImportFailed, match=rf"{path}:\d+: invalid JSON .*truncated"):
        list(result)


def test_missing_required_header_column_fails_the_file_at_line_1(tmp_path: object) -> None:
    data = b"timestamp,provider,model,input_tokens\n2025-03-01T00:00:00Z,openai,gpt-4o,10\n"
    with pytest.raises(ImportFailed, match=r"upload.csv:1: missing column\(s\) output_tokens"):
        list(read_usage(data, format="native", source_name="upload.csv"))


def test_cached_tokens_above_input_are_rejected() -> None:
    data = (
        b"timestamp,provider,model,input_tokens,cached_input_tokens,output_tokens\n"
        b"2025-03-01T00:00:00Z,openai,gpt-4o,10,20,1\n"
    )
    result = read_usage(data, source_name="u.csv")
    assert list(result) == []
    assert result.stats.examples[0].reason == "cached tokens exceed input_tokens"
    assert result.stats.examples[0].line == 2


def test_unknown_format_says_what_was_expected() -> None:
    with pytest.raises(UnknownUsageFormat, match=r"unrecognised CSV header.*--format"):
        read_usage(fixture("unknown_format.csv"))


def test_unreadable_path_is_an_import_failure() -> None:
    with pytest.raises(ImportFailed, match="cannot read usage file"):
        read_usage(fixture("does-not-exist.csv"))


def test_non_finite_latency_is_rejected_on_both_native_paths(tmp_path: Path) -> None:
    """inf/nan latencies were once taken by the fused CSV path and crashed the roll-up."""
    rows = [
        "timestamp,provider,model,input_tokens,output_tokens,latency_ms",
        "2025-01-01T00:00:00Z,openai,gpt-4o,10,5,inf",
        "2025-01-01T00:00:01Z,openai,gpt-4o,10,5,nan",
        "2025-01-01T00:00:02Z,openai,gpt-4o,10,5,-1e400",
        "2025-01-01T00:00:03Z,openai,gpt-4o,10,5,12.5",
    ]
    path = tmp_path / "latency.csv"
    path.write_text("\n".join(rows) + "\n")
    for source in (path, path.read_bytes()):
        rollup = accumulate(read_usage(source, source_name="latency.csv"))
        assert (rollup.rows.read, rollup.rows.imported, rollup.rows.rejected) == (4, 1, 3)
        lines = sorted(example.line for example in rollup.rows.examples)
        assert lines == [2, 3, 4]
