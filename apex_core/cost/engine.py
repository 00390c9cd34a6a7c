"""``accumulate``: any import (or plain records) into a roll-up, through the one columnar engine.

Native CSV is read in blocks straight into canonical tables; every other
format's records are gathered into canonical tables in stream order. Either
way :func:`~apex_core.cost.columnar.sums.sum_batches` sums them into cells.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import BinaryIO, Final

import pyarrow as pa

from apex_core.cost.columnar.blocks import BLOCK_BYTES, read_blocks
from apex_core.cost.columnar.sums import Batch, sum_batches, sum_block
from apex_core.cost.columnar.table import BlockRows, read_header, records_table
from apex_core.cost.formats.context import ImportContext
from apex_core.cost.formats.importing import ImportResult
from apex_core.cost.model.cells import UserPeriods
from apex_core.cost.model.records import UsageRecord
from apex_core.cost.model.rollup import UsageRollup

RECORD_BATCH_ROWS: Final = 20_000
"""Records per canonical table when a reader yields records (every format but native CSV)."""


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


def native_csv_batches(
    binary: BinaryIO,
    context: ImportContext,
    *,
    threads: int,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Batch]:
    """A native CSV stream (positioned at its header) as summed batches, in file order.

    Limits: ``block_bytes`` per block, ``threads`` blocks parsed at once (at
    most ``threads + 1`` in memory).
    """
    layout = read_header(binary, context)
    return read_blocks(binary, layout, context, sum_block, threads=threads, block_bytes=block_bytes)


def record_batches(
    records: Iterable[UsageRecord], *, rows: int = RECORD_BATCH_ROWS
) -> Iterator[Batch]:
    """Records (any reader's) as summed batches of ``rows`` canonical rows, in stream order.

    A row's ``order`` is its place in the stream. The batches carry no
    accounting (``read`` 0, no rejections): whoever iterates the records counts them.
    """
    iterator = iter(records)
    first = 0
    while chunk := list(islice(iterator, rows)):
        table = records_table(chunk).set_column(
            0, "order", pa.array(range(first, first + len(chunk)), pa.int64())
        )
        first += len(chunk)
        block = BlockRows(table, 0)
        yield sum_block(block), block
