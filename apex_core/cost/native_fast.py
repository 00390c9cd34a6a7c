"""The hot path: native CSV rows added straight into a roll-up, without record objects.

Rows that need more than sums (a prompt fingerprint or prefix blocks, which
feed the repeat detectors) or that are not plainly valid go through the
ordinary path (:func:`native_format.row_item` then :meth:`UsageRollup.add`),
so results are identical to iterating the records; a test holds both to it.
"""

from __future__ import annotations

from collections.abc import Callable

from apex_core.cost.context import short_row
from apex_core.cost.importing import ImportResult
from apex_core.cost.native_format import csv_columns, plain_values, row_item
from apex_core.cost.records import Rejection
from apex_core.cost.rollup import (
    _DAYS,
    LATENCY_COUNT,
    LATENCY_MAX_MS,
    LATENCY_SUM_MS,
    MAX_END_USERS,
    MAX_FEATURES,
    PROGRESS_EVERY_ROWS,
    RECORDS,
    SHORT_OUTPUT_TOKENS,
    USER_WIDTH,
    WIDTH,
    UsageRollup,
)


def accumulate_csv(  # noqa: PLR0915 - one flat hot loop, kept inline on purpose
    result: ImportResult,
    rollup: UsageRollup,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Add every row of a native CSV import to ``rollup``; rejections go to ``result.stats``.

    ``on_progress`` is called with the bytes read so far every 20,000 lines.
    """
    text, context = result.take_text()
    stats = result.stats
    try:
        reader, columns = csv_columns(text, context)
        positions = columns.positions
        (_, _, _, _, _, _, _, _, _, _, _,
         tier_i, feat_i, user_i, _, fp_i, blocks_i, _) = positions  # fmt: skip
        width = columns.width
        offset = context.line_offset
        cells, user_cells = rollup.cells, rollup.user_cells
        features, users = rollup._features, rollup._users
        admit = rollup._admit
        days = _DAYS
        first, last, daily = rollup.first_seen, rollup.last_seen, rollup.daily_buckets
        fused = 0
        for row in reader:
            if on_progress is not None and reader.line_num % PROGRESS_EVERY_ROWS == 0:
                on_progress(result.bytes_read())
            if len(row) < width:
                if row:
                    stats.read += 1
                    stats.add_rejection(
                        context.reject(reader.line_num + offset, short_row(row, width))
                    )
                continue
            row.append("")
            values = None if row[fp_i] or row[blocks_i] else plain_values(row, positions)
            if values is None:
                item = row_item(row, columns, context, reader.line_num + offset)
                stats.read += 1
                if isinstance(item, Rejection):
                    stats.add_rejection(item)
                    continue
                rollup.first_seen, rollup.last_seen, rollup.daily_buckets = first, last, daily
                rollup.add(item)
                first, last, daily = rollup.first_seen, rollup.last_seen, rollup.daily_buckets
                stats.imported += 1
                continue
            fused += 1
            (ts, total_in, output, cached, write, write_1h, reasoning, requests, latency, batch,
             provider, model) = values  # fmt: skip
            ordinal = ts.toordinal()
            day = days.get(ordinal)
            if day is None:
                day = days[ordinal] = ts.date().isoformat()
            tier = row[tier_i]
            feature = row[feat_i]
            if feature not in features:
                feature = admit(features, feature, MAX_FEATURES)
            key = (day, provider, model, feature, batch, tier)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0] * WIDTH
            cell[0] += requests
            cell[1] += total_in
            cell[2] += cached
            cell[3] += write
            cell[4] += write_1h
            cell[5] += output
            cell[6] += reasoning
            cell[RECORDS] += 1
            if requests and output <= SHORT_OUTPUT_TOKENS * requests:
                cell[7] += requests
                cell[8] += total_in
                cell[9] += cached
                cell[10] += write
                cell[11] += write_1h
                cell[12] += output
                cell[13] += reasoning
            if latency is not None:
                cell[LATENCY_COUNT] += 1
                rounded = round(latency)
                cell[LATENCY_SUM_MS] += rounded
                cell[LATENCY_MAX_MS] = max(cell[LATENCY_MAX_MS], rounded)
            user = row[user_i]
            if user not in users:
                user = admit(users, user, MAX_END_USERS)
            user_key = (day, provider, model, user, batch, tier)
            user_cell = user_cells.get(user_key)
            if user_cell is None:
                user_cell = user_cells[user_key] = [0] * USER_WIDTH
            user_cell[0] += requests
            user_cell[1] += total_in
            user_cell[2] += cached
            user_cell[3] += write
            user_cell[4] += write_1h
            user_cell[5] += output
            user_cell[6] += reasoning
            user_cell[7] += 1
            if first is None or ts < first:
                first = ts
            if last is None or ts > last:
                last = ts
            if daily and (ts.hour or ts.minute or ts.second or ts.microsecond):
                daily = False
        rollup.first_seen, rollup.last_seen, rollup.daily_buckets = first, last, daily
        stats.read += fused
        stats.imported += fused
    finally:
        result.close()
