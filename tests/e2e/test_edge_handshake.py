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
    host = f"127.0.0.1:{edge.port}"
    assert headers["Content-Security-Policy"] == (
        f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
    )
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers  # plain http: no HSTS
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


# ---------------------------------------------------------------- issue 12


def http_get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_hsts_only_when_the_load_balancer_says_https(edge: EdgeProcess) -> None:
    _, headers, _ = http_get_with(edge.http_url + "/", {"X-Forwarded-Proto": "https"})
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    _, headers, _ = http_get_with(edge.http_url + "/", {"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in headers


def test_the_ingest_origin_is_the_only_other_place_the_page_may_connect(
    edge_launcher: EdgeLauncher,
) -> None:
    edge = edge_launcher.start("ingest", {"INGEST_URL": "http://127.0.0.1:8082/"})
    _, headers, _ = http_get(edge.http_url + "/")
    host = f"127.0.0.1:{edge.port}"
    assert (
        f"connect-src 'self' ws://{host} wss://{host} http://127.0.0.1:8082;"
        in (headers["Content-Security-Policy"])
    )


def test_a_foreign_origin_is_refused_with_403_and_no_origin_is_allowed(
    edge: EdgeProcess,
) -> None:
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{edge.port}.evil.example"):
        answer = run(lambda o=origin: refusal(edge.ws_url, headers={"Origin": o}))  # type: ignore[misc]
        assert answer.status == 403, origin
        assert "origin" in answer.body.lower()

    async def body() -> None:
        own = {"Origin": f"http://127.0.0.1:{edge.port}"}
        async with connect(edge.ws_url, headers=own) as browser_like:
            assert browser_like.ready["demo"] is True
        async with connect(edge.ws_url, token=edge.token("cli-user")) as no_origin:
            assert no_origin.user_id == "cli-user"

    run(body)


def test_allowed_origins_replace_the_default(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start(
        "origins", {"ALLOWED_ORIGINS": "https://apex.example.com, https://other.example.com/"}
    )
    own = run(lambda: refusal(edge.ws_url, headers={"Origin": f"http://127.0.0.1:{edge.port}"}))
    assert own.status == 403

    async def body() -> None:
        for origin in ("https://apex.example.com", "https://other.example.com"):
            async with connect(edge.ws_url, headers={"Origin": origin}) as client:
                assert client.ready["type"] == "connection_ready"

    run(body)


def test_outside_the_local_stack_demo_mode_must_be_asked_for(
    edge_launcher: EdgeLauncher,
) -> None:
    edge = edge_launcher.start("staging", {"ENVIRONMENT": "staging", "DEMO_MODE": ""})
    answer = refused(edge, None)
    assert answer.status == 401
    assert "demo mode is off" in answer.body


@pytest.mark.parametrize(
    ("sub", "reason"),
    [
        ("victim/uploads/u1", "not a usable user id"),
        ("__all__", "not a usable user id"),
        ("..", "not a usable user id"),
        ("demo-user-1700000000-0123abcd", "reserved for demo users"),
    ],
)
def test_a_sub_unfit_for_storage_paths_is_401(edge: EdgeProcess, sub: str, reason: str) -> None:
    answer = refused(edge, edge.token(sub))
    assert answer.status == 401
    assert reason in answer.body


def test_a_token_living_longer_than_the_maximum_is_401(edge: EdgeProcess) -> None:
    answer = refused(edge, edge.token("long-lived", ttl_seconds=100 * 365 * 86400))
    assert answer.status == 401
    assert "lifetime" in answer.body
    now = int(time.time())
    no_iat = jwt.encode({"sub": "no-iat", "exp": now + 600}, edge.jwt_secret, "HS256")
    answer = refused(edge, no_iat)
    assert answer.status == 401
    assert "iat" in answer.body


def test_a_demo_session_token_is_not_signed_with_the_user_secret(edge: EdgeProcess) -> None:
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": "apex-demo",
            "aud": "apex",
            "sub": "demo-user-1700000000-0123abcd",
            "demo": True,
            "iat": now,
            "exp": now + 600,
        },
        edge.jwt_secret,
        "HS256",
    )
    answer = refused(edge, forged)
    assert answer.status == 401

    async def body() -> None:
        async with connect(edge.ws_url) as first:
            session_token = first.ready["session_token"]
            first_exp = jwt.decode(session_token, options={"verify_signature": False})["exp"]
        async with connect(edge.ws_url, token=session_token) as second:
            refreshed = second.ready["session_token"]
            assert second.user_id == first.user_id
        # a reconnect never extends the session
        assert jwt.decode(refreshed, options={"verify_signature": False})["exp"] == first_exp

    run(body)
