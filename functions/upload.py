"""The pure part of usage ingest: settings, request checks, the upload id, the summary.

No HTTP framework and no storage here (``functions/ingest.py`` is the adapter).
An upload is the bytes of one usage file in any format ``apex analyze`` reads;
it is imported with the cost engine and stored as a roll-up under an id derived
from its content, so the same file uploaded twice is stored (and counted) once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from apex_core.cost import FORMATS, ImportResult, ModelMapping, UsageRollup, read_usage
from apex_core.env import Env
from apex_core.errors import AuthenticationError
from apex_core.protocol import token_from_authorization
from functions.errors import BadUpload, NothingImported, TooLarge, UnsupportedMediaType

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
DEFAULT_ALLOWED_ORIGINS: Final = ("http://127.0.0.1:8080", "http://localhost:8080")
DEFAULT_STORE_DEADLINE_SECONDS: Final = 20.0
MAX_REJECTIONS_SHOWN: Final = 50
MAX_SOURCE_CHARS: Final = 200
UPLOAD_ID_PREFIX: Final = "upload-"
MAPPING_EXAMPLE: Final = "model=ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"
HOW_TO_SEND: Final = (
    "send the file as the raw request body (Content-Type text/csv, application/json, "
    "application/x-ndjson or application/octet-stream; curl --data-binary @usage.csv "
    "-H 'Content-Type: text/csv') or as multipart/form-data with the field 'file' "
    "(curl -F file=@usage.csv)"
)
RAW_TYPES: Final = frozenset(
    {
        "",
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/csv",
        "application/octet-stream",
        "application/vnd.ms-excel",  # what Windows browsers call a .csv file
    }
)
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")

BodyKind = Literal["raw", "multipart"]


# ------------------------------------------------------------------ settings


def max_upload_bytes(environ: Mapping[str, str]) -> int:
    """``INGEST_MAX_BYTES`` (default 32 MiB, Cloud Run's HTTP/1 request limit)."""
    return Env(environ).count("INGEST_MAX_BYTES", DEFAULT_MAX_BYTES)


def store_deadline_seconds(environ: Mapping[str, str]) -> float:
    """``INGEST_STORE_DEADLINE_SECONDS``: how long a Firestore call may take, retries included."""
    return Env(environ).seconds("INGEST_STORE_DEADLINE_SECONDS", DEFAULT_STORE_DEADLINE_SECONDS)


def allowed_origins(environ: Mapping[str, str]) -> frozenset[str]:
    """``ALLOWED_ORIGINS``, comma-separated (default: the local edge on port 8080)."""
    text = environ.get("ALLOWED_ORIGINS")
    if text is None:
        return frozenset(DEFAULT_ALLOWED_ORIGINS)
    return frozenset(item.strip().rstrip("/") for item in text.split(",") if item.strip())


# ------------------------------------------------------------------ the request


def upload_token(authorization: str | None) -> str:
    """The upload's bearer token: required, never a fallback identity."""
    if not authorization or not authorization.strip():
        raise AuthenticationError(
            "an upload needs 'Authorization: Bearer <token>': sign in, or use the "
            "session_token of the chat's connection_ready frame"
        )
    return token_from_authorization(authorization)


def body_kind(mimetype: str, content_encoding: str | None) -> BodyKind:
    """How the file arrives: as the raw body or as a multipart part; else 415."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {content_encoding!r} is not supported; send the file uncompressed"
        )
    kind = mimetype.strip().lower()
    if kind == "multipart/form-data":
        return "multipart"
    if kind in RAW_TYPES or kind.startswith("text/"):
        return "raw"
    raise UnsupportedMediaType(f"Content-Type {kind!r} is not a usage file upload; {HOW_TO_SEND}")


def check_declared_size(content_length: int | None, limit: int) -> None:
    """413 before reading anything when the declared body is over the limit."""
    if content_length is not None and content_length > limit:
        raise too_large(limit, f"{content_length:,} bytes")


def too_large(limit: int, got: str) -> TooLarge:
    return TooLarge(
        f"the upload is larger than the limit of {limit:,} bytes (got {got}); split the "
        "file (by month, say) and upload the parts, or use 'apex analyze' locally"
    )


def source_name(filename: str | None) -> str:
    """A printable file name for messages and the upload list (never a path)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name).strip()
    return name[:MAX_SOURCE_CHARS] or "upload"


