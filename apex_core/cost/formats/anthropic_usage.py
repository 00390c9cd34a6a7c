"""Anthropic Admin API usage report (``/v1/organizations/usage_report/messages``) and console CSV.

Anthropic reports uncached input, cache reads and cache writes separately;
the record's ``input_tokens`` is their sum (see docs/COST_ENGINE.md).
``service_tier = batch`` marks Message Batches usage. Cache
writes keep their TTL split (``ephemeral_5m`` / ``ephemeral_1h``) because the
two are priced differently. The report carries no request count, so records
have ``requests = 0`` and per-request figures are not computed for them.
``workspace_id`` (else ``api_key_id``) becomes the feature. A bucket with no
results, or a row with nothing but its times, is an :class:`EmptyBucket`
(zero usage, counted, not rejected).

The console CSV is read by column name; both the API's field names and the
console's ``usage_input_tokens_*`` names are accepted (docs/USAGE_FORMATS.md).
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from apex_core.cost.formats.context import (
    ImportContext,
    RowStream,
    csv_header,
    csv_records,
    json_document,
)
from apex_core.cost.formats.fields import (
    is_empty_bucket,
    parse_count,
    parse_timestamp,
    text_or_empty,
)
from apex_core.cost.model.records import (
    EmptyBucket,
    RowRejected,
    UsageRecord,
    check_token_invariants,
)
from apex_core.errors import ImportFailed

UNGROUPED_MODEL: Final = "(not grouped by model)"
BUCKET_TIMES: Final = ("starting_at", "ending_at")
# console CSV column -> API field name
_CONSOLE_COLUMNS: Final = {
    "usage_date_utc": "starting_at",
    "model_version": "model",
    "workspace": "workspace_id",
    "api_key": "api_key_id",
    "usage_input_tokens_no_cache": "uncached_input_tokens",
    "usage_input_tokens_cache_read": "cache_read_input_tokens",
    "usage_input_tokens_cache_write_5m": "cache_creation_5m_input_tokens",
    "usage_input_tokens_cache_write_1h": "cache_creation_1h_input_tokens",
    "usage_output_tokens": "output_tokens",
}


def read_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    """JSON report when the file starts with ``{`` or ``[``, else the console CSV."""
    if head.lstrip()[:1] in ("{", "["):
        return _json_rows(text, context)
    return _csv_rows(text, context)


def _json_rows(text: TextIO, context: ImportContext) -> RowStream:
    document = json_document(text, context)
    pages = document if isinstance(document, list) else [document]
    for page in pages:
        buckets = page.get("data") if isinstance(page, dict) else None
        if not isinstance(buckets, list):
            error = RowRejected("not a usage report", "expected an object with a 'data' list")
            yield context.reject(0, error, "$")
            continue
        for b_index, bucket in enumerate(buckets):
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if not isinstance(results, list):
                error = RowRejected("bad bucket", "expected a bucket with a 'results' list")
                yield context.reject(0, error, f"data[{b_index}]")
                continue
            if not results:
                yield EmptyBucket(context.source, 0, f"data[{b_index}]")
            for r_index, result in enumerate(results):
                try:
                    if not isinstance(result, dict):
                        raise RowRejected("bad result", "expected a JSON object")
                    yield _record(
                        {**result, "starting_at": bucket.get("starting_at")}, context.source, 0
                    )
                except RowRejected as error:
                    yield context.reject(0, error, f"data[{b_index}].results[{r_index}]")


def _csv_rows(text: TextIO, context: ImportContext) -> RowStream:
    reader, index = csv_header(text, context, ())
    names = [_CONSOLE_COLUMNS.get(name, name) for name in index]
    for needed in ("starting_at", "uncached_input_tokens", "output_tokens"):
        if needed not in names:
            raise ImportFailed(
                f"{context.source}:1: missing column {needed!r} (or its console name); the "
                f"header has {', '.join(index)}"
            )
    yield from csv_records(
        reader,
        len(names),
        context,
        lambda row, line: _record(dict(zip(names, row, strict=False)), context.source, line),
    )


def _record(values: dict[str, Any], source: str, line: int) -> UsageRecord | EmptyBucket:
    if is_empty_bucket(values, BUCKET_TIMES):
        return EmptyBucket(source, line)
    creation = values.get("cache_creation")
    if creation is not None and not isinstance(creation, dict):
        raise RowRejected("bad cache_creation", "expected an object with ephemeral_* counts")
    creation = creation or {}
    write_5m = parse_count(
        creation.get("ephemeral_5m_input_tokens", values.get("cache_creation_5m_input_tokens")),
        "cache_creation.ephemeral_5m_input_tokens",
        required=False,
    )
    write_1h = parse_count(
        creation.get("ephemeral_1h_input_tokens", values.get("cache_creation_1h_input_tokens")),
        "cache_creation.ephemeral_1h_input_tokens",
        required=False,
    )
    uncached = parse_count(values.get("uncached_input_tokens"), "uncached_input_tokens")
    cache_read = parse_count(
        values.get("cache_read_input_tokens"), "cache_read_input_tokens", required=False
    )
    tier = text_or_empty(values.get("service_tier"))
    record = UsageRecord(
        timestamp=parse_timestamp(values.get("starting_at"), "starting_at"),
        provider="anthropic",
        model=text_or_empty(values.get("model")) or UNGROUPED_MODEL,
        input_tokens=uncached + cache_read + write_5m + write_1h,
        output_tokens=parse_count(values.get("output_tokens"), "output_tokens"),
        cached_input_tokens=cache_read,
        cache_write_tokens=write_5m + write_1h,
        cache_write_1h_tokens=write_1h,
        requests=0,
        batch=tier == "batch",
        service_tier="" if tier in ("batch", "standard") else tier,
        feature=text_or_empty(values.get("workspace_id"))
        or text_or_empty(values.get("api_key_id")),
        end_user=text_or_empty(values.get("account_id")),
        source=source,
        line=line,
    )
    check_token_invariants(record)
    return record
