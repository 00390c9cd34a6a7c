"""``apex analyze`` run as a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.cost.conftest import REPO_ROOT, fixture, shared_trace


def _apex(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apex_cli.main", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_json_output_has_the_documented_shape_and_hand_checked_total() -> None:
    done = _apex("analyze", str(fixture("openai_usage_completions.json")), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # gpt-4o day 1: 0.6M x 2.50 + 0.4M x 1.25 + 0.1M x 10 = 3.00; mini: 2M x 0.15 + 0.5M x 0.60
    # = 0.60; gpt-4o batch day 2: (0.5M x 2.50 + 0.05M x 10) x 50% = 0.875
    assert result["total_cost_usd"] == pytest.approx(3.00 + 0.60 + 0.875)
    assert set(result) >= {
        "total_cost_usd",
        "by_day",
        "by_model",
        "recommendations",
        "unpriced",
        "rows",
    }
    assert set(result["by_day"][0]) >= {"date", "cost_usd"}
    assert set(result["by_model"][0]) >= {
        "provider", "model", "requests", "input_tokens", "cached_input_tokens", "output_tokens",
        "cost_usd",
    }  # fmt: skip
    assert result["rows"]["read"] == 3
    assert result["rows"]["rejected"] == 0
    assert set(result["rows"]) >= {"read", "imported", "rejected", "reasons"}


def test_markdown_report_of_a_real_trace_priced_with_a_mapping() -> None:
    path = shared_trace("burstgpt/BurstGPT_1_first400.csv")
    mapping = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    published = {"ChatGPT": (0.50, 1.50), "GPT-4": (30.00, 60.00)}  # USD per 1M in / out
    expected = sum(
        int(row["Request tokens"]) * published[row["Model"]][0] / 1e6
        + int(row["Response tokens"]) * published[row["Model"]][1] / 1e6
        for row in rows
    )
    done = _apex("analyze", str(path), "--model", mapping, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_cost_usd"] == pytest.approx(expected, abs=1e-5)
    markdown = _apex("analyze", str(path), "--model", mapping)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# AI cost analysis")
    assert "| Provider | Model | Requests |" in markdown.stdout
    assert "| # | Change | Saved (observed) | Saves / month (x" in markdown.stdout


def test_rejected_rows_are_reported_with_file_and_line() -> None:
    path = fixture("native_malformed.csv")
    done = _apex("analyze", str(path), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert (rows["read"], rows["imported"], rows["rejected"]) == (5, 2, 3)
    assert [(e["line"], e["reason"]) for e in rows["examples"]] == [
        (3, "bad number in input_tokens"), (4, "missing column"), (5, "negative input_tokens"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["analyze"],
        ["analyze", "x.csv", "--format", "excel"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2_with_usage(args: list[str]) -> None:
    done = _apex(*args)
    assert done.returncode == 2
    assert "usage: apex" in done.stderr


def test_missing_file_and_directory_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    missing = _apex("analyze", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert f"{tmp_path / 'nope.csv'}: no such file" in missing.stderr
    directory = _apex("analyze", str(tmp_path))
    assert directory.returncode == 2
    assert "is a directory" in directory.stderr


def test_trace_without_model_and_bad_mapping_exit_2() -> None:
    path = str(shared_trace("azure_llm_2023/AzureLLMInferenceTrace_conv.csv"))
    no_model = _apex("analyze", path)
    assert no_model.returncode == 2
    assert "--model openai:gpt-4o-mini" in no_model.stderr
    bad = _apex("analyze", path, "--model", "gpt-4o")
    assert bad.returncode == 2
    assert "provider:model" in bad.stderr


def test_unrecognised_file_exits_1_saying_what_was_expected() -> None:
    done = _apex("analyze", str(fixture("unknown_format.csv")))
    assert done.returncode == 1
    assert "unrecognised CSV header" in done.stderr
    assert "--format" in done.stderr


def test_a_large_file_shows_a_progress_bar_on_a_terminal_and_none_in_a_pipe(
    tmp_path: Path,
) -> None:
    path = tmp_path / "large.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["timestamp", "provider", "model", "input_tokens", "output_tokens",
                      "feature", "end_user"])  # fmt: skip
        for i in range(140_000):  # ~9.3 MB: over the 8 MiB progress threshold
            out.writerow([f"2025-03-01T{i % 24:02d}:00:00Z", "openai", "gpt-4o-mini",
                          1000 + i % 7, 50, f"feature-{i % 5}", f"user-{i % 40}"])  # fmt: skip
    assert path.stat().st_size > 8 * 1024 * 1024
    main, child = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "apex_cli.main", "analyze", str(path), "--json"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=child, timeout=120, check=False,
        )  # fmt: skip
        os.close(child)
        terminal = _drain(main)
    finally:
        os.close(main)
    assert done.returncode == 0
    assert json.loads(done.stdout)["rows"]["imported"] == 140_000
    assert "MB" in terminal, f"no progress bar on the terminal: {terminal!r}"
    piped = _apex("analyze", str(path), "--json")
    assert piped.returncode == 0
    assert piped.stderr == ""


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")
