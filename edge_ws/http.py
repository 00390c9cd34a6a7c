"""The plain HTTP side of the edge: health, readiness, the chat page and its config.

``GET /healthz`` 200 while the process lives; ``GET /readyz`` 200 only once the
instance's events subscription exists and until shutdown starts (else 503);
``GET /`` is ``index.html`` and ``GET /static/<file>`` any file of the static
folder (no directory traversal, 404 otherwise); ``GET /config.json`` tells the
page where to upload usage files. Every response is built here as a
``websockets`` :class:`~websockets.http11.Response` and carries a strict
Content-Security-Policy, ``X-Content-Type-Options: nosniff`` and
``Cache-Control: no-cache``. Pure apart from reading the static file.
"""

from __future__ import annotations

import json
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Final

from websockets.datastructures import Headers
from websockets.http11 import Response

CONTENT_SECURITY_POLICY: Final = "default-src 'self'; connect-src 'self' ws: wss: http: https:"
_TEXT_TYPES: Final = ("text/", "application/javascript", "application/json", "image/svg+xml")


def response(
    status: HTTPStatus,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    extra: dict[str, str] | None = None,
) -> Response:
    headers = Headers(
        {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Connection": "close",
        }
    )
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status.value, status.phrase, headers, body)


def text(status: HTTPStatus, message: str, *, extra: dict[str, str] | None = None) -> Response:
    return response(status, (message.rstrip("\n") + "\n").encode(), extra=extra)


def not_found() -> Response:
    return text(HTTPStatus.NOT_FOUND, "not found")


def static_file(static_dir: Path, name: str) -> Response:
    """A file directly or below ``static_dir``; 404 for anything outside it or missing."""
    root = static_dir.resolve()
    if not name or "\x00" in name or "\\" in name:
        return not_found()
    try:
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return not_found()
    if not target.is_relative_to(root) or not target.is_file():
        return not_found()
    try:
        body = target.read_bytes()
    except OSError:
        return not_found()
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith(_TEXT_TYPES):
        content_type += "; charset=utf-8"
    return response(HTTPStatus.OK, body, content_type=content_type)


def route(path: str, *, ready: bool, static_dir: Path, ingest_url: str) -> Response:
    """The response to a plain HTTP GET of ``path`` (query string removed)."""
    if path == "/healthz":
        return text(HTTPStatus.OK, "ok")
    if path == "/readyz":
        if ready:
            return text(HTTPStatus.OK, "ready")
        return text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready")
    if path in ("/", "/index.html"):
        return static_file(static_dir, "index.html")
    if path == "/config.json":
        body = json.dumps({"ingest_url": ingest_url}).encode()
        return response(HTTPStatus.OK, body, content_type="application/json")
    if path.startswith("/static/"):
        return static_file(static_dir, path.removeprefix("/static/"))
    return not_found()
