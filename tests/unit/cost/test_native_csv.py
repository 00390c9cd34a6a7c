"""Native CSV read in Arrow blocks gives exactly what its careful row parser gives: same
cells, same end-user cells, same rejections with the same reasons and lines. Both feed the
one columnar accumulate; the row parser's records arrive as plain records. Also: the
vectorised repeat detector against a plain dictionary of last sightings."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from apex_core.cost import PriceBook, UsageRollup, accumulate, analyze, demo_records, read_usage
from apex_core.cost.columnar.detectors import LastSeen
from apex_core.cost.columnar.sums import sum_batches
from apex_core.cost.engine import native_csv_batches
from apex_core.cost.formats.native import COLUMNS
from apex_core.errors import ImportFailed

HEADER = ",".join(COLUMNS)


def _demo_rows() -> list[list[Any]]:
    records = demo_records("columnar", now=datetime(2025, 4, 1, tzinfo=UTC))
    return [
        [
            r.timestamp.isoformat(), r.provider, r.model, r.input_tokens, r.output_tokens,
            r.cached_input_tokens, r.cache_write_tokens, r.cache_write_1h_tokens,
            r.reasoning_tokens, r.requests, str(r.batch).lower(), r.service_tier, r.feature,
            r.end_user, "" if r.latency_ms is None else r.latency_ms,
            r.prompt_fingerprint or "", " ".join(r.prefix_blocks), r.block_tokens,
        ]
        for r in records
    ]  # fmt: skip


def _write(path: Path, rows: list[list[Any]], *, newline: str = "\n") -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle, lineterminator=newline)
        out.writerow(COLUMNS)
        out.writerows(rows)


def _columnar(path: Path, **limits: int) -> UsageRollup:
    """Arrow blocks, small blocks and detector batches, so both cross many boundaries."""
    result = read_usage(path)
    assert result.native_csv
    binary, context = result.take_binary()
    with result:
        batches = native_csv_batches(
            binary, context, threads=limits.pop("threads", 3),
            block_bytes=limits.pop("block_bytes", 4096),
        )  # fmt: skip
        rollup = sum_batches(batches, result.stats, detect_rows=limits.pop("detect_rows", 50))
    rollup.rows.merge(result.stats)
    return rollup


def _by_records(path: Path) -> UsageRollup:
    """The row parser's records, summed by the same engine."""
    result = read_usage(path)
    rollup = accumulate(iter(result))
    rollup.rows = result.stats
    return rollup


def _assert_same(fast: UsageRollup, slow: UsageRollup) -> None:
    assert fast.cells == slow.cells
    assert fast.user_cells == slow.user_cells
    assert (fast.first_seen, fast.last_seen, fast.daily_buckets) == (
        slow.first_seen, slow.last_seen, slow.daily_buckets,
    )  # fmt: skip
    assert fast.rows.to_json() == slow.rows.to_json()


def test_demo_month_reads_the_same_in_blocks_and_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    _write(path, _demo_rows())
    fast = _columnar(path)
    _assert_same(fast, _by_records(path))
    assert sum(cell.duplicate.requests for cell in fast.cells.values()) > 0, "duplicates found"
    assert sum(cell.prefix_hit_tokens for cell in fast.cells.values()) > 0, "prefix hits found"


def test_default_accumulate_reads_blocks_with_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    _write(path, _demo_rows(), newline="\r\n")
    for threads in (1, 2):
        _assert_same(accumulate(read_usage(path), threads=threads), _by_records(path))


ODD_ROWS = [
    # timestamps Arrow reads, and shapes only the row parser reads
    "2025-03-01 10:00:00,openai,gpt-4o,10,5",
    "2025-03-01,openai,gpt-4o,10,5",
    "2025-03-01T10:00:00+02:00,OpenAI,gpt-4o,10,5",
    "2025-03-01T10:00:00.1234567Z,openai,gpt-4o,10,5",
    "20250301T100000Z,openai,gpt-4o,10,5",
    "2025-02-30T00:00:00Z,openai,gpt-4o,10,5",
    "yesterday,openai,gpt-4o,10,5",
    # counts: signs, spaces, underscores, decimals, exponents, overflow
    "2025-03-01T00:00:00Z,openai,gpt-4o,+10,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o, 10,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,1_000,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10.0,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,1e3,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,99999999999999999999999,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,-1,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,20",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,0,0,0,9",
    # latency, batch, provider, blocks, block size
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,,,,nan",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,,,,2.5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,,,,3.5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,,,,-0",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,,,,1_0",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,TRUE",
    "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,yes",
    "2025-03-01T00:00:00Z,ÖpenAI,gpt-4o,10,5",
    "2025-03-01T00:00:00Z,,gpt-4o,10,5",
    "2025-03-01T00:00:00Z,openai,NA,10,5",
    "2025-03-01T00:00:00Z,openai,gpt-4o,5000,5,,,,,,,,,,,,a  b\tc,",
    "2025-03-01T00:00:00Z,openai,gpt-4o,5000,5,,,,,,,,,,,,a b c,0",
    "2025-03-01T00:00:00Z,openai,gpt-4o,5000,5,,,,,,,,,,,,a b c,-3",
    "2025-03-01T00:00:00Z,openai,gpt-4o,5000,5,,,,,,,,,,,fp-1,a b c,x",
    # a short row and a blank line
    "2025-03-01T00:00:00Z,openai",
    "",
]


