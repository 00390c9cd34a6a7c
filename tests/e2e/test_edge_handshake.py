"""The edge's handshake, HTTP routes and shutdown, against a real edge process.

Identity (DESIGN.md, "Handshake and identity"): a bearer token in the header or
the ``apex.bearer.`` subprotocol, a demo user without credentials when demo mode
is on, HTTP 401 before the upgrade for any bad token in every mode.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request

import jwt
import pytest

from tests.e2e.conftest import EdgeCloud, EdgeLauncher, EdgeProcess
from tests.e2e.ws_client import Refusal, Via, connect, refusal, run

pytestmark = pytest.mark.emulators


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def refused(edge: EdgeProcess, token: str | None, via: Via = "header") -> Refusal:
    return run(lambda: refusal(edge.ws_url, token=token, via=via))


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("via", ["header", "subprotocol"])
def test_valid_token_is_its_subject(edge: EdgeProcess, via: Via) -> None:
    token = edge.token("alice-" + via)

    async def body() -> None:
        async with connect(edge.ws_url, token=token, via=via) as client:
            assert client.ready["type"] == "connection_ready"
            assert client.ready["user_id"] == "alice-" + via
            assert client.ready["demo"] is False
            assert client.ready["protocol"] == "apex.v1"
            assert "session_token" not in client.ready
            assert client.subprotocol == "apex.v1"
            response = client.ws.response
            assert response is not None
            for name, value in response.headers.raw_items():
                assert token not in value, f"the token is echoed in the {name} header"
            assert token not in bytes(response.body).decode()

    run(body)


def test_no_token_with_demo_mode_off_is_401(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("nodemo", {"DEMO_MODE": "0"})
    answer = refused(edge, None)
    assert answer.status == 401
    assert "bearer token is required" in answer.body
    # A real user still gets in.
    token = edge.token("bob")

    async def body() -> None:
        async with connect(edge.ws_url, token=token) as client:
            assert client.user_id == "bob"

    run(body)


def _expired(edge: EdgeProcess) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "eve", "iat": now - 600, "exp": now - 60}, edge.jwt_secret, "HS256")


def _alg_none(edge: EdgeProcess) -> str:
    return jwt.encode({"sub": "eve", "exp": int(time.time()) + 600}, "", algorithm="none")


def _wrong_secret(edge: EdgeProcess) -> str:
    payload = {"sub": "eve", "exp": int(time.time()) + 600}
    return jwt.encode(payload, "x" * 48, algorithm="HS256")


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (_expired, "expired"),
        (_alg_none, "algorithm"),
        (_wrong_secret, "Signature verification failed"),
        (lambda edge: "not-a-jwt", "not a well-formed JWT"),
    ],
    ids=["expired", "alg-none", "wrong-secret", "garbage"],
)
@pytest.mark.parametrize("via", ["header", "subprotocol"])
def test_bad_token_is_401_even_in_demo_mode(
    edge: EdgeProcess, make_token: object, reason: str, via: Via
) -> None:
    assert callable(make_token)
    token = str(make_token(edge))
    answer = refused(edge, token, via)
    assert answer.status == 401
    assert reason in answer.body
    assert token not in answer.body
    assert all(token not in value for value in answer.headers.values())


def test_malformed_authorization_header_is_401(edge: EdgeProcess) -> None:
    answer = run(lambda: refusal(edge.ws_url, headers={"Authorization": "Basic Zm9v"}))
    assert answer.status == 401
    assert "Bearer <token>" in answer.body


def test_demo_session_token_keeps_the_demo_identity(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url) as first:
            assert first.ready["demo"] is True
            assert first.user_id.startswith("demo-user-")
            session_token = first.ready["session_token"]
            assert isinstance(session_token, str)
        async with connect(edge.ws_url, token=session_token, via="subprotocol") as second:
            assert second.user_id == first.user_id
            assert second.ready["demo"] is True
        async with connect(edge.ws_url) as other:
            assert other.user_id != first.user_id

    run(body)


def test_production_refuses_no_token_even_with_demo_mode_on(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("production", {"ENVIRONMENT": "production", "DEMO_MODE": "1"})
    answer = refused(edge, None)
    assert answer.status == 401
    assert "demo mode is off" in answer.body

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token("carol")) as client:
            assert client.user_id == "carol"
            assert client.ready["demo"] is False

    run(body)


# ---------------------------------------------------------------- HTTP


def test_health_and_readiness(edge: EdgeProcess) -> None:
    assert http_get(edge.http_url + "/healthz")[0] == 200
    assert http_get(edge.http_url + "/readyz")[0] == 200


def test_chat_page_config_and_static_files(edge: EdgeProcess) -> None:
    status, headers, page = http_get(edge.http_url + "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == (
        "default-src 'self'; connect-src 'self' ws: wss: http: https:"
    )
    assert b"Netra Apex" in page
    assert http_get(edge.http_url + "/static/index.html")[2] == page

    status, headers, config = http_get(edge.http_url + "/config.json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert config == b'{"ingest_url": "/api/usage"}'

    for path in (
        "/static/../settings.py",
        "/static/%2e%2e/settings.py",
        "/static/..%2fsettings.py",
        "/static/",
        "/static/missing.js",
        "/nowhere",
    ):
        assert http_get(edge.http_url + path)[0] == 404, path


def test_ingest_url_comes_from_the_environment(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("ingest", {"INGEST_URL": "http://127.0.0.1:8082/"})
    assert (
        http_get(edge.http_url + "/config.json")[2] == b'{"ingest_url": "http://127.0.0.1:8082/"}'
    )


# ---------------------------------------------------------------- shutdown


def test_sigterm_closes_sockets_with_1001_and_deletes_the_subscription(
    edge_launcher: EdgeLauncher, edge_cloud: EdgeCloud
) -> None:
    edge = edge_launcher.start_fresh("sigterm")
    assert edge_cloud.subscription_exists(edge.subscription)

    async def body() -> None:
        async with (
            connect(edge.ws_url, token=edge.token("dave")) as one,
            connect(edge.ws_url) as two,
        ):
            edge.child.popen.send_signal(signal.SIGTERM)
            for client in (one, two):
                closed = await client.wait_closed()
                assert closed.code == 1001
                assert closed.reason == "server shutting down, reconnect and resume"

    run(body)
    try:
        code = edge.child.popen.wait(timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("the edge did not exit within 8 s of SIGTERM")
    assert code == 0, edge.child.tail()
    assert not edge_cloud.subscription_exists(edge.subscription)
