"""Empty buckets (a period with no usage) are zero usage: counted, never rejected."""

from __future__ import annotations

import json

from apex_core.cost import UsageRollup, accumulate, analyze, read_usage, render_markdown
from tests.unit.cost.conftest import fixture


def test_openai_dashboard_csv_counts_a_day_without_usage_as_an_empty_bucket() -> None:
    result = read_usage(fixture("openai_usage_week.csv"))
    records = list(result)
    stats = result.stats
    assert (stats.read, stats.imported, stats.empty_buckets, stats.rejected) == (7, 6, 1, 0)
    assert stats.reasons == {}
    assert sorted({r.timestamp.date().isoformat() for r in records}) == [
        "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-09", "2025-10-10", "2025-10-11",
    ]  # fmt: skip


def test_a_row_with_usage_but_a_missing_count_is_still_rejected() -> None:
    text = fixture("openai_usage_week.csv").read_text()
    header, first, *_ = text.splitlines()
    broken = first.replace(",1000000,100000,", ",,100000,")
    result = read_usage(f"{header}\n{broken}\n".encode(), source_name="broken.csv")
    assert list(result) == []
    assert (result.stats.rejected, result.stats.empty_buckets) == (1, 0)
    assert result.stats.reasons == {"missing input_tokens": 1}


def _openai_page(results_of_day_two: list[dict[str, object]]) -> bytes:
    usage = {
        "object": "organization.usage.completions.result",
        "input_tokens": 1000, "output_tokens": 100, "num_model_requests": 2,
        "model": "gpt-4o-mini-2024-07-18", "project_id": "proj_a",
    }  # fmt: skip
    buckets = [
        {"object": "bucket", "start_time": 1759622400, "end_time": 1759708800, "results": [usage]},
        {"object": "bucket", "start_time": 1759708800, "end_time": 1759795200,
         "results": results_of_day_two},
    ]  # fmt: skip
    return json.dumps({"object": "page", "data": buckets, "has_more": False}).encode()


def test_openai_json_bucket_without_results_is_an_empty_bucket() -> None:
    result = read_usage(_openai_page([]), source_name="page.json")
    assert len(list(result)) == 1
    stats = result.stats
    assert (stats.read, stats.imported, stats.empty_buckets, stats.rejected) == (2, 1, 1, 0)


def test_openai_json_result_of_nulls_is_an_empty_bucket() -> None:
    nulls: dict[str, object] = {"object": "organization.usage.completions.result", "input_tokens": None,
             "output_tokens": None, "num_model_requests": None, "model": None}  # fmt: skip
    result = read_usage(_openai_page([nulls]), source_name="page.json")
    list(result)
    assert (result.stats.empty_buckets, result.stats.rejected) == (1, 0)


def test_anthropic_json_bucket_without_results_is_an_empty_bucket() -> None:
    report = json.loads(fixture("anthropic_usage_report.json").read_text())
    report["data"].append(
        {"starting_at": "2025-03-09T00:00:00Z", "ending_at": "2025-03-10T00:00:00Z", "results": []}
    )
    result = read_usage(json.dumps(report).encode(), source_name="report.json")
    records = list(result)
    assert result.stats.empty_buckets == 1
    assert result.stats.rejected == 0
    assert result.stats.imported == len(records) == result.stats.read - 1


def test_empty_buckets_reach_the_report_json_and_survive_a_rollup_round_trip() -> None:
    rollup = accumulate(read_usage(fixture("openai_usage_week.csv")))
    again = UsageRollup.from_json(json.loads(json.dumps(rollup.to_json())))
    rows = analyze(again).to_json()["rows"]
    assert (rows["read"], rows["imported"], rows["empty_buckets"], rows["rejected"]) == (7, 6, 1, 0)
    assert "7 read, 6 imported, 1 empty bucket (no usage), 0 rejected." in render_markdown(
        analyze(rollup)
    )
