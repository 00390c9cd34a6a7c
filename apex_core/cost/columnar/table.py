"""The native CSV reader's data model: the canonical table of accepted rows.

Both ways of reading a block — Arrow for plain rows (:mod:`arrow_parse`) and
the careful row parser for the rest (:mod:`row_parse`) — produce a
:data:`CANONICAL` table, which :mod:`sums` adds up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Final

import pyarrow as pa

from apex_core.cost.formats.context import ImportContext, csv_header
from apex_core.cost.formats.native import COLUMNS, REQUIRED, NativeColumns
from apex_core.cost.model.records import COUNT_FIELDS, Rejection, UsageRecord
from apex_core.errors import ImportFailed

COUNTS: Final = COUNT_FIELDS
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_UTF8_BOM: Final = b"\xef\xbb\xbf"

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
        *((name, pa.int64()) for name in COUNTS),
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
        for name in COUNTS:
            columns[name].append(getattr(r, name))
        columns["latency_ms"].append(None if r.latency_ms is None else round(r.latency_ms))
        columns["prompt_fingerprint"].append(r.prompt_fingerprint)
        columns["prefix_blocks"].append(" ".join(r.prefix_blocks) or None)
        columns["block_tokens"].append(r.block_tokens)
    return pa.table(columns, schema=CANONICAL)


def _micros(record: UsageRecord) -> int:
    return (record.timestamp - _EPOCH) // _MICROSECOND
