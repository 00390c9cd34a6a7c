"""``ingest_usage``: the usage upload endpoint (HTTP function), a thin adapter.

``POST /`` or ``/api/usage`` with a usage file (raw body or multipart field
``file``) and ``Authorization: Bearer <jwt>`` imports it with the cost engine
and stores its roll-up under ``users/{user_id}/uploads/upload-<content hash>``
(:class:`functions.usage_store.UsageStore`); the same file twice is stored once.
``GET`` lists the caller's uploads; ``OPTIONS`` answers CORS preflights for
``ALLOWED_ORIGINS``. Every answer is JSON; errors are
``{"error": {"code", "message", "retryable"}}``. The contract is in
docs/USAGE_FORMATS.md ("Uploading usage"); the pure parts are in ``functions/upload.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Final

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from apex_core import names
from apex_core.cost import PriceBook, accumulate
from apex_core.errors import ApexError, AuthenticationError, Unavailable
from apex_core.google_errors import BackendError
from apex_core.identity import AuthSettings, TokenVerifier
from apex_core.logs import configure_logging, fields
from functions import clients, upload
from functions.errors import BadUpload, NothingImported
from functions.usage_store import UsageOverview, UsageStore

log = logging.getLogger("functions.ingest")

PATHS: Final = frozenset({"/", "/api/usage", "/api/usage/"})
STATUS: Final = {
    "unauthenticated": 401,
    "too_large": 413,
    "unsupported_media_type": 415,
    "no_usable_rows": 422,
    "usage_invalid": 500,
    "internal": 500,  # BackendError: storage refused a call a retry cannot fix
    "unavailable": 503,
}
"""HTTP status per error code; any other :class:`ApexError` of an upload is a 400."""


@dataclass
class Reply:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    body_read: bool = False
    """False (every error): the body may be unread, so functions-framework must not read it."""


@functools.cache
def _verifier() -> TokenVerifier:
    return TokenVerifier(AuthSettings.from_env(os.environ))


@functools.cache
def _configure_logging() -> None:
    configure_logging(names.INGEST_USAGE_FUNCTION)


@functions_framework.http
def ingest_usage(request: flask.Request) -> flask.Response:
    """Answer one request; a bug becomes a logged 500 JSON answer, never an HTML page."""
    _configure_logging()
    context: dict[str, Any] = {}
    try:
        reply = _handle(request, context)
    except Exception:
        log.exception("ingest request failed", extra=fields(**context))
        reply = _error(500, "internal", "the upload failed on our side; try again later")
    return _response(request, reply)


def _handle(request: flask.Request, context: dict[str, Any]) -> Reply:
    if request.path not in PATHS:
        return _error(404, "not_found", "no such path; upload to / or /api/usage (POST)")
    if request.method == "OPTIONS":
        return Reply(204, {})
    if request.method not in ("GET", "POST"):
        reply = _error(405, "method_not_allowed", "use POST to upload usage, GET to list it")
        reply.headers["Allow"] = "GET, POST, OPTIONS"
        return reply
    try:
        token = upload.upload_token(request.headers.get("Authorization"))
        user_id = _verifier().verify(token).user_id
    except AuthenticationError as exc:
        reply = _error(401, exc.code, exc.message)
        reply.headers["WWW-Authenticate"] = 'Bearer realm="apex"'
        return reply
    context["user_id"] = user_id
    # Settings first, outside the ApexError handler below: a bad one is our 500, not a 400.
    limit = upload.max_upload_bytes(os.environ)
    store = UsageStore(
        clients.firestore_client(),
        user_id,
        deadline=upload.store_deadline_seconds(os.environ),
    )
    try:
        if request.method == "GET":
            return Reply(200, _overview_json(store.overview()))
        return _upload(request, store, context, limit)
    except ApexError as exc:
        status = STATUS.get(exc.code, 400)
        if status >= 500:  # these messages name storage, never the file's contents
            log.warning("ingest failed: %s", exc.message, extra=fields(**context, status=status))
        else:  # a 4xx message may quote the file: log only its code
            log.info("upload refused: %s", exc.code, extra=fields(**context, status=status))
        if isinstance(exc, Unavailable):  # its message names Firestore internals
            message = (
                "usage storage is unavailable right now; send the same upload again in a "
                "minute (an upload is never counted twice)"
            )
        elif isinstance(exc, BackendError):  # also names storage internals
            message = "usage storage refused the request: a fault on our side, not in your file"
        elif exc.code == "bad_model_mapping":
            message = upload.model_hint(exc.message)
        else:
            message = exc.message
        reply = _error(status, exc.code, message, retryable=exc.retryable)
        if isinstance(exc, NothingImported):
            reply.payload.update(exc.summary)
        return reply


def _upload(
    request: flask.Request, store: UsageStore, context: dict[str, Any], limit: int
) -> Reply:
    upload.check_declared_size(request.content_length, limit)
    kind = upload.body_kind(request.mimetype, request.headers.get("Content-Encoding"))
    data, filename, form = _read_body(request, kind, limit)
    source = upload.source_name(filename)
    result, upload_id = upload.open_upload(
        data,
        source=source,
        format=upload.parameter(form.get("format") or request.args.get("format")),
        model=upload.parameter(form.get("model") or request.args.get("model")),
    )
    context.update(upload_id=upload_id, format=result.format, bytes=len(data))
    existing = store.get_upload(upload_id)
    if existing is not None:
        result.close()
        return _duplicate(store, upload_id, context)
    # ImportFailed (e.g. a trace without model=) → 400. End-user cells are stored per
    # price period rather than per day: the same costs in a fraction of the documents.
    rollup = accumulate(result, user_periods=PriceBook().price_periods)
    answer = upload.summary(
        upload_id=upload_id, duplicate=False, source=source, format=result.format, rollup=rollup
    )
    context.update(rows_imported=rollup.rows.imported, rows_rejected=rollup.rows.rejected)
    if rollup.rows.imported == 0:
        raise upload.nothing_imported(answer)
    try:
        store.save_upload(
            upload_id,
            rollup,
            kind="upload",
            source=source,
            exclusive=True,
            usage_format=result.format,
        )
    except FileExistsError:  # an identical upload finished first
        return _duplicate(store, upload_id, context)
    log.info("usage upload stored", extra=fields(**context))
    return Reply(201, answer, body_read=True)


def _read_body(
    request: flask.Request, kind: str, limit: int
) -> tuple[bytes, str | None, dict[str, str]]:
    """The file's bytes, its name and the form fields; at most ``limit`` bytes are accepted.

    A body without Content-Length (chunked) is read up to one byte past the limit
    (werkzeug stops there without an error), so an over-limit body is told apart.
    """
    request.max_content_length = limit + 1
    request.max_form_memory_size = limit
    body = request.get_data(cache=True)  # multipart is parsed from this cached copy
    if len(body) > limit:
        raise upload.too_large(limit, "more")
    if kind == "raw":
        return body, request.args.get("filename"), {}
    try:
        part = request.files.get("file")
        form = dict(request.form.items())
    except HTTPException as exc:
        raise BadUpload(f"the multipart body cannot be parsed ({exc.description})") from exc
    if part is not None:
        return part.read(), part.filename, form
    if "file" in form:  # sent as a text field (curl -F 'file=<usage.csv')
        return form["file"].encode(), None, form
    raise BadUpload(
        "the multipart upload has no 'file' field; send the usage file as the field 'file' "
        "(optional fields 'format' and 'model')"
    )


def _duplicate(store: UsageStore, upload_id: str, context: dict[str, Any]) -> Reply:
    info = store.get_upload(upload_id)
    if info is None:
        raise Unavailable(f"upload {upload_id} exists but cannot be read yet")
    rollup = store.load_rollup(UsageOverview((info,)))
    log.info("duplicate usage upload not stored again", extra=fields(**context))
    answer = upload.summary(
        upload_id=upload_id,
        duplicate=True,
        source=info.source,
        format=info.usage_format or "",
        rollup=rollup,
    )
    return Reply(200, answer, body_read=True)


def _overview_json(overview: UsageOverview) -> dict[str, Any]:
    return {
        **overview.to_json(),
        "items": [
            {
                "upload_id": u.upload_id,
                "kind": u.kind,
                "source": u.source,
                "format": u.usage_format,
                "requests": u.requests,
                "rows_imported": u.rows_imported,
                "rows_rejected": u.rows_rejected,
                "first_day": u.first_day,
                "last_day": u.last_day,
            }
            for u in overview.uploads
        ],
    }


def _error(status: int, code: str, message: str, *, retryable: bool = False) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message, "retryable": retryable}})


def _response(request: flask.Request, reply: Reply) -> flask.Response:
    body = json.dumps(reply.payload).encode() if reply.status != 204 else b""
    # functions-framework reads the whole body after a non-streamed response; an iterator
    # body keeps it from reading an upload that was refused unread (413, 401 …).
    response = flask.Response(
        body if reply.body_read else iter([body]),
        status=reply.status,
        mimetype="application/json",
        headers=reply.headers,
    )
    origin = (request.headers.get("Origin") or "").rstrip("/")
    if origin and origin in upload.allowed_origins(os.environ):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response
