"""OpenAI organization Usage API, completions (``/v1/organization/usage/completions``).

Accepts the API's JSON (a ``page`` object, a list of pages, or one page per
line) and the dashboard's CSV export. OpenAI's ``input_tokens`` already
include ``input_cached_tokens``, which is the record's convention, so they are
copied as they are. ``project_id`` (else ``api_key_id``) becomes the feature,
``user_id`` the end user. A result not grouped by model keeps its tokens under
the model ``(not grouped by model)``, which is reported as unpriced. A bucket
with no results, or a CSV row with nothing but the bucket's times (a day with
no usage), is an :class:`EmptyBucket`: zero usage, counted, not rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    parse_bool,
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
CSV_REQUIRED: Final = ("start_time", "input_tokens", "output_tokens")
BUCKET_TIMES: Final = ("start_time", "end_time", "start_time_iso", "end_time_iso")


def read_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    """JSON when the file starts with ``{`` or ``[``, else the dashboard CSV."""
    if head.lstrip()[:1] in ("{", "["):
        return _json_rows(text, context, head)
    return _csv_rows(text, context)


def _pages(text: TextIO, context: ImportContext, head: str) -> Iterator[tuple[int, Any]]:
    first_line = head.lstrip().split("\n", 1)[0]
    try:
        one_per_line = isinstance(json.loads(first_line), dict) and "\n" in head.strip()
    except json.JSONDecodeError:
        one_per_line = False
    if one_per_line:
        for number, line in enumerate(text, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ImportFailed(
                        f"{context.source}:{number}: invalid JSON ({exc.msg} at column "
                        f"{exc.colno}); the export may be truncated: export it again"
                    ) from exc
        return
    document = json_document(text, context)
    for page in document if isinstance(document, list) else [document]:
        yield 0, page


def _json_rows(text: TextIO, context: ImportContext, head: str) -> RowStream:
    for line, page in _pages(text, context, head):
        buckets = page.get("data") if isinstance(page, dict) else None
        if not isinstance(buckets, list):
            yield context.reject(
                line,
                RowRejected("not a usage page", "expected an object with a 'data' list of buckets"),
                "$",
            )
            continue
        for b_index, bucket in enumerate(buckets):
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if not isinstance(results, list):
                where = f"data[{b_index}]"
                error = RowRejected("bad bucket", "expected a bucket with a 'results' list")
                yield context.reject(line, error, where)
                continue
            if not results:
                yield EmptyBucket(context.source, line, f"data[{b_index}]")
            for r_index, result in enumerate(results):
                where = f"data[{b_index}].results[{r_index}]"
                try:
                    if not isinstance(result, dict):
                        raise RowRejected("bad result", "expected a JSON object")
                    yield _record(
                        {**result, "start_time": bucket.get("start_time")}, context.source, line
                    )
                except RowRejected as error:
                    yield context.reject(line, error, where)


def _csv_rows(text: TextIO, context: ImportContext) -> RowStream:
    reader, index = csv_header(text, context, CSV_REQUIRED)
    names = list(index)
    yield from csv_records(
        reader,
        len(names),
        context,
        lambda row, line: _record(dict(zip(names, row, strict=False)), context.source, line),
    )


def _record(values: dict[str, Any], source: str, line: int) -> UsageRecord | EmptyBucket:
    if is_empty_bucket(values, BUCKET_TIMES):
        return EmptyBucket(source, line)
    model = text_or_empty(values.get("model")) or UNGROUPED_MODEL
    record = UsageRecord(
        timestamp=parse_timestamp(values.get("start_time"), "start_time"),
        provider="openai",
        model=model,
        input_tokens=parse_count(values.get("input_tokens"), "input_tokens"),
        output_tokens=parse_count(values.get("output_tokens"), "output_tokens"),
        cached_input_tokens=parse_count(
            values.get("input_cached_tokens"), "input_cached_tokens", required=False
        ),
        requests=parse_count(values.get("num_model_requests"), "num_model_requests"),
        batch=parse_bool(values.get("batch"), "batch"),
        service_tier=text_or_empty(values.get("service_tier")),
        feature=text_or_empty(values.get("project_id")) or text_or_empty(values.get("api_key_id")),
        end_user=text_or_empty(values.get("user_id")),
        source=source,
        line=line,
    )
    check_token_invariants(record)
    return record
