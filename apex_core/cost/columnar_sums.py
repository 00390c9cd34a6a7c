"""Native CSV into a roll-up with Arrow group-bys: the engine's fast accumulate.

:mod:`native_blocks` turns the file into canonical tables, several blocks at
once on worker threads; each worker also sums its block into partial feature
and end-user cells (Arrow's hash group-by). The repeat detectors need stream
order, so this thread runs them block after block (:mod:`repeat_columns`) on
the few columns of the rows with a fingerprint or prefix blocks. Partial cells
are merged now and then, so memory depends on the number of cells, not rows.
The result is the roll-up the record-by-record path builds from the same
rows; a test holds the two to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apex_core.cost.context import ImportContext
from apex_core.cost.importing import ImportStats
from apex_core.cost.native_blocks import BlockRows, read_blocks, read_header
from apex_core.cost.repeat_columns import RepeatColumns
from apex_core.cost.rollup import (
    LATENCY_MAX_MS,
    MAX_END_USERS,
    MAX_FEATURES,
    OTHER,
    SHORT_OUTPUT_TOKENS,
    USAGE_FIELDS,
    USER_WIDTH,
    WIDTH,
    UsageRollup,
)

CELL_KEYS: Final = ("day", "provider", "model", "feature", "batch", "service_tier")
USER_KEYS: Final = ("day", "provider", "model", "end_user", "batch", "service_tier")
_DAY_MICROS: Final = 86_400_000_000
_USAGE: Final = USAGE_FIELDS
_COUNTERS: Final = tuple(f"c{index}" for index in range(WIDTH))
_USER_COUNTERS: Final = tuple(f"u{index}" for index in range(USER_WIDTH))
_NEVER: Final = np.iinfo(np.int64).max
DETECT_ROWS: Final = 1 << 18
"""Rows with a fingerprint or prefix blocks gathered before the detectors run on them."""
_MERGE_EVERY: Final = 32
"""Partial tables kept before they are merged into one (bounds memory on long files)."""
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


@dataclass(slots=True)
class BlockSums:
    """One block, summed: partial cells, the rows the detectors need, and its accounting."""

    cells: pa.Table
    users: pa.Table
    repeats: pa.Table
    first: int | None
    last: int | None
    daily: bool


def accumulate_native_csv(
    binary: BinaryIO,
    context: ImportContext,
    stats: ImportStats,
    *,
    threads: int,
    on_progress: Callable[[int], None] | None = None,
) -> UsageRollup:
    """Read a native CSV stream (positioned at its header) into a new roll-up.

    Rejected rows are counted in ``stats`` in file order; ``on_progress`` gets
    the bytes read so far after each block.
    """
    layout = read_header(binary, context)
    detectors = RepeatColumns()
    cells: list[pa.Table] = []
    users: list[pa.Table] = []
    first: int | None = None
    last: int | None = None
    daily = True
    waiting: list[pa.Table] = []
    waiting_rows = 0
    for summed, rows in read_blocks(binary, layout, context, sum_block, threads=threads):
        for rejection in rows.rejections:
            stats.add_rejection(rejection)
        stats.read += rows.read
        stats.imported += rows.table.num_rows
        cells.append(summed.cells)
        users.append(summed.users)
        if summed.repeats.num_rows:
            waiting.append(summed.repeats)
            waiting_rows += summed.repeats.num_rows
            if waiting_rows >= DETECT_ROWS:
                cells.append(_repeat_cells(pa.concat_tables(waiting), detectors))
                waiting, waiting_rows = [], 0
        if summed.first is not None and summed.last is not None:
            first = summed.first if first is None else min(first, summed.first)
            last = summed.last if last is None else max(last, summed.last)
        daily = daily and summed.daily
        if len(cells) > _MERGE_EVERY:
            cells = [_merge(cells, CELL_KEYS, _COUNTERS)]
        if len(users) > _MERGE_EVERY:
            users = [_merge(users, USER_KEYS, _USER_COUNTERS)]
        if on_progress is not None:
            on_progress(_position(binary))
    if waiting:
        cells.append(_repeat_cells(pa.concat_tables(waiting), detectors))
    rollup = UsageRollup(daily_buckets=daily)
    rollup.first_seen = None if first is None else _moment(first)
    rollup.last_seen = None if last is None else _moment(last)
    _fill(rollup.cells, cells, CELL_KEYS, _COUNTERS, MAX_FEATURES)
    _fill(rollup.user_cells, users, USER_KEYS, _USER_COUNTERS, MAX_END_USERS)
    return rollup


def sum_block(rows: BlockRows) -> BlockSums:
    """Partial cells of one block of canonical rows (no shared state)."""
    table = rows.table
    if not table.num_rows:
        empty = _empty(CELL_KEYS, _COUNTERS)
        return BlockSums(empty, _empty(USER_KEYS, _USER_COUNTERS), table, None, None, True)
    micros = table.column("ts").to_numpy()
    day = pa.array((micros // _DAY_MICROS).astype(np.int32))
    requests = table.column("requests")
    short = pc.and_(
        pc.greater(requests, 0),
        pc.less_equal(table.column("output_tokens"), pc.multiply(requests, SHORT_OUTPUT_TOKENS)),
    )
    latency = table.column("latency_ms")
    usage = [table.column(name) for name in _USAGE]
    zero = pa.repeat(0, table.num_rows).cast(pa.int64())
    counters = [
        *usage,
        *(pc.if_else(short, column, 0) for column in usage),
        *([zero] * 7),
        pc.cast(pc.is_valid(latency), pa.int64()),
        pc.fill_null(latency, 0),
        pc.fill_null(latency, 0),
        zero, zero, zero,
        pa.repeat(1, table.num_rows).cast(pa.int64()),
    ]  # fmt: skip
    keyed = {name: table.column(name) for name in CELL_KEYS[1:]}
    base = pa.table(
        {"day": day, **keyed, "end_user": table.column("end_user"),
         **dict(zip(_COUNTERS, counters, strict=True)), "first": table.column("order")}
    )  # fmt: skip
    cells = _group(base, CELL_KEYS, _COUNTERS)
    users = _group(
        base.select([*USER_KEYS, *_COUNTERS[:7], _COUNTERS[-1], "first"]).rename_columns(
            [*USER_KEYS, *_USER_COUNTERS, "first"]
        ),
        USER_KEYS,
        _USER_COUNTERS,
    )
    wanted = pc.or_(
        pc.is_valid(table.column("prompt_fingerprint")), pc.is_valid(table.column("prefix_blocks"))
    )
    repeats = table.append_column("day", day).filter(wanted)
    return BlockSums(
        cells, users, repeats, int(micros.min()), int(micros.max()),
        bool((micros % _DAY_MICROS == 0).all()),
    )  # fmt: skip


def _repeat_cells(table: pa.Table, detectors: RepeatColumns) -> pa.Table:
    """The duplicate and prompt-cache counters of one block's rows, per cell."""
    found = detectors.observe(table)
    rows = table.num_rows
    zero = np.zeros(rows, dtype=np.int64)
    duplicate = pa.array(found.duplicate)
    usage = [pc.if_else(duplicate, table.column(name), 0) for name in _USAGE]
    prefix_requests = np.where(found.prefix_request, table.column("requests").to_numpy(), 0)
    counters = [
        *([zero] * 14), *usage, *([zero] * 3),
        prefix_requests, found.hit_tokens, found.write_tokens, zero,
    ]  # fmt: skip
    base = pa.table(
        {**{name: table.column(name) for name in CELL_KEYS},
         **dict(zip(_COUNTERS, counters, strict=True)), "first": np.full(rows, _NEVER)}
    )  # fmt: skip
    return _group(base, CELL_KEYS, _COUNTERS)


