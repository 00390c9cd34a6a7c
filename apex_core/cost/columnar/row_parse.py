"""The careful row parser, for what Arrow does not read: odd rows, odd blocks, quoted tails.

Every row goes through :func:`~apex_core.cost.formats.native.row_item`, the native format's
one row parser, so a row is accepted or rejected with the same reason and line as when the
file is read row by row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

from apex_core.cost.columnar.table import (
    CANONICAL,
    Block,
    BlockRows,
    NativeLayout,
    records_table,
)
from apex_core.cost.formats.context import ImportContext, short_row
from apex_core.cost.formats.native import row_item
from apex_core.cost.model.records import Rejection, UsageRecord

TAIL_BATCH_ROWS: Final = 50_000
"""Rows per batch once the row parser reads the rest of a file with quoted fields."""


def parser_rows(block: Block, layout: NativeLayout, context: ImportContext) -> BlockRows:
    """A whole block through the row parser; lines count from 1 within the block."""
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        failed = BlockRows(CANONICAL.empty_table(), 0)
        failed.undecodable = (block.data.count(b"\n", 0, exc.start) + 1, exc.reason)
        return failed
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = ((reader.line_num, row) for row in reader)
    parsed = next(parse_rows(rows, layout, context, base=block.base, batch_rows=None))
    parsed.lines = reader.line_num
    return parsed


def tail_rows(
    block: Block, binary: BinaryIO, layout: NativeLayout, context: ImportContext
) -> Iterator[BlockRows]:
    """From the first quote on: the row parser over the rest of the file, streamed."""
    text = io.TextIOWrapper(
        io.BufferedReader(_Prefixed(block.data, binary)), encoding="utf-8", newline=""
    )
    reader = csv.reader(text)
    rows = ((reader.line_num, row) for row in reader)
    batches = parse_rows(rows, layout, context, base=block.base, batch_rows=TAIL_BATCH_ROWS)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            failed = BlockRows(CANONICAL.empty_table(), 0)
            failed.undecodable = (reader.line_num + 1, exc.reason)
            yield failed
            return
        yield batch


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``body``, as one raw stream."""

    def __init__(self, head: bytes, body: BinaryIO) -> None:
        self._head = memoryview(head)
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def parse_rows(
    rows: Iterator[tuple[int, Any]],
    layout: NativeLayout,
    context: ImportContext,
    *,
    base: int,
    batch_rows: int | None,
) -> Iterator[BlockRows]:
    """Rows through the careful parser; ``rows`` yields ``(line, fields or line text)``.

    Yields one batch per ``batch_rows`` rows (one batch in all when ``None``);
    a record's ``order`` is ``base + line``.
    """
    width = layout.columns.width
    records: list[UsageRecord] = []
    result = BlockRows(CANONICAL.empty_table(), 0)
    for line, item in rows:
        fields = next(csv.reader([item])) if isinstance(item, str) else item
        if not fields:
            continue
        result.read += 1
        if len(fields) < width:
            result.rejections.append(context.reject(line, short_row(fields, width)))
        else:
            parsed = row_item([*fields, ""], layout.columns, context, line)
            if isinstance(parsed, Rejection):
                result.rejections.append(parsed)
            else:
                records.append(parsed)
        if batch_rows is not None and result.read >= batch_rows:
            result.table = records_table(records, base)
            yield result
            records = []
            result = BlockRows(CANONICAL.empty_table(), 0)
    result.table = records_table(records, base)
    yield result
