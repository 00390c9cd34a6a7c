"""Arrow's reading of a plain block: typed columns and the mask of plainly valid rows.

A block without quotes has one row per line. Arrow parses it (typed, or as
text and cast when a field has another shape), and the row parser's own rules
(:func:`~apex_core.cost.model.records.counts_hold`, the native format's plain
batch flags and latencies) run over whole columns; the rows that are not plainly valid go to
:mod:`row_parse` with their line, so both readers agree row for row. Arrow's
null markers are off: ``NA`` is a model name and ``nan`` a bad latency.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from apex_core.cost.columnar.row_parse import parse_rows
from apex_core.cost.columnar.table import CANONICAL, COUNTS, Block, BlockRows, NativeLayout
from apex_core.cost.formats.context import ImportContext
from apex_core.cost.formats.native import BATCH_TEXT, BATCH_TRUE, COLUMNS, plain_latency
from apex_core.cost.model.records import PREFIX_BLOCK_TOKENS, counts_hold

Bools = np.ndarray[Any, np.dtype[np.bool_]]
Ints = np.ndarray[Any, np.dtype[np.int64]]

_TYPES: Final = {
    **dict.fromkeys((*COUNTS, "block_tokens"), pa.int64()),
    "latency_ms": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
"""What a well-formed block reads as; a block that does not is read as text and cast."""
_TRUE_BATCH_TEXT: Final = pa.array(BATCH_TRUE)
_BATCH_TEXT: Final = pa.array(BATCH_TEXT)
_BLOCK_IDS: Final = r"^[!-~]+( [!-~]+)*$"
"""Prefix block ids the fast path splits itself: printable ASCII separated by single spaces."""


def arrow_rows(block: Block, layout: NativeLayout, context: ImportContext) -> BlockRows:
    """Arrow's rows of a plain block: one per line, as blank lines raise ArrowInvalid."""
    wanted = {name: layout.position(name) for name in COLUMNS}
    present = {name: f"f{pos}" for name, pos in wanted.items() if pos is not None}
    try:
        table = _read(block.data, {present[n]: _TYPES.get(n, pa.string()) for n in present})
    except pa.ArrowInvalid:  # a field of another shape: read text, cast, sort rows out below
        table = _read(block.data, dict.fromkeys(present.values(), pa.string()))
    rows = table.num_rows
    columns = {name: table.column(present[name]) for name in present}
    valid, values = _typed(columns, rows)
    order = np.arange(block.base + 1, block.base + 1 + rows, dtype=np.int64)
    accepted = pa.table({"order": order, **values}, schema=CANONICAL)
    if valid.all():
        return BlockRows(accepted, rows, lines=rows)
    accepted = accepted.filter(valid)
    bad = np.flatnonzero(~valid)
    texts = _line_texts(block.data, bad)
    parsed = ((int(i) + 1, text) for i, text in zip(bad, texts, strict=True))
    result = next(parse_rows(parsed, layout, context, base=block.base, batch_rows=None))
    result.read = result.lines = rows
    result.table = pa.concat_tables([accepted, result.table]).sort_by("order")
    return result


def _read(data: bytes, types: dict[str, pa.DataType]) -> pa.Table:
    return pa_csv.read_csv(
        pa.py_buffer(data),
        read_options=pa_csv.ReadOptions(
            autogenerate_column_names=True, use_threads=False, block_size=len(data) + 1
        ),
        parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            include_columns=list(types), column_types=types, null_values=[""],
            strings_can_be_null=True,
        ),
    )  # fmt: skip


def _typed(columns: dict[str, Any], rows: int) -> tuple[Bools, dict[str, Any]]:
    """Cast the columns; the mask of rows both readers take as plainly valid."""
    empty = pa.nulls(rows, pa.string())
    text = {name: columns.get(name, empty) for name in COLUMNS}
    ts = _timestamps(text["timestamp"])
    provider = text["provider"]
    batch = pc.fill_null(text["batch"], "")
    blocks = text["prefix_blocks"]
    valid = _mask(pc.is_valid(ts)) & _mask(pc.is_valid(text["model"]))
    valid &= _mask(pc.string_is_ascii(provider))
    valid &= _mask(pc.is_in(batch, value_set=_BATCH_TEXT))
    if blocks.null_count < rows:
        valid &= _mask(
            pc.or_kleene(pc.is_null(blocks), pc.match_substring_regex(blocks, _BLOCK_IDS))
        )
    counts: dict[str, Ints] = {}
    for name in (*COUNTS, "block_tokens"):
        column = pc.cast(text[name], pa.int64())
        if name in ("input_tokens", "output_tokens"):
            valid &= _mask(pc.is_valid(column))
        default = {"requests": 1, "block_tokens": PREFIX_BLOCK_TOKENS}.get(name, 0)
        counts[name] = pc.fill_null(column, default).to_numpy()
    valid &= counts_hold(SimpleNamespace(**counts))
    valid &= counts["block_tokens"] > 0
    latency = pc.cast(text["latency_ms"], pa.float64())
    no_latency = _mask(pc.is_null(latency))
    milliseconds = latency.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        finite = plain_latency(milliseconds)
    valid &= no_latency | finite
    rounded = np.rint(np.where(finite, milliseconds, 0)).astype(np.int64)
    values = {
        "ts": ts,
        "provider": pc.ascii_lower(pc.fill_null(provider, "")),
        "model": text["model"],
        **{name: pc.fill_null(text[name], "") for name in ("feature", "end_user", "service_tier")},
        "batch": pc.is_in(batch, value_set=_TRUE_BATCH_TEXT),
        **counts,
        "latency_ms": pa.array(rounded, mask=no_latency),
        "prompt_fingerprint": text["prompt_fingerprint"],
        "prefix_blocks": blocks,
    }
    return valid, values


def _mask(values: pa.ChunkedArray | pa.Array) -> Bools:
    """A boolean column as a NumPy mask, null as False."""
    mask: Bools = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
    return mask


def _timestamps(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC microseconds; zone-less times are UTC (as the row parser reads them)."""
    try:
        moments = pc.cast(text, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        moments = pc.cast(text, pa.timestamp("us"))  # ArrowInvalid again: the row parser's turn
    return pc.cast(moments, pa.int64())


def _line_texts(data: bytes, rows: np.ndarray[Any, Any]) -> list[str]:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(data)]))
    return [data[starts[i] : ends[i]].rstrip(b"\r").decode("utf-8") for i in rows]
