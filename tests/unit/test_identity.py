"""Token verification and demo identities (apex_core.identity)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import jwt.algorithms
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apex_core.errors import AuthenticationError
from apex_core.identity import DEMO_SESSION_LIFETIME, AuthSettings, TokenVerifier

SECRET = "s" * 48
DEMO_SECRET = "d" * 48


def hs256(claims: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def future() -> int:
    return int(time.time()) + 300


def issued() -> int:
    return int(time.time())


def verifier(**env: str) -> TokenVerifier:
    base = {"JWT_SECRET": SECRET, "DEMO_MODE": "1", "DEMO_SESSION_SECRET": DEMO_SECRET}
    return TokenVerifier(AuthSettings.from_env({**base, **env}))


def test_no_token_in_demo_mode_is_a_fresh_demo_user() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    first = verifier().authenticate(None, now=now)
    second = verifier().authenticate(None, now=now)
    assert first.demo
    assert first.user_id.startswith(f"demo-user-{int(now.timestamp())}-")
    assert first.user_id != second.user_id


def test_demo_session_token_keeps_the_identity_and_expires() -> None:
    v = verifier()
    user = v.authenticate(None)
    issued = datetime.now(UTC)
    token = v.issue_demo_session_token(user.user_id, now=issued)
    assert v.authenticate(token).user_id == user.user_id
    assert v.authenticate(token).demo
    stale = v.issue_demo_session_token(
        user.user_id, now=issued - DEMO_SESSION_LIFETIME - timedelta(1)
    )
    with pytest.raises(AuthenticationError, match="expired"):
        v.authenticate(stale)


def test_no_token_with_demo_off_or_in_production_is_refused() -> None:
    for env in ({"DEMO_MODE": "0"}, {"DEMO_MODE": "1", "ENVIRONMENT": "production"}):
        with pytest.raises(AuthenticationError, match="bearer token is required"):
            verifier(**env).authenticate(None)


def test_demo_session_token_refused_when_demo_is_off() -> None:
    token = verifier().issue_demo_session_token("demo-user-1-abcdef01")
    with pytest.raises(AuthenticationError, match="demo mode is off"):
        verifier(ENVIRONMENT="production").authenticate(token)


def test_valid_hs256_token_names_its_subject() -> None:
    identity = verifier().authenticate(hs256({"sub": "alice", "iat": issued(), "exp": future()}))
    assert (identity.user_id, identity.demo) == ("alice", False)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (
            hs256({"sub": "a", "iat": issued(), "exp": future()}, "w" * 48),
            "Signature verification failed",
        ),
        (hs256({"sub": "a", "iat": 0, "exp": 1}), "expired"),
        (hs256({"sub": "a", "iat": issued()}), '"exp"'),
        (hs256({"iat": issued(), "exp": future()}), '"sub"'),
        (jwt.encode({"sub": "a", "exp": future()}, "", algorithm="none"), "'none'"),
        ("not-a-jwt", "well-formed"),
    ],
)
def test_bad_tokens_are_refused_even_in_demo_mode(token: str, reason: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        verifier().authenticate(token)
    assert reason in str(info.value)
    assert token not in str(info.value)


def test_issuer_and_audience_are_checked_when_configured() -> None:
    v = verifier(JWT_ISSUER="https://issuer.example", JWT_AUDIENCE="apex-prod")
    good = {
        "sub": "a",
        "iat": issued(),
        "exp": future(),
        "iss": "https://issuer.example",
        "aud": "apex-prod",
    }
    assert v.authenticate(hs256(good)).user_id == "a"
    with pytest.raises(AuthenticationError):
        v.authenticate(hs256({**good, "aud": "other"}))
    with pytest.raises(AuthenticationError):
        v.authenticate(hs256({**good, "iss": "https://evil.example"}))


def test_rs256_without_jwks_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "a", "exp": future()}, key, algorithm="RS256")
    with pytest.raises(AuthenticationError, match="JWT_JWKS_URL is not set"):
        verifier().authenticate(token)


def test_settings_refuse_a_short_secret_and_demo_without_secret() -> None:
    with pytest.raises(AuthenticationError, match="at least 32 bytes"):
        AuthSettings.from_env({"JWT_SECRET": "short"})
    with pytest.raises(AuthenticationError, match="at least 32 bytes"):
        AuthSettings.from_env({"DEMO_MODE": "1", "DEMO_SESSION_SECRET": "short"})
    with pytest.raises(AuthenticationError, match="demo mode needs DEMO_SESSION_SECRET"):
        AuthSettings.from_env({"DEMO_MODE": "1"})
    assert AuthSettings.from_env({"DEMO_MODE": "0"}).demo_mode is False


# ---------------------------------------------------------------- issue 12: token rules


def now_s() -> int:
    return int(time.time())


def user_claims(**more: object) -> dict[str, object]:
    return {"sub": "alice", "iat": now_s(), "exp": now_s() + 300, **more}


@contextlib.contextmanager
def jwks_verifier(keys: list[dict[str, Any]], **env: str) -> Iterator[TokenVerifier]:
    """A verifier whose JWKS is served over a real loopback HTTP server."""
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = AuthSettings.from_env(
        {
            "DEMO_MODE": "0",
            "JWT_JWKS_URL": f"http://127.0.0.1:{server.server_port}/jwks.json",
            "JWT_ISSUER": "https://issuer.example",
            "JWT_AUDIENCE": "apex",
            **env,
        }
    )
    try:
        yield TokenVerifier(settings)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_jwks_without_issuer_or_audience_refuses_to_start() -> None:
    base = {"DEMO_MODE": "0", "JWT_JWKS_URL": "https://keys.example/jwks.json"}
    for missing in ("JWT_ISSUER", "JWT_AUDIENCE"):
        env = {**base, "JWT_ISSUER": "https://issuer.example", "JWT_AUDIENCE": "apex"}
        del env[missing]
        with pytest.raises(AuthenticationError, match=missing):
            AuthSettings.from_env(env)


def test_hs256_next_to_jwks_needs_an_explicit_switch() -> None:
    env = {
        "DEMO_MODE": "0",
        "JWT_JWKS_URL": "https://keys.example/jwks.json",
        "JWT_ISSUER": "https://issuer.example",
        "JWT_AUDIENCE": "apex",
        "JWT_SECRET": SECRET,
    }
    with pytest.raises(AuthenticationError, match="JWT_ALLOW_HS256"):
        AuthSettings.from_env(env)
    settings = AuthSettings.from_env({**env, "JWT_ALLOW_HS256": "1"})
    claims = user_claims(iss="https://issuer.example", aud="apex")
    assert TokenVerifier(settings).authenticate(hs256(claims)).user_id == "alice"
    # Without JWT_SECRET an HS256 token is refused, whatever it claims.
    without = AuthSettings.from_env({k: v for k, v in env.items() if k != "JWT_SECRET"})
    with pytest.raises(AuthenticationError, match="HS256"):
        TokenVerifier(without).authenticate(hs256(claims))


def test_token_lifetime_is_bounded() -> None:
    v = verifier()
    now = now_s()
    with pytest.raises(AuthenticationError, match="iat"):
        v.authenticate(hs256({"sub": "a", "exp": now + 300}))
    century = hs256({"sub": "a", "iat": now, "exp": now + 100 * 365 * 86400})
    with pytest.raises(AuthenticationError, match="lifetime"):
        v.authenticate(century)
    # Exactly the maximum passes; the maximum is configurable.
    assert v.authenticate(hs256({"sub": "a", "iat": now, "exp": now + 86400})).user_id == "a"
    short = verifier(JWT_MAX_LIFETIME_SECONDS="600")
    with pytest.raises(AuthenticationError, match="lifetime"):
        short.authenticate(hs256({"sub": "a", "iat": now, "exp": now + 601}))
    # An iat in the future would stretch the window: refused.
    with pytest.raises(AuthenticationError, match="iat"):
        v.authenticate(hs256({"sub": "a", "iat": now + 3600, "exp": now + 7200}))


def test_jwks_token_whose_alg_does_not_fit_its_key_is_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    claims = user_claims(iss="https://issuer.example", aud="apex")
    good = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "k1"})
    # An RS256 header naming the EC key: PyJWT would raise TypeError inside decode.
    header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    forged = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        for part in (header, claims)
    )
    with jwks_verifier([{**jwk, "kid": "k1", "use": "sig"}]) as v:
        assert v.authenticate(good).user_id == "alice"
        with pytest.raises(AuthenticationError, match="RS256"):
            v.authenticate(forged + "." + "A" * 342)


def test_jwks_token_for_another_audience_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    other = user_claims(iss="https://issuer.example", aud="someone-else")
    with (
        jwks_verifier([{**jwk, "kid": "r1"}]) as v,
        pytest.raises(AuthenticationError, match=r"[Aa]udience"),
    ):
        v.authenticate(jwt.encode(other, key, algorithm="RS256", headers={"kid": "r1"}))


# ---------------------------------------------------------------- issue 12: demo sessions


def demo_verifier(**env: str) -> TokenVerifier:
    return TokenVerifier(
        AuthSettings.from_env({"DEMO_MODE": "1", "DEMO_SESSION_SECRET": DEMO_SECRET, **env})
    )


def test_demo_session_tokens_are_signed_with_their_own_key() -> None:
    v = demo_verifier(JWT_SECRET=SECRET)
    token = v.issue_demo_session_token("demo-user-1-abcdef01")
    jwt.decode(token, DEMO_SECRET, algorithms=["HS256"], audience="apex")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="apex")
    # A "demo" token signed with the user-token secret is refused.
    now = now_s()
    forged = hs256(
        {
            "iss": "apex-demo",
            "aud": "apex",
            "sub": "demo-user-1-abcdef01",
            "demo": True,
            "iat": now,
            "exp": now + 60,
        }
    )
    with pytest.raises(AuthenticationError):
        v.authenticate(forged)
    with pytest.raises(AuthenticationError, match="DEMO_SESSION_SECRET"):
        AuthSettings.from_env({"DEMO_MODE": "1", "JWT_SECRET": SECRET})
    with pytest.raises(AuthenticationError, match="differ"):
        AuthSettings.from_env(
            {"DEMO_MODE": "1", "JWT_SECRET": SECRET, "DEMO_SESSION_SECRET": SECRET}
        )


def test_demo_session_refresh_never_extends_past_the_absolute_limit() -> None:
    v = demo_verifier()
    start = datetime.now(UTC) - timedelta(days=6)
    first = v.issue_demo_session_token("demo-user-1-abcdef01", now=start)
    identity = v.authenticate(first)
    refreshed = v.issue_demo_session_token(
        identity.user_id, now=datetime.now(UTC), session_expires_at=identity.session_expires_at
    )
    exp = jwt.decode(refreshed, options={"verify_signature": False})["exp"]
    assert exp == int((start + DEMO_SESSION_LIFETIME).timestamp())
    # Asking for a later end than the lifetime allows is refused.
    with pytest.raises(AuthenticationError, match="lifetime"):
        v.issue_demo_session_token(identity.user_id, session_expires_at=now_s() + 30 * 86400)


# ---------------------------------------------------------------- issue 12: demo fail-closed


@pytest.mark.parametrize(
    ("env", "demo"),
    [
        ({}, False),
        ({"ENVIRONMENT": "staging"}, False),
        ({"ENVIRONMENT": "prod"}, False),
        ({"ENVIRONMENT": "local"}, True),
        ({"ENVIRONMENT": "test"}, True),
        ({"DEMO_MODE": "1"}, True),
        ({"DEMO_MODE": "1", "ENVIRONMENT": "staging"}, True),
        ({"DEMO_MODE": "0", "ENVIRONMENT": "local"}, False),
        ({"DEMO_MODE": "1", "ENVIRONMENT": "production"}, False),
    ],
)
def test_demo_mode_is_asked_for_explicitly(env: dict[str, str], demo: bool) -> None:
    settings = AuthSettings.from_env(
        {"DEMO_SESSION_SECRET": DEMO_SECRET, "JWT_SECRET": SECRET, **env}
    )
    assert settings.demo_mode is demo


def test_an_unreadable_demo_mode_refuses_to_start() -> None:
    with pytest.raises(AuthenticationError, match="DEMO_MODE must be"):
        AuthSettings.from_env({"DEMO_MODE": "maybe", "DEMO_SESSION_SECRET": DEMO_SECRET})


# ---------------------------------------------------------------- issue 12: sub in paths


@pytest.mark.parametrize(
    "sub",
    [
        "victim/uploads/u1",
        ".",
        "..",
        "__reserved__",
        "x" * 129,
        "tab\there",
        "demo-user-123-abcdef01",
    ],
)
def test_a_sub_unfit_for_storage_paths_is_refused(sub: str) -> None:
    with pytest.raises(AuthenticationError, match="sub"):
        verifier().authenticate(hs256(user_claims(sub=sub)))


def test_ordinary_subs_pass() -> None:
    for sub in ("auth0|5f7c8ec7c33c6c004bbafe82", "google-oauth2|1234", "a" * 128, "Zx9_-@.x"):
        assert verifier().authenticate(hs256(user_claims(sub=sub))).user_id == sub
