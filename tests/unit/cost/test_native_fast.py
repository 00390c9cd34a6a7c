"""The fused native-CSV path gives exactly what iterating the records gives."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from apex_core.cost import accumulate, demo_records, read_usage
from apex_core.cost.native_format import COLUMNS


def _write_demo_csv(path: Path) -> int:
    records = list(demo_records("fast-path", now=datetime(2025, 4, 1, tzinfo=UTC)))
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for r in records:
            out.writerow([
                r.timestamp.isoformat(), r.provider, r.model, r.input_tokens, r.output_tokens,
                r.cached_input_tokens, r.cache_write_tokens, r.cache_write_1h_tokens,
                r.reasoning_tokens, r.requests, str(r.batch).lower(), r.service_tier, r.feature,
                r.end_user, "" if r.latency_ms is None else r.latency_ms,
                r.prompt_fingerprint or "", " ".join(r.prefix_blocks), r.block_tokens,
            ])  # fmt: skip
        out.writerow(["2025-03-02T00:00:00Z", "openai", "gpt-4o", "-1", "5"] + [""] * 13)
        out.writerow(["2025-03-02T00:00:00Z", "openai", "gpt-4o", "10"])
    return len(records)


def test_fused_and_record_paths_build_the_same_roll_up(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    count = _write_demo_csv(path)
    fused_result = read_usage(path)
    assert fused_result.native_csv
    fused = accumulate(fused_result)
    by_records = accumulate(list(read_usage(path)))
    assert fused.cells == by_records.cells
    assert fused.user_cells == by_records.user_cells
    assert (fused.first_seen, fused.last_seen) == (by_records.first_seen, by_records.last_seen)
    assert (fused.rows.read, fused.rows.imported, fused.rows.rejected) == (count + 2, count, 2)
    assert sorted(fused.rows.reasons) == ["missing column", "negative input_tokens"]
