"""Reading a native CSV on several cores gives the same roll-up and exact line numbers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apex_core.cost import accumulate, read_usage
from apex_core.cost.parallel import accumulate_native_csv, line_ranges


def _write_usage(path: Path, rows: int, bad_lines: set[int]) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    lines = ["timestamp,provider,model,input_tokens,output_tokens,feature,end_user"]
    for i in range(rows):
        line_number = i + 2
        tokens = "oops" if line_number in bad_lines else str(100 + i % 900)
        moment = (start + timedelta(minutes=i)).isoformat()
        lines.append(f"{moment},openai,gpt-4o,{tokens},{i % 300},f{i % 4},u{i % 9}")
    path.write_text("\n".join(lines) + "\n")


def test_ranges_cover_the_file_at_line_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    _write_usage(path, 1000, set())
    header, spans = line_ranges(str(path), 3)
    data = path.read_bytes()
    assert header == data[: data.index(b"\n") + 1]
    assert spans[0][0] == len(header)
    assert spans[-1][1] == len(data)
    for (_, end, _), (start, _, before) in itertools.pairwise(spans):
        assert end == start
        assert data[start - 1 : start] == b"\n"
        assert before == data[:start].count(b"\n")


def test_parallel_roll_up_equals_the_sequential_one(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    bad = {5, 2500, 3999}
    _write_usage(path, 4000, bad)
    sequential = accumulate(read_usage(path))
    parallel = accumulate_native_csv(str(path), jobs=2)
    assert parallel.cells == sequential.cells
    assert parallel.user_cells == sequential.user_cells
    assert (parallel.rows.read, parallel.rows.rejected) == (4000, 3)
    assert sorted(rejection.line for rejection in parallel.rows.examples) == sorted(bad)
