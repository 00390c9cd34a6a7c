"""``accumulate``: any import (or plain records) into a roll-up, through the one columnar engine.

Native CSV is read in blocks straight into canonical tables; every other
format's records are gathered into canonical tables in stream order. Either
way :func:`sums.sum_batches` sums them into cells.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from apex_core.cost.columnar.sums import native_csv_batches, record_batches, sum_batches
from apex_core.cost.formats.importing import ImportResult
from apex_core.cost.model.cells import UserPeriods
from apex_core.cost.model.records import UsageRecord
from apex_core.cost.model.rollup import UsageRollup


def accumulate(
    records: Iterable[UsageRecord],
    rollup: UsageRollup | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
    threads: int | None = None,
    user_periods: UserPeriods | None = None,
) -> UsageRollup:
    """Stream ``records`` into ``rollup`` (a new one by default) and return it.

    Given an :class:`~apex_core.cost.formats.importing.ImportResult`, its row counts
    (rejections included) and notes are added to ``rollup.rows`` / ``notes``;
    given plain records, each counts as one row read and imported.
    ``on_progress`` gets an import's bytes read so far, now and then.
    A native CSV import is read in blocks on ``threads`` threads (default: the
    cores this process may use). ``user_periods`` (``PriceBook.price_periods``)
    merges the end-user cells of days with the same prices
    (:meth:`UsageRollup.merge_user_periods`).
    """
    target = UsageRollup() if rollup is None else rollup
    if not isinstance(records, ImportResult):
        count = 0

        def counted() -> Iterator[UsageRecord]:
            nonlocal count
            for record in records:
                count += 1
                yield record

        part = sum_batches(record_batches(counted()), None, user_periods=user_periods)
        target.merge(part, consume=True)
        target.rows.read += count
        target.rows.imported += count
        return target
    result = records

    def progress() -> None:
        if on_progress is not None:
            on_progress(result.bytes_read())

    if result.native_csv:
        binary, context = result.take_binary()
        try:
            batches = native_csv_batches(
                binary, context, threads=threads or len(os.sched_getaffinity(0))
            )
            part = sum_batches(batches, result.stats, on_batch=progress, user_periods=user_periods)
        finally:
            result.close()
    else:
        part = sum_batches(
            record_batches(result), None, on_batch=progress, user_periods=user_periods
        )
    target.merge(part, consume=True)
    target.rows.merge(result.stats)
    for note in result.notes:
        if note not in target.notes:
            target.notes.append(note)
    return target
