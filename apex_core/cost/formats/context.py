"""What every format reader shares: the import context and line-numbered row helpers."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from apex_core.cost.errors import BadModelMapping
from apex_core.cost.formats.mapping import ModelMapping
from apex_core.cost.model.records import EmptyBucket, Rejection, RowRejected, UsageRecord
from apex_core.errors import ImportFailed

RowStream = Iterator[UsageRecord | EmptyBucket | Rejection]


@dataclass(slots=True)
class ImportContext:
    """What a format reader needs besides the text: names, mapping, clock origin, notes."""

    source: str
    model_mapping: ModelMapping | None
    trace_start: datetime
    notes: list[str] = field(default_factory=list)
    line_offset: int = 0
    """Added to line numbers when the text is a slice of a larger file (native CSV only)."""

    def require_mapping(self, trace_name: str) -> ModelMapping:
        """The mapping a trace must be priced with; a missing one fails the whole file."""
        if self.model_mapping is None:
            raise BadModelMapping(
                f"{self.source}: a {trace_name} trace names no billed model; pass the model to "
                "price it at, e.g. --model openai:gpt-4o-mini "
                "(or 'ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4')"
            )
        return self.model_mapping

    def reject(self, line: int, error: RowRejected, where: str = "") -> Rejection:
        """The rejection of the row at ``line`` (or JSON path ``where``)."""
        return Rejection(self.source, line, error.reason, error.detail, where)


Reader = Callable[[TextIO, ImportContext, str], RowStream]


def csv_header(
    text: TextIO, context: ImportContext, required: tuple[str, ...]
) -> tuple[Any, dict[str, int]]:
    """A ``csv.reader`` past the header and the column index; missing columns fail the file."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed(
            f"{context.source}:1: the CSV file is empty; expected a header"
        ) from None
    index = {name.strip(): position for position, name in enumerate(header)}
    missing = [name for name in required if name not in index]
    if missing:
        raise ImportFailed(
            f"{context.source}:1: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(index) or 'no columns'}; expected at least {', '.join(required)}"
        )
    return reader, index


def short_row(row: list[str], width: int) -> RowRejected:
    """The rejection of a CSV row with fewer fields than the header."""
    return RowRejected("missing column", f"expected {width} comma-separated fields, got {len(row)}")


def csv_records(
    reader: Any,
    width: int,
    context: ImportContext,
    to_record: Callable[[list[str], int], UsageRecord | EmptyBucket],
) -> RowStream:
    """Each non-blank row of a ``csv.reader`` (past its header) as ``to_record(row, line)``,
    or its rejection: a row with fewer than ``width`` fields, or one ``to_record``
    rejects with :class:`RowRejected`. ``to_record`` may return an :class:`EmptyBucket`."""
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) < width:
            yield context.reject(line, short_row(row, width))
            continue
        try:
            yield to_record(row, line)
        except RowRejected as error:
            yield context.reject(line, error)


def json_lines(text: TextIO) -> Iterator[tuple[int, dict[str, Any] | RowRejected]]:
    """``(line number, object)`` per non-blank JSONL line, or the reason it is not an object."""
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                number,
                RowRejected(
                    "invalid JSON",
                    f"{exc.msg} at column {exc.colno}; expected one JSON object per line",
                ),
            )
            continue
        if not isinstance(value, dict):
            yield (
                number,
                RowRejected(
                    "invalid JSON", f"expected a JSON object per line, got {type(value).__name__}"
                ),
            )
            continue
        yield number, value


def json_document(text: TextIO, context: ImportContext) -> Any:
    """Parse a whole JSON document; a truncated or invalid one fails the file at its line."""
    body = text.read()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"{context.source}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
            "the file may be truncated: export it again"
        ) from exc
