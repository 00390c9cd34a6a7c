"""The project's own usage format, as CSV or JSONL (docs/USAGE_FORMATS.md).

One row per request (or per bucket of ``requests`` requests). Required:
``timestamp, provider, model, input_tokens, output_tokens``; everything else
is optional. ``input_tokens`` includes cached tokens (the OpenAI convention).
A plainly valid row (:func:`plain_record`) is read with plain ``int()``; any
other row goes to the careful field parsers, which accept it or say exactly
what is wrong. Native CSV files are read in blocks by :mod:`apex_core.cost.columnar`,
whose Arrow reader applies the same rules to whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from apex_core.cost.formats.context import (
    ImportContext,
    RowStream,
    csv_header,
    json_lines,
    short_row,
)
from apex_core.cost.formats.fields import (
    parse_bool,
    parse_count,
    parse_optional_float,
    parse_timestamp,
    text_or_empty,
)
from apex_core.cost.model.records import (
    PREFIX_BLOCK_TOKENS,
    Rejection,
    RowRejected,
    UsageRecord,
    check_token_invariants,
    counts_hold,
)

REQUIRED: Final = ("timestamp", "provider", "model", "input_tokens", "output_tokens")
OPTIONAL: Final = (
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "requests",
    "batch",
    "service_tier",
    "feature",
    "end_user",
    "latency_ms",
    "prompt_fingerprint",
    "prefix_blocks",
    "block_tokens",
)
COLUMNS: Final = REQUIRED + OPTIONAL
_INF: Final = float("inf")
BATCH_TRUE: Final = ("true", "1", "True", "TRUE")
BATCH_TEXT: Final = ("", "false", "0", "False", "FALSE", *BATCH_TRUE)
"""The batch flags the fast paths read themselves; the careful parse reads more (yes/no …)."""


def read_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    """Native JSONL when the file starts with ``{``, else native CSV."""
    if head.lstrip().startswith("{"):
        return _jsonl_rows(text, context)
    return _csv_rows(text, context)


@dataclass(slots=True, frozen=True)
class NativeColumns:
    """Column positions of a native CSV header; absent columns point at a trailing ``""``."""

    width: int
    positions: tuple[int, ...]
    """Positions of :data:`COLUMNS`, in that order."""


def csv_columns(text: TextIO, context: ImportContext) -> tuple[Any, NativeColumns]:
    """A ``csv.reader`` past the header, and the positions of the native columns."""
    reader, index = csv_header(text, context, REQUIRED)
    width = len(index)
    return reader, NativeColumns(width, tuple(index.get(name, width) for name in COLUMNS))


def _csv_rows(text: TextIO, context: ImportContext) -> RowStream:
    reader, columns = csv_columns(text, context)
    width = columns.width
    offset = context.line_offset
    for row in reader:
        if len(row) < width:
            if row:
                yield context.reject(reader.line_num + offset, short_row(row, width))
            continue
        row.append("")
        yield row_item(row, columns, context, reader.line_num + offset)


def plain_latency(milliseconds: Any) -> Any:
    """A latency the fast paths take as it is (finite, >= 0); for a float a bool, for a NumPy
    column a mask. Anything else (inf, nan, negative) goes to the careful parse."""
    return (milliseconds >= 0) & (milliseconds < _INF)


def plain_record(
    row: list[str], positions: tuple[int, ...], source: str, line: int
) -> UsageRecord | None:
    """The record of a native CSV row whose fields are all plain and valid, else ``None``.

    Plain: counts ``int()`` reads that hold (:func:`counts_hold`), a batch flag of
    :data:`BATCH_TEXT`, a :func:`plain_latency`, a provider and a model. ``None``
    sends the caller to the careful parse, which says exactly what is wrong.
    """
    (ts_i, prov_i, model_i, in_i, out_i, cached_i, cw_i, cw1h_i, reas_i, req_i, batch_i,
     tier_i, feat_i, user_i, lat_i, fp_i, blocks_i, bt_i) = positions  # fmt: skip
    try:
        ts = datetime.fromisoformat(row[ts_i])
        if ts.tzinfo is not UTC:
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        req_text, lat_text, bt_text = row[req_i], row[lat_i], row[bt_i]
        latency = float(lat_text) if lat_text else None
        blocks_text = row[blocks_i]
        record = UsageRecord(
            timestamp=ts, provider=row[prov_i].lower(), model=row[model_i],
            input_tokens=int(row[in_i]), output_tokens=int(row[out_i]),
            cached_input_tokens=int(row[cached_i] or 0), cache_write_tokens=int(row[cw_i] or 0),
            cache_write_1h_tokens=int(row[cw1h_i] or 0), reasoning_tokens=int(row[reas_i] or 0),
            requests=int(req_text) if req_text else 1, batch=row[batch_i] in BATCH_TRUE,
            service_tier=row[tier_i], feature=row[feat_i], end_user=row[user_i],
            latency_ms=latency, prompt_fingerprint=row[fp_i] or None,
            prefix_blocks=tuple(blocks_text.split()) if blocks_text else (),
            block_tokens=int(bt_text) if bt_text else PREFIX_BLOCK_TOKENS,
            source=source, line=line,
        )  # fmt: skip
    except ValueError:
        return None
    plain = (
        counts_hold(record)
        and row[batch_i] in BATCH_TEXT
        and (latency is None or plain_latency(latency))
        and record.provider
        and record.model
    )
    return record if plain else None


def row_item(
    row: list[str], columns: NativeColumns, context: ImportContext, line: int
) -> UsageRecord | Rejection:
    """One native CSV row (with a trailing ``""`` appended) as a record or a rejection."""
    record = plain_record(row, columns.positions, context.source, line)
    if record is not None:
        return record
    # Slow path: parse the row again, carefully, to say exactly what is wrong.
    try:
        return _from_mapping(
            dict(zip(COLUMNS, (row[i] for i in columns.positions), strict=True)),
            context.source,
            line,
        )
    except RowRejected as error:
        return context.reject(line, error)


def _jsonl_rows(text: TextIO, context: ImportContext) -> RowStream:
    for line, value in json_lines(text):
        if isinstance(value, RowRejected):
            yield context.reject(line, value)
            continue
        try:
            yield _from_mapping(value, context.source, line)
        except RowRejected as error:
            yield context.reject(line, error)


def _from_mapping(values: dict[str, Any], source: str, line: int) -> UsageRecord:
    """Careful parse of one native row (CSV fields or a JSON object)."""
    for name in REQUIRED:
        if values.get(name) in (None, ""):
            raise RowRejected(f"missing {name}", f"expected a value in '{name}'")
    blocks = values.get("prefix_blocks")
    if isinstance(blocks, str):
        block_ids = tuple(blocks.split())
    elif isinstance(blocks, list):
        block_ids = tuple(str(block) for block in blocks)
    elif blocks is None:
        block_ids = ()
    else:
        raise RowRejected("bad prefix_blocks", "expected a list of block ids or a string of them")
    record = UsageRecord(
        timestamp=parse_timestamp(values["timestamp"]),
        provider=text_or_empty(values["provider"]).lower(),
        model=text_or_empty(values["model"]),
        input_tokens=parse_count(values["input_tokens"], "input_tokens"),
        output_tokens=parse_count(values["output_tokens"], "output_tokens"),
        cached_input_tokens=parse_count(
            values.get("cached_input_tokens"), "cached_input_tokens", required=False
        ),
        cache_write_tokens=parse_count(
            values.get("cache_write_tokens"), "cache_write_tokens", required=False
        ),
        cache_write_1h_tokens=parse_count(
            values.get("cache_write_1h_tokens"), "cache_write_1h_tokens", required=False
        ),
        reasoning_tokens=parse_count(
            values.get("reasoning_tokens"), "reasoning_tokens", required=False
        ),
        requests=parse_count(values.get("requests") or 1, "requests"),
        batch=parse_bool(values.get("batch"), "batch"),
        service_tier=text_or_empty(values.get("service_tier")),
        feature=text_or_empty(values.get("feature")),
        end_user=text_or_empty(values.get("end_user")),
        latency_ms=parse_optional_float(values.get("latency_ms"), "latency_ms"),
        prompt_fingerprint=text_or_empty(values.get("prompt_fingerprint")) or None,
        prefix_blocks=block_ids,
        block_tokens=parse_count(values.get("block_tokens") or PREFIX_BLOCK_TOKENS, "block_tokens"),
        source=source,
        line=line,
    )
    check_token_invariants(record)
    return record
