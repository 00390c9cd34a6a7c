"""Native CSV in blocks: Arrow types the plain rows, the row parser takes the rest.

The engine's hot path. The file is cut into blocks of whole lines. A block
whose bytes are plain (no quote character, no bare carriage return, no blank
line) is parsed by Arrow's CSV reader, one row per line, and its columns are
cast and validated with vectorised kernels. Every row that is not plainly
valid — a field Arrow cannot cast, a count that breaks an invariant, a
timestamp with an unusual shape — goes back to the careful row parser
(:func:`native_format.row_item`), which either accepts it as a record or
rejects it with the same reason and line as a record-by-record import. From
the first quote on, the rest of the file is read by the row parser, because a
quoted field may hold a newline and lines no longer are rows.

The output is a :data:`canonical table <CANONICAL>` per block, rows in any
order with their line as ``order``, which :mod:`columnar_sums` adds up.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Final, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from apex_core.cost.context import ImportContext, csv_header, short_row
from apex_core.cost.native_format import COLUMNS, REQUIRED, NativeColumns, row_item
from apex_core.cost.records import PREFIX_BLOCK_TOKENS, Rejection, UsageRecord
from apex_core.errors import ImportFailed

T = TypeVar("T")
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Ints = np.ndarray[Any, np.dtype[np.int64]]

BLOCK_BYTES: Final = 4 << 20
"""Bytes per block: big enough for Arrow to amortise a call, small enough to stream."""
TAIL_BATCH_ROWS: Final = 50_000
"""Rows per batch once the row parser reads the rest of a file with quoted fields."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_COUNTS: Final = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "requests",
)
_TYPES: Final = {
    **dict.fromkeys((*_COUNTS, "block_tokens"), pa.int64()),
    "latency_ms": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
"""What a well-formed block reads as; a block that does not is read as text and cast."""
_TRUE_BATCH_TEXT: Final = pa.array(["true", "1", "True", "TRUE"])
_BATCH_TEXT: Final = pa.array(["", "false", "0", "False", "FALSE", "true", "1", "True", "TRUE"])
_BLOCK_IDS: Final = r"^[!-~]+( [!-~]+)*$"
"""Prefix block ids the fast path splits itself: printable ASCII separated by single spaces."""

CANONICAL: Final = pa.schema(
    [
        ("order", pa.int64()),
        ("ts", pa.int64()),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("feature", pa.string()),
        ("end_user", pa.string()),
        ("service_tier", pa.string()),
        ("batch", pa.bool_()),
        *((name, pa.int64()) for name in _COUNTS),
        ("latency_ms", pa.int64()),
        ("prompt_fingerprint", pa.string()),
        ("prefix_blocks", pa.string()),
        ("block_tokens", pa.int64()),
    ]
)
"""One accepted row: ``order`` is its line, ``ts`` UTC microseconds, ``latency_ms``
rounded half to even (like ``round``), ``prefix_blocks`` ids joined by single spaces."""


@dataclass(slots=True)
class BlockRows:
    """What one block yields: its accepted rows and its accounting."""

    table: pa.Table
    read: int
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    """Lines of the file the batch covers (0 for batches of the rest of a file)."""
    undecodable: tuple[int, str] | None = None
    """(line, reason) where the bytes stopped being UTF-8: the file fails there."""


@dataclass(slots=True, frozen=True)
class NativeLayout:
    """The header of a native CSV file as the block reader needs it."""

    columns: NativeColumns
    source: str

    def position(self, name: str) -> int | None:
        """The column position of ``name``, or ``None`` when the header lacks it."""
        position = self.columns.positions[COLUMNS.index(name)]
        return None if position == self.columns.width else position


def read_header(binary: BinaryIO, context: ImportContext) -> NativeLayout:
    """Read the header line (failing the file like the row reader would) and lay it out."""
    line = binary.readline()
    if line.startswith(_UTF8_BOM):
        line = line[len(_UTF8_BOM) :]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            f"{context.source}:1: the header is not UTF-8 text ({exc.reason}); "
            "export the file as UTF-8 and import it again"
        ) from exc
    _, index = csv_header(io.StringIO(text), context, REQUIRED)
    width = len(index)
    positions = tuple(index.get(name, width) for name in COLUMNS)
    return NativeLayout(NativeColumns(width, positions), context.source)


