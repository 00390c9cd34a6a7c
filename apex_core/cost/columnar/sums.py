"""Batches of canonical rows into a roll-up with Arrow group-bys: the engine's one accumulate.

Every reader's rows arrive as canonical tables (:data:`table.CANONICAL`):
native CSV from :mod:`blocks`, several blocks at once on worker threads,
each worker also summing its block into partial feature and end-user cells
(Arrow's hash group-by); every other format's records in batches
(:func:`~apex_core.cost.engine.record_batches`). The repeat detectors need stream order, so one more
thread runs them batch after batch (:mod:`detectors`) on the rows with a
fingerprint or prefix blocks. Partial cells are merged now and then, so memory
depends on the number of cells, not rows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apex_core.cost.columnar.detectors import RepeatColumns
from apex_core.cost.columnar.table import BlockRows
from apex_core.cost.model.cells import (
    FEATURE_COUNTERS,
    USAGE_FIELDS,
    USER_COUNTERS,
    FeatureCell,
    FeatureKey,
    PeriodKey,
    UserCell,
    UserKey,
    UserPeriods,
)
from apex_core.cost.model.records import ImportStats
from apex_core.cost.model.rollup import (
    MAX_END_USERS,
    MAX_FEATURES,
    OTHER,
    SHORT_OUTPUT_TOKENS,
    UsageRollup,
)

CELL_KEYS: Final = FeatureKey._fields
USER_KEYS: Final = UserKey._fields
_DAY_MICROS: Final = 86_400_000_000
_COUNTERS: Final = FEATURE_COUNTERS
_HOW: Final = {"latency_max_ms": "max"}
"""How a counter is summed when it is not summed."""
_USER_COUNTERS: Final = USER_COUNTERS
_NEVER: Final = np.iinfo(np.int64).max
DETECT_ROWS: Final = 1 << 16
"""Rows with a fingerprint or prefix blocks gathered before the detectors run on them."""
_REPEAT_COLUMNS: Final = (
    *CELL_KEYS[1:], *USAGE_FIELDS, "order", "ts", "prompt_fingerprint", "prefix_blocks",
    "block_tokens",
)  # fmt: skip
"""What the detectors and their cells need of a row."""
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


Batch = tuple[BlockSums, BlockRows]
"""One batch of canonical rows (with its accounting) and its partial sums."""


def sum_batches(
    batches: Iterable[Batch],
    stats: ImportStats | None,
    *,
    on_batch: Callable[[], None] | None = None,
    user_periods: UserPeriods | None = None,
    detect_rows: int = DETECT_ROWS,
) -> UsageRollup:
    """Summed batches of canonical rows, in stream order, into a new roll-up.

    Each batch's accounting (rows read, imported, rejected in order) is added
    to ``stats`` unless it is ``None``; ``on_batch`` is called after each
    batch. ``user_periods`` merges end-user cells of days with the same prices
    (see :meth:`UsageRollup.merge_user_periods`). The repeat detectors run on
    ``detect_rows`` rows at a time.
    """
    cells: list[pa.Table] = []
    users: list[pa.Table] = []
    span = _Span()
    with _Detection(detect_rows) as detection:
        for summed, rows in batches:
            if stats is not None:
                for rejection in rows.rejections:
                    stats.add_rejection(rejection)
                stats.read += rows.read
                stats.imported += rows.table.num_rows
            cells.append(summed.cells)
            users.append(summed.users)
            detection.add(summed.repeats)
            span.add(summed)
            if len(cells) > _MERGE_EVERY:
                cells = [_merge(cells, CELL_KEYS, _COUNTERS)]
            if len(users) > _MERGE_EVERY:
                users = [_merge(users, USER_KEYS, _USER_COUNTERS)]
            if on_batch is not None:
                on_batch()
        cells.extend(detection.results())
    rollup = UsageRollup(daily_buckets=span.daily)
    rollup.first_seen = None if span.first is None else _moment(span.first)
    rollup.last_seen = None if span.last is None else _moment(span.last)
    for key, counters in _cells(cells, CELL_KEYS, _COUNTERS, MAX_FEATURES):
        rollup.cells[FeatureKey._make(key)] = FeatureCell.from_counters(counters)
    if users and user_periods is not None:
        users = [_by_period(_merge(users, USER_KEYS, _USER_COUNTERS), user_periods)]
    for key, counters in _cells(users, USER_KEYS, _USER_COUNTERS, MAX_END_USERS):
        rollup.user_cells[UserKey._make(key)] = UserCell.from_counters(counters)
    return rollup


@dataclass(slots=True)
class _Span:
    """First and last moment seen (UTC µs), and whether every one was a midnight."""

    first: int | None = None
    last: int | None = None
    daily: bool = True

    def add(self, summed: BlockSums) -> None:
        if summed.first is not None and summed.last is not None:
            self.first = summed.first if self.first is None else min(self.first, summed.first)
            self.last = summed.last if self.last is None else max(self.last, summed.last)
        self.daily = self.daily and summed.daily


class _Detection:
    """The repeat detectors on their own thread, fed batches of rows in stream order.

    Batches of about ``batch_rows`` rows keep the detectors busy while the
    blocks after them are parsed; one batch runs while the next gathers, so
    memory stays bounded. Leaving the ``with`` block cancels batches not yet
    started and waits for the running one.
    """

    def __init__(self, batch_rows: int) -> None:
        self._batch_rows = batch_rows
        self._detectors = RepeatColumns()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apex-repeats")
        self._running: deque[Future[pa.Table]] = deque()
        self._done: list[pa.Table] = []
        self._waiting: list[pa.Table] = []
        self._waiting_rows = 0

    def __enter__(self) -> _Detection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, rows: pa.Table) -> None:
        """Queue rows that follow every row added before."""
        if not rows.num_rows:
            return
        self._waiting.append(rows)
        self._waiting_rows += rows.num_rows
        if self._waiting_rows >= self._batch_rows:
            self._submit()

    def results(self) -> list[pa.Table]:
        """Partial cells of every batch, once all are detected."""
        if self._waiting:
            self._submit()
        while self._running:
            self._done.append(self._running.popleft().result())
        return self._done

    def _submit(self) -> None:
        batch = pa.concat_tables(self._waiting)
        self._waiting, self._waiting_rows = [], 0
        self._running.append(self._pool.submit(_repeat_cells, batch, self._detectors))
        while len(self._running) > 1:
            self._done.append(self._running.popleft().result())


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
    usage = {name: table.column(name) for name in USAGE_FIELDS}
    columns = {name: table.column(name) for name in (*CELL_KEYS[1:], "end_user", "order")}
    columns["day"] = day
    cells = _partial(
        columns, CELL_KEYS, _COUNTERS,
        {**usage,
         **{f"short_{name}": pc.if_else(short, column, 0) for name, column in usage.items()},
         "latency_count": pc.cast(pc.is_valid(latency), pa.int64()),
         "latency_sum_ms": pc.fill_null(latency, 0), "latency_max_ms": pc.fill_null(latency, 0)},
    )  # fmt: skip
    users = _partial(columns, USER_KEYS, _USER_COUNTERS, usage)
    wanted = pc.or_(
        pc.is_valid(table.column("prompt_fingerprint")), pc.is_valid(table.column("prefix_blocks"))
    )
    repeats = table.select(_REPEAT_COLUMNS).append_column("day", day).filter(wanted)
    return BlockSums(
        cells, users, repeats, int(micros.min()), int(micros.max()),
        bool((micros % _DAY_MICROS == 0).all()),
    )  # fmt: skip


def _repeat_cells(table: pa.Table, detectors: RepeatColumns) -> pa.Table:
    """The duplicate and prompt-cache counters of one block's rows, per cell."""
    found = detectors.observe(table)
    duplicate = pa.array(found.duplicate)
    prefix_requests = np.where(found.prefix_request, table.column("requests").to_numpy(), 0)
    columns = {name: table.column(name) for name in CELL_KEYS}
    columns["order"] = pa.repeat(_NEVER, table.num_rows).cast(pa.int64())
    counters: dict[str, Any] = {
        f"duplicate_{name}": pc.if_else(duplicate, table.column(name), 0) for name in USAGE_FIELDS
    }
    counters["prefix_requests"] = prefix_requests
    counters["prefix_hit_tokens"] = found.hit_tokens
    counters["prefix_write_tokens"] = found.write_tokens
    return _partial(columns, CELL_KEYS, _COUNTERS, counters, records=False)


