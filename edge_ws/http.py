"""The plain HTTP side of the edge: health, readiness, the chat page and its config.

``GET /healthz`` 200 while the process lives; ``GET /readyz`` 200 only once the
instance's events subscription exists and until shutdown starts (else 503);
``GET /`` is ``index.html`` and ``GET /static/<file>`` any file of the static
folder (no directory traversal, 404 otherwise); ``GET /config.json`` tells the
page where to upload usage files. Every response is built here as a
``websockets`` :class:`~websockets.http11.Response` and carries
:func:`security_headers`: a Content-Security-Policy whose ``connect-src`` is the
page's own origin (``ws://``/``wss://`` of the request's ``Host``) and the upload
service, ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (no
clickjacking of the sign-in and upload forms), ``X-Content-Type-Options:
nosniff``, ``Referrer-Policy: no-referrer``, ``Cache-Control: no-cache``, and
HSTS when the load balancer says the request came over https
(``X-Forwarded-Proto: https``; browsers ignore HSTS over plain http anyway).
Pure apart from reading the static file.
"""

from __future__ import annotations

import json
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Response

from edge_ws.origins import normalise, plain_host

HSTS: Final = "max-age=31536000; includeSubDomains"
_OTHER_DIRECTIVES: Final = (
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
)
CONTENT_SECURITY_POLICY: Final = f"default-src 'self'; connect-src 'self'; {_OTHER_DIRECTIVES}"
"""The policy of a response whose request named no usable ``Host``."""
_TEXT_TYPES: Final = ("text/", "application/javascript", "application/json", "image/svg+xml")


def content_security_policy(host: str | None, ingest_url: str | None) -> str:
    """The page may connect to its own origin's sockets and to the upload service."""
    sources = ["'self'"]
    own = plain_host(host)
    if own is not None:
        sources += [f"ws://{own}", f"wss://{own}"]
    ingest = _origin_of(ingest_url)
    if ingest is not None:
        sources.append(ingest)
    return f"default-src 'self'; connect-src {' '.join(sources)}; {_OTHER_DIRECTIVES}"


def security_headers(
    *, host: str | None = None, ingest_url: str | None = None, secure: bool = False
) -> dict[str, str]:
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": content_security_policy(host, ingest_url),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if secure:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def forwarded_https(headers: Headers) -> bool:
    """True when the load balancer in front says the client used https."""
    value = headers.get("X-Forwarded-Proto", "")
    return value.split(",")[0].strip().lower() == "https"


def _origin_of(url: str | None) -> str | None:
    if not url or not urlsplit(url).scheme:
        return None  # a path on the page's own origin
    parts = urlsplit(url)
    return normalise(f"{parts.scheme}://{parts.netloc}")


def response(
    status: HTTPStatus,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    extra: dict[str, str] | None = None,
    security: dict[str, str] | None = None,
) -> Response:
    headers = Headers(
        {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            **(security if security is not None else security_headers()),
            "Connection": "close",
        }
    )
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status.value, status.phrase, headers, body)


def text(
    status: HTTPStatus,
    message: str,
    *,
    extra: dict[str, str] | None = None,
    security: dict[str, str] | None = None,
) -> Response:
    body = (message.rstrip("\n") + "\n").encode()
    return response(status, body, extra=extra, security=security)


def not_found(security: dict[str, str] | None = None) -> Response:
    return text(HTTPStatus.NOT_FOUND, "not found", security=security)


def static_file(static_dir: Path, name: str, security: dict[str, str] | None = None) -> Response:
    """A file directly or below ``static_dir``; 404 for anything outside it or missing."""
    root = static_dir.resolve()
    if not name or "\x00" in name or "\\" in name:
        return not_found(security)
    try:
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return not_found(security)
    if not target.is_relative_to(root) or not target.is_file():
        return not_found(security)
    try:
        body = target.read_bytes()
    except OSError:
        return not_found(security)
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith(_TEXT_TYPES):
        content_type += "; charset=utf-8"
    return response(HTTPStatus.OK, body, content_type=content_type, security=security)


def route(
    path: str,
    *,
    ready: bool,
    static_dir: Path,
    ingest_url: str,
    host: str | None = None,
    secure: bool = False,
) -> Response:
    """The response to a plain HTTP GET of ``path`` (query string removed); ``host``
    is the request's ``Host``, ``secure`` whether it came over https."""
    security = security_headers(host=host, ingest_url=ingest_url, secure=secure)
    if path == "/healthz":
        return text(HTTPStatus.OK, "ok", security=security)
    if path == "/readyz":
        if ready:
            return text(HTTPStatus.OK, "ready", security=security)
        return text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready", security=security)
    if path in ("/", "/index.html"):
        return static_file(static_dir, "index.html", security)
    if path == "/config.json":
        body = json.dumps({"ingest_url": ingest_url}).encode()
        return response(HTTPStatus.OK, body, content_type="application/json", security=security)
    if path.startswith("/static/"):
        return static_file(static_dir, path.removeprefix("/static/"), security)
    return not_found(security)
