"""Plain HTTP routes: health, readiness, static files, config (edge_ws.http)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_ws.http import CONTENT_SECURITY_POLICY, route


@pytest.fixture
def static(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    (folder / "js").mkdir(parents=True)
    (folder / "index.html").write_text("<h1>hi</h1>")
    (folder / "app.css").write_text("body {}")
    (folder / "js" / "app.js").write_text("export {}")
    (folder / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "secret.txt").write_text("secret")
    return folder


def get(path: str, static: Path, *, ready: bool = True) -> tuple[int, dict[str, str], bytes]:
    response = route(path, ready=ready, static_dir=static, ingest_url="/api/usage")
    return response.status_code, dict(response.headers.raw_items()), bytes(response.body)


def test_health_and_readiness(static: Path) -> None:
    assert get("/healthz", static, ready=False)[0] == 200
    assert get("/readyz", static, ready=False)[0] == 503
    assert get("/readyz", static, ready=True)[0] == 200


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/static/index.html", "text/html; charset=utf-8"),
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/js/app.js", "text/javascript; charset=utf-8"),
        ("/static/logo.png", "image/png"),
    ],
)
def test_static_files_with_their_type_and_security_headers(
    static: Path, path: str, content_type: str
) -> None:
    status, headers, _ = get(path, static)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/js/../../secret.txt",
        "/static//etc/passwd",
        "/static/",
        "/static/js",
        "/static/missing.css",
        "/static/a\\b",
        "/secret.txt",
        "/ws-not",
    ],
)
def test_anything_else_is_404(static: Path, path: str) -> None:
    status, headers, body = get(path, static)
    assert status == 404
    assert b"secret" not in body
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_config_tells_the_page_where_to_upload(static: Path) -> None:
    status, headers, body = get("/config.json", static)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"ingest_url": "/api/usage"}


def test_the_page_may_not_be_framed_and_connects_only_home_and_to_ingest(static: Path) -> None:
    response = route(
        "/", ready=True, static_dir=static, ingest_url="http://127.0.0.1:8082/", host="h:1"
    )
    headers = dict(response.headers.raw_items())
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "connect-src 'self' ws://h:1 wss://h:1 http://127.0.0.1:8082;" in csp
    assert "Strict-Transport-Security" not in headers


def test_a_spoofed_host_never_reaches_the_policy(static: Path) -> None:
    response = route(
        "/", ready=True, static_dir=static, ingest_url="/api/usage", host="x; script-src *"
    )
    assert dict(response.headers.raw_items())["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_hsts_over_https(static: Path) -> None:
    response = route("/", ready=True, static_dir=static, ingest_url="/api/usage", secure=True)
    assert dict(response.headers.raw_items())["Strict-Transport-Security"].startswith("max-age=")
