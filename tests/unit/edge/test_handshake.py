"""Credentials from the handshake request (edge_ws.handshake)."""

from __future__ import annotations

import time

import jwt
import pytest
from websockets.datastructures import Headers

from apex_core.errors import AuthenticationError
from apex_core.identity import AuthSettings, TokenVerifier
from edge_ws.handshake import authenticate, bearer_token, select_subprotocol

SECRET = "s" * 48


def token(sub: str = "alice", ttl: int = 300) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iat": now - max(0, -ttl) - 1, "exp": now + ttl}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def verifier(**env: str) -> TokenVerifier:
    base = {"JWT_SECRET": SECRET, "DEMO_MODE": "1", "DEMO_SESSION_SECRET": "d" * 48}
    return TokenVerifier(AuthSettings.from_env({**base, **env}))


def test_bearer_from_the_header_or_the_subprotocol() -> None:
    t = token()
    assert bearer_token(Headers({"Authorization": f"Bearer {t}"})) == t
    assert bearer_token(Headers({"Authorization": f"bearer   {t}"})) == t
    assert bearer_token(Headers({"Sec-WebSocket-Protocol": f"apex.v1, apex.bearer.{t}"})) == t
    both = Headers({"Authorization": f"Bearer {t}", "Sec-WebSocket-Protocol": f"apex.bearer.{t}"})
    assert bearer_token(both) == t
    assert bearer_token(Headers({"Sec-WebSocket-Protocol": "apex.v1"})) is None
    assert bearer_token(Headers()) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"Sec-WebSocket-Protocol": "apex.v1, apex.bearer."},
        {"Sec-WebSocket-Protocol": "apex.bearer.a, apex.bearer.b"},
        {"Authorization": "Bearer a.b.c", "Sec-WebSocket-Protocol": "apex.bearer.x.y.z"},
        {"Sec-WebSocket-Protocol": "apex.v1,,;"},
    ],
)
def test_malformed_credentials_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(AuthenticationError):
        bearer_token(Headers(headers))


def test_a_token_gives_its_subject_and_its_expiry() -> None:
    t = token("bob", ttl=120)
    handshake = authenticate(Headers({"Authorization": f"Bearer {t}"}), verifier())
    assert handshake.identity.user_id == "bob"
    assert handshake.identity.demo is False
    assert handshake.session_token is None
    assert handshake.expires_at == jwt.decode(t, options={"verify_signature": False})["exp"]
    assert handshake.connection_id.startswith("c-")


def test_no_credentials_in_demo_mode_is_a_demo_user_with_a_session_token() -> None:
    v = verifier()
    handshake = authenticate(Headers(), v)
    assert handshake.identity.demo is True
    assert handshake.expires_at is None
    assert handshake.session_token is not None
    again = authenticate(Headers({"Authorization": f"Bearer {handshake.session_token}"}), v)
    assert again.identity.user_id == handshake.identity.user_id
    assert again.identity.demo
    assert again.session_token is not None
    # the refreshed token ends when the first one does, and the socket closes then
    first_exp = jwt.decode(handshake.session_token, options={"verify_signature": False})["exp"]
    assert jwt.decode(again.session_token, options={"verify_signature": False})["exp"] == first_exp
    assert again.expires_at == first_exp


def test_no_credentials_without_demo_mode_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="required"):
        authenticate(Headers(), verifier(DEMO_MODE="0"))


def test_a_bad_token_never_falls_back_to_demo() -> None:
    expired = token(ttl=-60)
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate(Headers({"Authorization": f"Bearer {expired}"}), verifier())


def test_the_server_selects_apex_v1_and_never_a_bearer() -> None:
    assert select_subprotocol(["apex.bearer.abc", "apex.v1"]) == "apex.v1"
    assert select_subprotocol(["apex.bearer.abc"]) is None
    assert select_subprotocol([]) is None
