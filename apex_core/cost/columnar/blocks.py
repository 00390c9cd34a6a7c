"""Native CSV in blocks, on worker threads, in file order: the engine's hot path.

The file is cut into blocks of whole lines. A block without a quote is read by
Arrow (:mod:`arrow_parse`); a block Arrow cannot read, and the rest of the
file from the first quote on (a quoted field may hold a newline, so lines are
no longer rows), are read by the careful row parser (:mod:`row_parse`).
Either way a block becomes a canonical table (:mod:`table`) with its
rejections, whose lines this module turns into file lines, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import BinaryIO, Final, TypeVar

import pyarrow as pa

from apex_core.cost.columnar.arrow_parse import arrow_rows
from apex_core.cost.columnar.row_parse import parser_rows, tail_rows
from apex_core.cost.columnar.table import Block, BlockRows, NativeLayout
from apex_core.cost.formats.context import ImportContext
from apex_core.errors import ImportFailed

T = TypeVar("T")

BLOCK_BYTES: Final = 4 << 20
"""Bytes per block: big enough for Arrow to amortise a call, small enough to stream."""


def split_blocks(binary: BinaryIO, *, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """Blocks of whole lines after the header, up to and including the first quote's block."""
    index = 0
    while True:
        data = binary.read(block_bytes)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += binary.readline()  # complete the last line
        if b'"' in data:
            yield Block(data, index, tail=True)
            return
        yield Block(data, index)
        index += 1


def read_blocks(
    binary: BinaryIO,
    layout: NativeLayout,
    context: ImportContext,
    summarize: Callable[[BlockRows], T],
    *,
    threads: int,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[tuple[T, BlockRows]]:
    """``(summarize(rows), rows)`` of the file's rows, batch by batch in file order.

    Blocks are parsed and summarized on ``threads`` worker threads (Arrow and
    NumPy release the GIL); at most ``threads + 1`` blocks are in memory at
    once, so memory stays flat however long the file is. Rejections carry
    their file line. Closing the iterator early waits for running blocks.
    """
    first_line = 2
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="apex-csv") as pool:
        pending: deque[Future[tuple[T, BlockRows]]] = deque()

        def done() -> tuple[T, BlockRows]:
            nonlocal first_line
            summary, rows = pending.popleft().result()
            _place(rows, first_line, context)
            first_line += rows.lines
            return summary, rows

        for block in split_blocks(binary, block_bytes=block_bytes):
            if block.tail:
                while pending:
                    yield done()
                for rows in tail_rows(block, binary, layout, context):
                    _place(rows, first_line, context)
                    yield summarize(rows), rows
                return
            pending.append(pool.submit(_summarized, block, layout, context, summarize))
            if len(pending) > threads:
                yield done()
        while pending:
            yield done()


def _place(rows: BlockRows, first_line: int, context: ImportContext) -> None:
    """Turn the block's line numbers into file lines (only the main thread knows them)."""
    shift = first_line - 1
    rows.rejections = [replace(r, line=r.line + shift) for r in rows.rejections]
    if rows.undecodable is not None:
        line, reason = rows.undecodable
        raise ImportFailed(
            f"{context.source}:{line + shift}: not UTF-8 text ({reason}); "
            "export the file as UTF-8 and import it again"
        )


def _summarized(
    block: Block, layout: NativeLayout, context: ImportContext, summarize: Callable[[BlockRows], T]
) -> tuple[T, BlockRows]:
    rows = block_rows(block, layout, context)
    return summarize(rows), rows


def block_rows(block: Block, layout: NativeLayout, context: ImportContext) -> BlockRows:
    """The accepted rows (in line order) and rejections of one block; lines count from 1
    within the block. Thread-safe: touches nothing shared."""
    if _plain(block.data):
        try:
            return arrow_rows(block, layout, context)
        except (pa.ArrowInvalid, pa.ArrowKeyError):
            pass  # a field or row Arrow cannot read: the row parser reads the block, says why
    return parser_rows(block, layout, context)


def _plain(data: bytes) -> bool:
    """Lines are rows when nothing is quoted (Arrow refuses blank lines itself, and ends
    lines at LF, CR LF or CR as Python's csv module does)."""
    return b'"' not in data