@pytest.mark.parametrize("block_bytes", [1, 97, 2048, 1 << 20])
def test_odd_fields_are_read_or_rejected_exactly_as_the_row_parser_does(
    tmp_path: Path, block_bytes: int
) -> None:
    plain = [",".join(str(v) for v in row) for row in _demo_rows()[:300]]
    rng = random.Random(7)
    lines = plain + ODD_ROWS
    rng.shuffle(lines)
    path = tmp_path / "odd.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    fast, slow = _columnar(path, block_bytes=block_bytes), _by_records(path)
    _assert_same(fast, slow)
    assert fast.rows.rejected >= 10
    assert {r.line for r in fast.rows.examples} == {r.line for r in slow.rows.examples}


def test_quoted_fields_hand_the_rest_of_the_file_to_the_row_parser(tmp_path: Path) -> None:
    rows = _demo_rows()
    rows[400][12] = 'support, "tier 2"\nescalations'  # a quoted field with a newline
    rows[900][2] = "-5"  # a bad model name is fine; a bad count after the quote too:
    rows[900][3] = "-5"
    path = tmp_path / "quoted.csv"
    _write(path, rows)
    fast, slow = _columnar(path), _by_records(path)
    _assert_same(fast, slow)
    assert [r.line for r in fast.rows.examples] == [903]  # header + 900 rows + the newline


def test_a_file_that_stops_being_utf8_fails_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    plain = [",".join(str(v) for v in row) for row in _demo_rows()[:200]]
    body = (HEADER + "\n" + "\n".join(plain) + "\n").encode()
    path.write_bytes(
        body + "2025-03-01T00:00:00Z,openai,gpt-4o,10,5,,,,,,,Caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(ImportFailed, match=r"latin1.csv:202: not UTF-8"):
        _columnar(path, block_bytes=1 << 20)


def test_price_periods_shrink_end_user_cells_without_changing_any_cost(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    _write(path, _demo_rows())
    book = PriceBook()
    daily = accumulate(read_usage(path))
    periods = accumulate(read_usage(path), user_periods=book.price_periods)
    by_records = accumulate(list(read_usage(path)), user_periods=book.price_periods)
    assert len(periods.user_cells) < len(daily.user_cells) / 3
    assert periods.user_cells == by_records.user_cells
    assert analyze(periods, prices=book).to_json() == analyze(daily, prices=book).to_json()


def _stream(
    rng: random.Random, count: int, ids: int, order: str
) -> tuple[list[tuple[str, str]], list[int]]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    keys = [(f"p{rng.randrange(2)}", f"id{rng.randrange(ids)}") for _ in range(count)]
    moments = [
        int((start + timedelta(seconds=rng.randrange(0, 4000))).timestamp() * 1e6)
        for _ in range(count)
    ]
    if order != "random":
        moments.sort()
    if order == "back in time":  # in order, then a stretch from the start again
        moments[2000:2200] = moments[:200]
    return keys, moments


@pytest.mark.parametrize("order", ["random", "in order", "back in time"])
@pytest.mark.parametrize("seed", range(4))
def test_last_seen_finds_what_a_dictionary_of_last_sightings_finds_in_any_order_and_batching(
    seed: int, order: str
) -> None:
    rng = random.Random(seed)
    keys, moments = _stream(rng, 3000, 400, order)
    last: dict[tuple[str, str], int] = {}
    expected = []
    for key, moment in zip(keys, moments, strict=True):
        before = last.get(key)
        expected.append(before is not None and abs(moment - before) <= 300_000_000)
        last[key] = moment
    columns = LastSeen(capacity=10_000)
    found: list[bool] = []
    position = 0
    while position < len(keys):
        size = rng.randrange(1, 500)
        batch = slice(position, position + size)
        scopes = np.array([int(k[0][1:]) for k in keys[batch]], dtype=np.int64)
        names = pa.array([k[1] for k in keys[batch]])
        found.extend(columns.hits(scopes, names, np.array(moments[batch]), 300_000_000).tolist())
        position += size
    assert found == expected
    assert sum(expected) > 100


def test_last_seen_keeps_the_most_recently_seen_ids_when_full() -> None:
    seen = LastSeen(capacity=2)
    scopes = np.zeros(3, dtype=np.int64)
    seen.hits(scopes, pa.array(["a", "b", "c"]), np.array([0, 1, 2]), 10)
    again = seen.hits(scopes, pa.array(["a", "b", "c"]), np.array([3, 4, 5]), 10)
    assert again.tolist() == [False, True, True]  # "a" was forgotten first
    assert len(seen) == 2


def test_blocks_of_one_line_each_still_agree(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    _write(path, _demo_rows()[:60])
    _assert_same(_columnar(path, block_bytes=1, detect_rows=1, threads=2), _by_records(path))


def test_stream_sources_read_like_paths() -> None:
    body = HEADER + "\n" + "\n".join(",".join(str(v) for v in row) for row in _demo_rows()[:500])
    from_bytes = accumulate(read_usage(body.encode(), source_name="upload.csv"))
    from_stream = accumulate(read_usage(io.BytesIO(body.encode()), source_name="upload.csv"))
    assert from_bytes.cells == from_stream.cells
    assert from_bytes.rows.imported == 500


def test_features_and_end_users_past_the_caps_fold_into_other_in_first_seen_order(
    tmp_path: Path,
) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows = [
        [(start + timedelta(seconds=i)).isoformat(), "openai", "gpt-4o", 100 + i, 10]
        + [""] * 7 + [f"feature-{i % 700}", f"user-{(i * 7919) % 2300}"] + [""] * 4
        for i in range(3000)
    ]  # fmt: skip
    path = tmp_path / "many.csv"
    _write(path, rows)
    fast, slow = _columnar(path, block_bytes=8192), _by_records(path)
    _assert_same(fast, slow)
    assert {key.feature for key in fast.cells} >= {"(other)", "feature-0", "feature-499"}
    assert len({key.end_user for key in fast.user_cells}) == 2001