def parameter(value: str | None) -> str | None:
    """A query or form parameter, with blanks meaning 'not given'."""
    return value.strip() if value is not None and value.strip() else None


# ------------------------------------------------------------------ the import


def open_upload(
    data: bytes, *, source: str, format: str | None, model: str | None
) -> tuple[ImportResult, str]:
    """Recognise the upload's format and compute its id; no row is read yet.

    Raises the cost engine's :class:`~apex_core.errors.ImportFailed` family
    (unknown format, bad mapping, unreadable) and :class:`BadUpload` for an
    empty body.
    """
    if not data.strip():
        raise BadUpload(f"the upload is empty; {HOW_TO_SEND}")
    chosen = format or "auto"
    if chosen not in FORMATS:
        raise BadUpload(
            f"unknown format {chosen!r}; expected one of {', '.join(FORMATS)} (or leave "
            "format out to detect it)"
        )
    mapping = ModelMapping.parse(model) if model is not None else None
    result = read_usage(data, format=chosen, model_mapping=mapping, source_name=source)
    return result, upload_id_for(data, result.format, mapping)


def upload_id_for(data: bytes, format: str, mapping: ModelMapping | None) -> str:
    """``upload-<sha256 of format, mapping and bytes, 32 hex>``.

    The mapping counts only for traces (no other format reads it): an export
    sent once with and once without a stray ``model=`` is the same usage.
    """
    digest = hashlib.sha256()
    mapping_text = mapping.describe() if mapping is not None and format == "trace" else ""
    for part in (b"apex.upload.v1", format.encode(), mapping_text.encode()):
        digest.update(part + b"\0")
    digest.update(data)
    return UPLOAD_ID_PREFIX + digest.hexdigest()[:32]


def summary(
    *, upload_id: str, duplicate: bool, source: str, format: str, rollup: UsageRollup
) -> dict[str, Any]:
    """The JSON answer to an upload (see docs/USAGE_FORMATS.md, "Uploading usage")."""
    rows = rollup.rows
    models = sorted({f"{provider}:{model}" for (_, provider, model, *_) in rollup.cells})
    return {
        "upload_id": upload_id,
        "duplicate": duplicate,
        "source": source,
        "format": format,
        "rows": {
            "read": rows.read,
            "imported": rows.imported,
            "rejected": rows.rejected,
            "empty_buckets": rows.empty_buckets,
            "reasons": dict(sorted(rows.reasons.items())),
        },
        "rejections": [
            {"line": r.line, "reason": r.reason, "detail": r.detail, "where": r.where}
            for r in rows.examples[:MAX_REJECTIONS_SHOWN]
        ],
        "requests": rollup.usage.requests,
        "first_day": rollup.first_day,
        "last_day": rollup.last_day,
        "models": models,
        "notes": list(rollup.notes),
    }


def nothing_imported(result: dict[str, Any]) -> NothingImported:
    """The 422 of an import that kept no row, with the reasons."""
    rows = result["rows"]
    if rows["read"] == 0:
        message = "the file holds no usage rows (only a header?); nothing was stored"
    elif rows["rejected"] == 0:
        message = (
            f"all {rows['read']:,} rows are empty buckets (periods with no usage); nothing was "
            "stored. Export a period that has usage and upload again"
        )
    else:
        reasons = ", ".join(f"{reason} ({count})" for reason, count in rows["reasons"].items())
        message = (
            f"all {rows['read']:,} rows were rejected ({reasons}); nothing was stored. Fix the "
            "rows listed in 'rejections' (line numbers are the file's) and upload again"
        )
    return NothingImported(message, result)


def model_hint(message: str) -> str:
    """A cost-engine mapping error, told the way an HTTP caller passes the mapping."""
    return (
        f"{message}. Over HTTP the mapping is the 'model' query parameter or form field, "
        f"e.g. ?{MAPPING_EXAMPLE}"
    )