def _partial(
    columns: dict[str, Any],
    keys: tuple[str, ...],
    names: tuple[str, ...],
    counters: dict[str, Any],
    *,
    records: bool = True,
) -> pa.Table:
    """Rows summed per key into a partial table with every counter of ``names`` (absent
    ones 0, the last one the row count when ``records``) and the first ``order``."""
    base = pa.table(
        {**{key: columns[key] for key in keys}, "first": columns["order"],
         **counters}
    )  # fmt: skip
    aggregations = [(name, _HOW.get(name, "sum")) for name in counters]
    grouped = base.group_by(list(keys), use_threads=False).aggregate(
        [*aggregations, ("first", "min"), ("first", "count")]
    )
    size = grouped.num_rows
    zero = pa.repeat(0, size).cast(pa.int64())
    out = {name: zero for name in names}
    for name, how in aggregations:
        out[name] = grouped.column(f"{name}_{how}")
    if records:
        out[names[-1]] = grouped.column("first_count")
    out["first"] = grouped.column("first_min")
    return pa.table({**out, **{key: grouped.column(key) for key in keys}})


def _group(table: pa.Table, keys: tuple[str, ...], counters: tuple[str, ...]) -> pa.Table:
    """Sum counters per key (latency max by max, first seen by min); same column names out."""
    aggregations = [(name, _HOW.get(name, "sum")) for name in counters]
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


def _by_period(users: pa.Table, user_periods: UserPeriods) -> pa.Table:
    """End-user cells summed per price period instead of per day."""
    price_keys = list(PeriodKey._fields)
    distinct = users.group_by(price_keys, use_threads=False).aggregate([])
    days = distinct.column("day").to_pylist()
    keys = [
        PeriodKey._make(key)
        for key in zip(
            _day_names(distinct.column("day")),
            *(distinct.column(name).to_pylist() for name in price_keys[1:]),
            strict=True,
        )
    ]
    periods = user_periods(keys)
    ordinals = {key.day: day for key, day in zip(keys, days, strict=True)}
    for period in set(periods.values()) - ordinals.keys():
        ordinals[period] = date.fromisoformat(period).toordinal() - _EPOCH_ORDINAL
    mapping = distinct.append_column(
        "period", pa.array([ordinals[periods[key]] for key in keys], pa.int32())
    )  # fmt: skip
    joined = users.join(mapping, price_keys, join_type="inner", use_threads=False)
    by_period = joined.drop_columns(["day"])
    return _group(
        by_period.rename_columns(["day" if n == "period" else n for n in by_period.column_names]),
        USER_KEYS, _USER_COUNTERS,
    )  # fmt: skip


def _cells(
    parts: list[pa.Table], keys: tuple[str, ...], counters: tuple[str, ...], limit: int
) -> Iterator[tuple[tuple[Any, ...], tuple[int, ...]]]:
    """The parts merged into (key, counters) pairs, in first-seen order of their label.

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
    return zip(zip(*key_columns, strict=True), zip(*values, strict=True), strict=True)


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
