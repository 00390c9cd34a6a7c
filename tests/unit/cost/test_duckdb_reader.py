"""The DuckDB reader gives exactly the Python reader's roll-up, row stats and rejections."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apex_core.cost import accumulate, demo_records, read_usage
from apex_core.cost.duckdb_reader import NotExact, accumulate_native_duckdb, plain_csv_problem
from apex_core.cost.native_format import COLUMNS
from tests.unit.cost.conftest import REPO_ROOT, fixture

BENCH_HEADER = [
    "timestamp", "provider", "model", "input_tokens", "cached_input_tokens", "cache_write_tokens",
    "output_tokens", "requests", "batch", "service_tier", "feature", "end_user", "latency_ms",
    "prompt_fingerprint", "prefix_blocks",
]  # fmt: skip


def _python(path: Path) -> dict[str, Any]:
    return accumulate(read_usage(path)).to_json()


def _duckdb(path: Path) -> dict[str, Any]:
    return accumulate_native_duckdb(str(path)).to_json()


def _same(path: Path) -> dict[str, Any]:
    expected = _python(path)
    assert _duckdb(path) == expected
    return expected


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def _bench_rows(count: int, seed: int = 42) -> list[list[Any]]:
    """The rows scripts/bench generates (every column feature), denser in repeats."""
    rng = random.Random(seed)
    models = [("openai", "gpt-4o"), ("OpenAI", "gpt-4o-mini"), ("anthropic", "claude-3-5-sonnet-20241022"),
              ("google", "gemini-1.5-flash")]  # fmt: skip
    features = ["support-chat", "ticket-classifier", "nightly-report", "faq-bot"]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        provider, model = models[rng.randrange(len(models))]
        feature = features[rng.randrange(len(features))]
        inp = rng.randrange(200, 8000)
        cached = inp // 2 if rng.random() < 0.2 else 0
        fp = f"q{rng.randrange(40)}" if feature == "faq-bot" else ""
        blocks = f"sys0 sys1 sys2 c{i % 7}" if feature == "support-chat" else ""
        moment = start + timedelta(seconds=37 * i + rng.random())
        rows.append([
            moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), provider, model, inp, cached, 0,
            rng.randrange(1, 1500), rng.choice([1, 1, 2, 0]), rng.choice(["false", "true", "", "1"]),
            rng.choice(["", "flex"]), feature, f"user-{rng.randrange(30)}",
            rng.choice(["", rng.randrange(200, 9000), f"{rng.randrange(200, 9000)}.5"]), fp, blocks,
        ])  # fmt: skip
    return rows


def test_generated_file_with_every_column_feature(tmp_path: Path) -> None:
    expected = _same(_write(tmp_path / "bench.csv", BENCH_HEADER, _bench_rows(3000)))
    cells = expected["cells"]
    assert sum(row[6 + 14] for row in cells) > 0  # duplicates were found
    assert sum(row[6 + 25] for row in cells) > 0  # prefix hits were found


def test_malformed_fixture_rejections_match(tmp_path: Path) -> None:
    expected = _same(fixture("native_malformed.csv"))
    assert expected["rows"]["rejected"] == 3
    assert [e["line"] for e in expected["rows"]["examples"]] == [3, 4, 5]


MALFORMED = [
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "10", "5", "20", "1"],  # cached > input
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "12x", "5", "", ""],  # bad number
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "-5", "5", "", ""],  # negative
    ["", "openai", "gpt-4o", "10", "5", "", ""],  # missing timestamp
    ["2025-02-30T00:00:00Z", "openai", "gpt-4o", "10", "5", "", ""],  # bad timestamp
    ["yesterday", "openai", "gpt-4o", "10", "5", "", ""],  # bad timestamp
    ["2025-03-01T00:00:00Z", "", "gpt-4o", "10", "5", "", ""],  # missing provider
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "10"],  # short row
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "10", "5", "", "", "extra"],  # extra field
    # (the Python reader reads an extra field as the first absent column: cache_write_tokens)
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "10", "5", "", "maybe"],  # bad boolean
    ["2025-03-01T10:00:00+05:30", "openai", "gpt-4o", "10", "5", "", "true"],  # offset: ok
    ["2025-03-02", "OPENAI", "gpt-4o", "10", "5", "0", "0"],  # date only: ok
    ["2025-03-01T00:00:00Z", "openai", "gpt-4o", "10", "5", "-1", ""],  # negative cached
]


def test_malformed_samples_match(tmp_path: Path) -> None:
    header = ["timestamp", "provider", "model", "input_tokens", "output_tokens",
              "cached_input_tokens", "batch"]  # fmt: skip
    expected = _same(_write(tmp_path / "bad.csv", header, MALFORMED))
    assert expected["rows"]["imported"] == 2
    assert expected["rows"]["reasons"]["bad number in cache_write_tokens"] == 1


def test_demo_dataset_as_native_csv(tmp_path: Path) -> None:
    records = list(demo_records("duckdb", now=datetime(2025, 4, 1, tzinfo=UTC)))
    rows = [
        [r.timestamp.isoformat(), r.provider, r.model, r.input_tokens, r.output_tokens,
         r.cached_input_tokens, r.cache_write_tokens, r.cache_write_1h_tokens,
         r.reasoning_tokens, r.requests, str(r.batch).lower(), r.service_tier, r.feature,
         r.end_user, "" if r.latency_ms is None else r.latency_ms,
         r.prompt_fingerprint or "", " ".join(r.prefix_blocks), r.block_tokens]
        for r in records
    ]  # fmt: skip
    expected = _same(_write(tmp_path / "demo.csv", list(COLUMNS), rows))
    assert expected["rows"]["imported"] == len(records)


def test_valid_row_outside_the_canonical_forms_is_left_to_python(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "odd.csv",
        ["timestamp", "provider", "model", "input_tokens", "output_tokens"],
        [["2025-03-01T00:00:00Z", "openai", "gpt-4o", "007", "5"]],
    )
    with pytest.raises(NotExact, match=r"odd.csv:2: a valid row"):
        accumulate_native_duckdb(str(path))


def test_files_csv_reader_would_split_differently_are_left_to_python(tmp_path: Path) -> None:
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('timestamp,provider,model,input_tokens,output_tokens\n"2025-03-01",o,m,1,1\n')
    blank = tmp_path / "blank.csv"
    blank.write_text("timestamp,provider,model,input_tokens,output_tokens\n\n2025-03-01,o,m,1,1\n")
    assert plain_csv_problem(str(quoted)) == "it has quoted fields"
    assert plain_csv_problem(str(blank)) == "it has blank lines"
    with pytest.raises(NotExact):
        accumulate_native_duckdb(str(quoted))


def _apex(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apex_cli.main", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("reader", ["auto", "duckdb", "python"])
def test_reader_choices_through_the_cli(tmp_path: Path, reader: str) -> None:
    path = _write(tmp_path / "bench.csv", BENCH_HEADER, _bench_rows(400))
    done = _apex("analyze", str(path), "--json", "--no-progress", "--reader", reader)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    used = "duckdb" if reader == "duckdb" else "python"  # auto: small files stay on python
    assert f"{path}: read with the {used} reader" in result["notes"]
    reference = _apex("analyze", str(path), "--json", "--no-progress", "--reader", "python")
    expected = json.loads(reference.stdout)
    assert {k: v for k, v in result.items() if k != "notes"} == {
        k: v for k, v in expected.items() if k != "notes"
    }


def test_reader_duckdb_refuses_a_file_that_is_not_native_csv() -> None:
    done = _apex("analyze", str(fixture("openai_usage_completions.json")), "--reader", "duckdb")
    assert done.returncode == 2
    assert "--reader duckdb" in done.stderr
