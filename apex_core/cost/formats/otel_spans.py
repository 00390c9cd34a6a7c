"""OpenTelemetry GenAI client spans as OTLP JSON (one export, or one export per line).

Follows the GenAI semantic conventions: ``gen_ai.usage.input_tokens``
includes cached tokens (``gen_ai.usage.cache_read.input_tokens``) and cache
writes (``gen_ai.usage.cache_creation.input_tokens``), whatever the provider.
Only model-call spans are usage (``gen_ai.operation.name`` ``chat``,
``text_completion``, ``generate_content``, ``embeddings`` or absent); agent
and tool spans would count their children twice and are skipped, with a note.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final, TextIO

from apex_core.cost.formats.context import ImportContext, RowStream, json_document
from apex_core.cost.formats.fields import parse_count, text_or_empty, unix_seconds
from apex_core.cost.model.records import RowRejected, UsageRecord, check_token_invariants
from apex_core.errors import ImportFailed

MODEL_CALL_OPERATIONS: Final = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", ""}
)
PROVIDER_IDS: Final = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "mistral_ai": "mistral",
}


def read_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    """Records of every model-call span in the export(s)."""
    skipped = 0
    for line, export in _exports(text, context, head):
        for where, span, resource in _spans(export):
            attributes = _attributes(span.get("attributes"))
            if not any(key.startswith("gen_ai.") for key in attributes):
                skipped += 1
                continue
            operation = text_or_empty(attributes.get("gen_ai.operation.name"))
            if operation not in MODEL_CALL_OPERATIONS:
                skipped += 1
                continue
            try:
                yield _record(span, attributes, resource, context.source, line)
            except RowRejected as error:
                yield context.reject(line, error, where)
    if skipped:
        context.notes.append(
            f"{context.source}: {skipped} span(s) skipped: not GenAI model calls "
            "(no gen_ai.* attributes, or agent/tool operations that would double-count)"
        )


def _exports(text: TextIO, context: ImportContext, head: str) -> Iterator[tuple[int, Any]]:
    first_line = head.lstrip().split("\n", 1)[0]
    try:
        json.loads(first_line)
        line_per_export = "\n" in head.strip()
    except json.JSONDecodeError:
        line_per_export = False
    if not line_per_export:
        yield 0, json_document(text, context)
        return
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFailed(
                f"{context.source}:{number}: invalid JSON ({exc.msg} at column {exc.colno}); "
                "the export may be truncated"
            ) from exc


def _spans(export: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    if not isinstance(export, dict):
        return
    for r_index, resource_spans in enumerate(export.get("resourceSpans") or []):
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for s_index, scope_spans in enumerate(resource_spans.get("scopeSpans") or []):
            for index, span in enumerate(scope_spans.get("spans") or []):
                if isinstance(span, dict):
                    where = f"resourceSpans[{r_index}].scopeSpans[{s_index}].spans[{index}]"
                    yield where, span, resource


def _attributes(raw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in raw or []:
        if not isinstance(item, dict) or "key" not in item:
            continue
        value = item.get("value") or {}
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                values[str(item["key"])] = value[kind]
                break
    return values


def _record(
    span: dict[str, Any], attrs: dict[str, Any], resource: dict[str, Any], source: str, line: int
) -> UsageRecord:
    system = text_or_empty(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"))
    if not system:
        raise RowRejected("missing gen_ai.provider.name", "expected gen_ai.provider.name")
    model = text_or_empty(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"))
    if not model:
        raise RowRejected("missing gen_ai.request.model", "expected the model the span called")
    start_ns = parse_count(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end_ns = parse_count(span.get("endTimeUnixNano"), "endTimeUnixNano", required=False)
    cache_read = parse_count(
        attrs.get("gen_ai.usage.cache_read.input_tokens"),
        "gen_ai.usage.cache_read.input_tokens",
        required=False,
    )
    cache_write = parse_count(
        attrs.get("gen_ai.usage.cache_creation.input_tokens"),
        "gen_ai.usage.cache_creation.input_tokens",
        required=False,
    )
    record = UsageRecord(
        timestamp=unix_seconds(start_ns / 1e9, "startTimeUnixNano"),
        provider=PROVIDER_IDS.get(system.lower(), system.lower()),
        model=model,
        input_tokens=parse_count(
            attrs.get("gen_ai.usage.input_tokens"), "gen_ai.usage.input_tokens"
        ),
        output_tokens=parse_count(
            attrs.get("gen_ai.usage.output_tokens"), "gen_ai.usage.output_tokens", required=False
        ),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
        service_tier=text_or_empty(
            attrs.get("gen_ai.openai.response.service_tier")
            or attrs.get("openai.response.service_tier")
        ),
        feature=text_or_empty(
            attrs.get("app.feature")
            or attrs.get("gen_ai.agent.name")
            or resource.get("service.name")
        ),
        end_user=text_or_empty(attrs.get("user.id") or attrs.get("enduser.id")),
        latency_ms=(end_ns - start_ns) / 1e6 if end_ns >= start_ns and end_ns else None,
        source=source,
        line=line,
    )
    check_token_invariants(record)
    return record