def _group(table: pa.Table, keys: tuple[str, ...], counters: tuple[str, ...]) -> pa.Table:
    """Sum counters per key (latency max by max, first seen by min); same column names out."""
    aggregations = [
        (name, "max" if counters is _COUNTERS and index == LATENCY_MAX_MS else "sum")
        for index, name in enumerate(counters)
    ]
    grouped = table.group_by(list(keys), use_threads=False).aggregate(
        [*aggregations, ("first", "min")]
    )
    return grouped.select([*(f"{n}_{how}" for n, how in aggregations), "first_min", *keys])\
        .rename_columns([*counters, "first", *keys])  # fmt: skip


def _merge(parts: list[pa.Table], keys: tuple[str, ...], counters: tuple[str, ...]) -> pa.Table:
    return _group(pa.concat_tables(parts), keys, counters)


def _empty(keys: tuple[str, ...], counters: tuple[str, ...]) -> pa.Table:
    types = {"day": pa.int32(), "batch": pa.bool_()}
    return pa.table(
        {**{name: pa.array([], pa.int64()) for name in (*counters, "first")},
         **{name: pa.array([], types.get(name, pa.string())) for name in keys}}
    )  # fmt: skip


def _fill(
    target: dict[Any, list[int]],
    parts: list[pa.Table],
    keys: tuple[str, ...],
    counters: tuple[str, ...],
    limit: int,
) -> None:
    """Merge the parts into ``target``, cells in first-seen order of their label.

    Labels (features, end users) past the first ``limit`` seen become
    :data:`OTHER`, whose cells come last, as :meth:`UsageRollup.merge` admits them.
    """
    table = _merge(parts, keys, counters) if parts else _empty(keys, counters)
    label = keys[3]
    firsts = table.group_by(label, use_threads=False).aggregate([("first", "min")])
    seen = firsts.sort_by([("first_min", "ascending")]).column(label)
    if len(seen) > limit:
        column = table.column(label)
        kept = pc.is_in(column, value_set=seen.slice(0, limit).combine_chunks())
        table = _group(
            table.set_column(
                table.schema.get_field_index(label), label, pc.if_else(kept, column, OTHER)
            ).set_column(
                table.schema.get_field_index("first"), "first",
                pc.if_else(kept, table.column("first"), _NEVER),
            ),
            keys, counters,
        )  # fmt: skip
    table = table.sort_by([("first", "ascending")])
    days = _day_names(table.column("day"))
    values = [table.column(name).to_pylist() for name in counters]
    key_columns = [days, *(table.column(name).to_pylist() for name in keys[1:])]
    for key, cell in zip(zip(*key_columns, strict=True), zip(*values, strict=True), strict=True):
        target[key] = list(cell)


def _day_names(days: pa.ChunkedArray) -> list[str]:
    names: dict[int, str] = {}
    out = []
    for day in days.to_pylist():
        name = names.get(day)
        if name is None:
            name = names[day] = date.fromordinal(day + _EPOCH_ORDINAL).isoformat()
        out.append(name)
    return out


def _moment(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _position(binary: BinaryIO) -> int:
    try:
        return binary.tell()
    except (OSError, ValueError):
        return 0
