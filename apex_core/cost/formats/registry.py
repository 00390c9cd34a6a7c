"""The formats: recognise a usage file's format from its first bytes, and pick its reader."""

from __future__ import annotations

import csv
import json
from typing import Final

from apex_core.cost.errors import UnknownUsageFormat
from apex_core.cost.formats import anthropic_usage, native, openai_usage, otel_spans, traces
from apex_core.cost.formats.context import Reader

READERS: Final[dict[str, Reader]] = {
    "native": native.read_rows,
    "openai-usage": openai_usage.read_rows,
    "anthropic-usage": anthropic_usage.read_rows,
    "otel": otel_spans.read_rows,
    "trace": traces.read_rows,
}
"""Every format's row reader, by the name ``--format`` takes."""
FORMATS: Final = ("auto", *READERS)
"""What ``read_usage(format=...)`` and ``apex analyze --format`` accept."""
_JSON_MARKERS = (
    ("resourceSpans", "otel"),
    ("organization.usage.completions", "openai-usage"),
    ("num_model_requests", "openai-usage"),
    ("uncached_input_tokens", "anthropic-usage"),
    ("cache_read_input_tokens", "anthropic-usage"),
)
_EXPECTED = (
    "expected the native JSONL/CSV (docs/USAGE_FORMATS.md), an OpenAI usage export, an "
    "Anthropic usage report, OTLP JSON spans or an Azure/Mooncake/BurstGPT trace; "
    "pass --format to say which"
)


def detect_format(head: bytes, source: str) -> str:
    """The format name for a file that starts with ``head``; raises :class:`UnknownUsageFormat`."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text:
        raise UnknownUsageFormat(f"{source}: the file is empty; {_EXPECTED}")
    if text[0] in "{[":
        return _detect_json(text, source)
    header_line = text.splitlines()[0]
    columns = {name.strip() for name in next(csv.reader([header_line]))}
    if {"timestamp", "provider", "model"} <= columns:
        return "native"
    if "num_model_requests" in columns or {"start_time", "input_cached_tokens"} <= columns:
        return "openai-usage"
    if columns & {"uncached_input_tokens", "usage_input_tokens_no_cache"}:
        return "anthropic-usage"
    if columns & {"ContextTokens", "Request tokens"}:
        return "trace"
    raise UnknownUsageFormat(
        f"{source}:1: unrecognised CSV header {header_line[:200]!r}; {_EXPECTED}"
    )


def _detect_json(text: str, source: str) -> str:
    first_line = text.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
    except json.JSONDecodeError:
        first = None
    if isinstance(first, dict):
        if "resourceSpans" in first:
            return "otel"
        if {"hash_ids", "input_length"} & first.keys():
            return "trace"
        if {"provider", "model"} <= first.keys():
            return "native"
    for marker, name in _JSON_MARKERS:
        if marker in text:
            return name
    raise UnknownUsageFormat(f"{source}: unrecognised JSON content; {_EXPECTED}")


def reader_for(format_name: str) -> Reader:
    """The row reader of a format name (one of :data:`FORMATS` except ``auto``)."""
    try:
        return READERS[format_name]
    except KeyError:
        raise UnknownUsageFormat(
            f"unknown format {format_name!r}; expected one of {', '.join(READERS)}"
        ) from None
