"""Who is connecting: credentials from the WebSocket handshake request.

DESIGN.md, "Handshake and identity":

1. ``Authorization: Bearer <jwt>`` (CLI, servers), or
2. subprotocols: the client offers ``apex.v1`` and ``apex.bearer.<jwt>``; the
   server selects ``apex.v1`` (:func:`select_subprotocol`) and never echoes the
   token, or
3. no credentials: a demo user when demo mode is on, refused when it is off.

A token that does not verify is refused in every mode: it never falls back to
demo. Pure apart from the JWKS fetch inside :class:`TokenVerifier`; nothing
here logs or returns a token, except the demo ``session_token`` issued for the
client itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader
from websockets.headers import parse_subprotocol
from websockets.typing import Subprotocol

from apex_core.errors import AuthenticationError
from apex_core.identity import Identity, TokenVerifier
from apex_core.protocol import BEARER_SUBPROTOCOL_PREFIX, PROTOCOL, token_from_authorization


@dataclass(frozen=True, slots=True)
class Handshake:
    """The outcome of an accepted handshake, carried to the connection handler."""

    connection_id: str
    identity: Identity
    # For a demo identity: a signed token for the same user, sent in connection_ready.
    session_token: str | None
    # The bearer token's ``exp`` (unix seconds): the socket closes with 1008 then.
    expires_at: float | None


def new_connection_id() -> str:
    return f"c-{uuid.uuid4().hex[:16]}"


def offered_subprotocols(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        try:
            offered.extend(parse_subprotocol(value))
        except InvalidHeader as exc:
            raise AuthenticationError(
                "the Sec-WebSocket-Protocol header is malformed; offer 'apex.v1' and "
                "'apex.bearer.<jwt>' as a comma-separated list"
            ) from exc
    return offered


def bearer_token(headers: Headers) -> str | None:
    """The token from the Authorization header or the bearer subprotocol, or None.

    Raises :class:`AuthenticationError` for a malformed Authorization header,
    several tokens, or two different tokens in the header and the subprotocols.
    """
    from_header: str | None = None
    authorizations = headers.get_all("Authorization")
    if len(authorizations) > 1:
        raise AuthenticationError("send one Authorization header, not several")
    if authorizations:
        from_header = token_from_authorization(authorizations[0])
    from_subprotocol = [
        p[len(BEARER_SUBPROTOCOL_PREFIX) :]
        for p in offered_subprotocols(headers)
        if p.startswith(BEARER_SUBPROTOCOL_PREFIX)
    ]
    if len(from_subprotocol) > 1:
        raise AuthenticationError("offer one 'apex.bearer.<jwt>' subprotocol, not several")
    if from_subprotocol and not from_subprotocol[0]:
        raise AuthenticationError("the 'apex.bearer.' subprotocol carries no token")
    if from_header is not None and from_subprotocol and from_subprotocol[0] != from_header:
        raise AuthenticationError(
            "the Authorization header and the 'apex.bearer.' subprotocol carry different tokens"
        )
    return from_header or (from_subprotocol[0] if from_subprotocol else None)


def authenticate(headers: Headers, verifier: TokenVerifier) -> Handshake:
    """The identity behind a handshake request; raises :class:`AuthenticationError`."""
    token = bearer_token(headers)
    identity = verifier.authenticate(token)
    expires_at: float | None = None
    if token is not None:
        # Verified above, so reading the claim unverified is safe.
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        expires_at = float(exp) if isinstance(exp, int | float) else None
    session_token = (
        verifier.issue_demo_session_token(
            identity.user_id, session_expires_at=identity.session_expires_at
        )
        if identity.demo
        else None
    )
    return Handshake(
        connection_id=new_connection_id(),
        identity=identity,
        session_token=session_token,
        expires_at=expires_at,
    )


def client_address(peer: str | None, headers: Headers, *, hops: int) -> str:
    """Who is connecting, for the per-address demo limit: the TCP peer, or with
    ``hops`` > 0 the ``hops``-th address from the end of ``X-Forwarded-For`` (the
    entries a trusted proxy appended; anything before them the client could forge).
    Google's external Application Load Balancer appends ``<client>,<lb>``: 2."""
    if hops > 0:
        forwarded = [
            item.strip()
            for value in headers.get_all("X-Forwarded-For")
            for item in value.split(",")
            if item.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return peer or "unknown"


def select_subprotocol(offered: Sequence[str]) -> Subprotocol | None:
    """``apex.v1`` when offered, else no subprotocol; never a bearer subprotocol."""
    return Subprotocol(PROTOCOL) if PROTOCOL in offered else None
