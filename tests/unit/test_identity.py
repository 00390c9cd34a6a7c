"""Token verification and demo identities (apex_core.identity)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apex_core.errors import AuthenticationError
from apex_core.identity import DEMO_SESSION_TTL, AuthSettings, TokenVerifier

SECRET = "s" * 48


def hs256(claims: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def future() -> int:
    return int(time.time()) + 300


def verifier(**env: str) -> TokenVerifier:
    return TokenVerifier(AuthSettings.from_env({"JWT_SECRET": SECRET, **env}))


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
    assert v.authenticate(token) == user
    stale = v.issue_demo_session_token(user.user_id, now=issued - DEMO_SESSION_TTL - timedelta(1))
    with pytest.raises(AuthenticationError, match="expired"):
        v.authenticate(stale)


def test_no_token_with_demo_off_or_in_production_is_refused() -> None:
    for env in ({"DEMO_MODE": "0"}, {"DEMO_MODE": "1", "ENVIRONMENT": "production"}):
        with pytest.raises(AuthenticationError, match="bearer token is required"):
            verifier(**env).authenticate(None)


def test_demo_session_token_refused_when_demo_is_off() -> None:
    token = verifier().issue_demo_session_token("demo-user-1-abc")
    with pytest.raises(AuthenticationError, match="demo mode is off"):
        verifier(ENVIRONMENT="production").authenticate(token)


def test_valid_hs256_token_names_its_subject() -> None:
    identity = verifier().authenticate(hs256({"sub": "alice", "exp": future()}))
    assert (identity.user_id, identity.demo) == ("alice", False)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256({"sub": "a", "exp": future()}, "w" * 48), "Signature verification failed"),
        (hs256({"sub": "a", "exp": 1}), "expired"),
        (hs256({"sub": "a"}), '"exp"'),
        (hs256({"exp": future()}), '"sub"'),
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
    good = {"sub": "a", "exp": future(), "iss": "https://issuer.example", "aud": "apex-prod"}
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
    with pytest.raises(AuthenticationError, match="demo mode needs JWT_SECRET"):
        AuthSettings.from_env({})
    assert AuthSettings.from_env({"DEMO_MODE": "0"}).demo_mode is False
