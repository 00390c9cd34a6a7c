"""Request traces that name no billed model: Azure LLM inference, Mooncake, BurstGPT.

Each is priced at the model the user maps it to (``--model``); the import
says so in its notes. Relative clocks (Mooncake milliseconds, BurstGPT
seconds) start at ``trace_start``. Mooncake's ``hash_ids`` become
``prefix_blocks`` (512 tokens each), which makes caching savings measurable.
Columns are read by name, so BurstGPT's v1 and v2 layouts both work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, TextIO

from apex_core.cost.errors import BadModelMapping, UnknownUsageFormat
from apex_core.cost.formats.context import (
    ImportContext,
    RowStream,
    csv_header,
    csv_records,
    json_lines,
)
from apex_core.cost.formats.fields import parse_count, parse_timestamp, text_or_empty
from apex_core.cost.formats.mapping import BilledModel, ModelMapping
from apex_core.cost.model.records import PREFIX_BLOCK_TOKENS, RowRejected, UsageRecord

AZURE_COLUMNS: Final = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
BURSTGPT_COLUMNS: Final = ("Timestamp", "Model", "Request tokens", "Response tokens")


def read_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    """Mooncake when the file is JSONL, else Azure or BurstGPT by their CSV header."""
    if head.lstrip().startswith("{"):
        return _mooncake_rows(text, context)
    header = head.lstrip().split("\n", 1)[0]
    if "ContextTokens" in header:
        return _azure_rows(text, context)
    if "Request tokens" in header:
        return _burstgpt_rows(text, context)
    raise UnknownUsageFormat(
        f"{context.source}:1: not a known trace; expected an Azure LLM trace "
        f"({', '.join(AZURE_COLUMNS)}), BurstGPT ({', '.join(BURSTGPT_COLUMNS)}) or Mooncake JSONL"
    )


def _single_target(context: ImportContext, trace_name: str) -> BilledModel:
    mapping: ModelMapping = context.require_mapping(trace_name)
    if mapping.fallback is None:
        raise BadModelMapping(
            f"{context.source}: a {trace_name} trace has a single unnamed model; give one target, "
            "e.g. --model openai:gpt-4o-mini (or '*=provider:model')"
        )
    context.notes.append(
        f"{context.source}: {trace_name} trace without a billed model, priced as "
        f"{mapping.fallback} (--model)"
    )
    return mapping.fallback


def _azure_rows(text: TextIO, context: ImportContext) -> RowStream:
    target = _single_target(context, "Azure LLM inference")
    reader, index = csv_header(text, context, AZURE_COLUMNS)
    ts_i, in_i, out_i = (index[name] for name in AZURE_COLUMNS)

    def record(row: list[str], line: int) -> UsageRecord:
        return UsageRecord(
            timestamp=parse_timestamp(row[ts_i], "TIMESTAMP"),
            provider=target.provider,
            model=target.model,
            input_tokens=parse_count(row[in_i], "ContextTokens"),
            output_tokens=parse_count(row[out_i], "GeneratedTokens"),
            source=context.source,
            line=line,
        )

    yield from csv_records(reader, len(index), context, record)


def _burstgpt_rows(text: TextIO, context: ImportContext) -> RowStream:
    mapping = context.require_mapping("BurstGPT")
    context.notes.append(
        f"{context.source}: BurstGPT trace names ChatGPT/GPT-4, not billed models; priced with "
        f"the mapping {mapping.describe()} (--model); clock starts at "
        f"{context.trace_start.isoformat()}"
    )
    reader, index = csv_header(text, context, BURSTGPT_COLUMNS)
    ts_i, model_i, in_i, out_i = (index[name] for name in BURSTGPT_COLUMNS)
    log_i = index.get("Log Type")

    def record(row: list[str], line: int) -> UsageRecord:
        target = mapping.target_for(row[model_i].strip())
        seconds = _relative_number(row[ts_i], "Timestamp")
        return UsageRecord(
            timestamp=context.trace_start + timedelta(seconds=seconds),
            provider=target.provider,
            model=target.model,
            input_tokens=parse_count(row[in_i], "Request tokens"),
            output_tokens=parse_count(row[out_i], "Response tokens"),
            feature=text_or_empty(row[log_i]) if log_i is not None else "",
            source=context.source,
            line=line,
        )

    yield from csv_records(reader, len(index), context, record)


def _mooncake_rows(text: TextIO, context: ImportContext) -> RowStream:
    target = _single_target(context, "Mooncake")
    context.notes.append(
        f"{context.source}: Mooncake clock (ms) starts at {context.trace_start.isoformat()}; "
        f"hash_ids read as {PREFIX_BLOCK_TOKENS}-token prefix blocks"
    )
    for line, value in json_lines(text):
        if isinstance(value, RowRejected):
            yield context.reject(line, value)
            continue
        try:
            blocks = value.get("hash_ids", [])
            if not isinstance(blocks, list):
                raise RowRejected("bad hash_ids", "expected a list of block ids")
            millis = _relative_number(value.get("timestamp"), "timestamp")
            yield UsageRecord(
                timestamp=context.trace_start + timedelta(milliseconds=millis),
                provider=target.provider,
                model=target.model,
                input_tokens=parse_count(value.get("input_length"), "input_length"),
                output_tokens=parse_count(value.get("output_length"), "output_length"),
                prefix_blocks=tuple(str(block) for block in blocks),
                source=context.source,
                line=line,
            )
        except RowRejected as error:
            yield context.reject(line, error)


def _relative_number(value: object, name: str) -> float:
    if value is None or value == "":
        raise RowRejected(f"missing {name}", "expected a number of time units since trace start")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowRejected(f"bad number in {name}", f"expected a number, got {value!r}") from None
    if not 0 <= number < 1e13:
        raise RowRejected(f"bad number in {name}", f"expected a non-negative offset, got {number}")
    return number