@dataclass(slots=True, frozen=True)
class Block:
    """Whole lines of the file, the ``index``-th block of it."""

    data: bytes
    index: int
    tail: bool = False
    """True for the block with the first quote: the rest of the file follows it, unread."""

    @property
    def base(self) -> int:
        """Added to a line within the block to give the row's ``order``."""
        return self.index << 32


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
    NumPy release the GIL); at most ``2 * threads`` blocks are in memory at
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
                for rows in _tail_rows(block, binary, layout, context):
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
            return _arrow_rows(block, layout, context)
        except (pa.ArrowInvalid, pa.ArrowKeyError):
            pass  # a field or row Arrow cannot read: the row parser reads the block, says why
    return _parser_rows(block, layout, context)


def _plain(data: bytes) -> bool:
    """Lines are rows when nothing is quoted (Arrow refuses blank lines itself, and ends
    lines at LF, CR LF or CR as Python's csv module does)."""
    return b'"' not in data


def _arrow_rows(block: Block, layout: NativeLayout, context: ImportContext) -> BlockRows:
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
    result = next(_parse_rows(parsed, layout, context, base=block.base, batch_rows=None))
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
    for name in (*_COUNTS, "block_tokens"):
        column = pc.cast(text[name], pa.int64())
        if name in ("input_tokens", "output_tokens"):
            valid &= _mask(pc.is_valid(column))
        default = {"requests": 1, "block_tokens": PREFIX_BLOCK_TOKENS}.get(name, 0)
        counts[name] = pc.fill_null(column, default).to_numpy()
    valid &= np.minimum.reduce([counts[name] for name in _COUNTS]) >= 0
    valid &= counts["block_tokens"] > 0
    valid &= counts["cached_input_tokens"] + counts["cache_write_tokens"] <= counts["input_tokens"]
    valid &= counts["reasoning_tokens"] <= counts["output_tokens"]
    valid &= counts["cache_write_1h_tokens"] <= counts["cache_write_tokens"]
    latency = pc.cast(text["latency_ms"], pa.float64())
    no_latency = _mask(pc.is_null(latency))
    milliseconds = latency.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        finite = (milliseconds >= 0) & (milliseconds < np.inf)
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


def _parser_rows(block: Block, layout: NativeLayout, context: ImportContext) -> BlockRows:
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        failed = BlockRows(CANONICAL.empty_table(), 0)
        failed.undecodable = (block.data.count(b"\n", 0, exc.start) + 1, exc.reason)
        return failed
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = ((reader.line_num, row) for row in reader)
    parsed = next(_parse_rows(rows, layout, context, base=block.base, batch_rows=None))
    parsed.lines = reader.line_num
    return parsed


def _tail_rows(
    block: Block, binary: BinaryIO, layout: NativeLayout, context: ImportContext
) -> Iterator[BlockRows]:
    """From the first quote on: the row parser over the rest of the file, streamed."""
    text = io.TextIOWrapper(
        io.BufferedReader(_Prefixed(block.data, binary)), encoding="utf-8", newline=""
    )
    reader = csv.reader(text)
    rows = ((reader.line_num, row) for row in reader)
    batches = _parse_rows(rows, layout, context, base=block.base, batch_rows=TAIL_BATCH_ROWS)
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


def _parse_rows(
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


def records_table(records: list[UsageRecord], base: int = 0) -> pa.Table:
    """Records as a :data:`CANONICAL` table; a record's ``order`` is ``base + line``."""
    columns: dict[str, list[Any]] = {name: [] for name in CANONICAL.names}
    for r in records:
        columns["order"].append(base + r.line)
        columns["ts"].append(_micros(r))
        columns["provider"].append(r.provider)
        columns["model"].append(r.model)
        columns["feature"].append(r.feature)
        columns["end_user"].append(r.end_user)
        columns["service_tier"].append(r.service_tier)
        columns["batch"].append(r.batch)
        for name in _COUNTS:
            columns[name].append(getattr(r, name))
        columns["latency_ms"].append(None if r.latency_ms is None else round(r.latency_ms))
        columns["prompt_fingerprint"].append(r.prompt_fingerprint)
        columns["prefix_blocks"].append(" ".join(r.prefix_blocks) or None)
        columns["block_tokens"].append(r.block_tokens)
    return pa.table(columns, schema=CANONICAL)


def _micros(record: UsageRecord) -> int:
    return (record.timestamp - _EPOCH) // _MICROSECOND
