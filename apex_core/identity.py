"""Who is calling: JWT verification and demo identities, shared by the edge and ingest.

The rules (DESIGN.md, "Handshake and identity"):

* a token is verified with HS256 and ``JWT_SECRET``, or with RS256/ES256 against
  the keys at ``JWT_JWKS_URL``; ``JWT_ISSUER`` / ``JWT_AUDIENCE`` are checked when
  set; ``exp`` and ``sub`` are required; ``alg: none`` and unknown keys are refused;
* a bad token is refused in every mode (it never falls back to demo);
* no token: with demo mode on, the caller is a fresh demo user and receives a
  ``session_token`` (HS256, issuer :data:`DEMO_ISSUER`) that keeps that identity;
  with demo mode off, the caller is refused;
* ``ENVIRONMENT=production`` turns demo mode off whatever ``DEMO_MODE`` says, and
  then demo session tokens are refused too.

The only I/O is the JWKS fetch, done by ``jwt.PyJWKClient`` only when
``JWT_JWKS_URL`` is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from jwt.types import Options

from apex_core import names
from apex_core.errors import AuthenticationError

DEMO_ISSUER: Final = "apex-demo"
DEMO_AUDIENCE: Final = "apex"
DEMO_SESSION_TTL: Final = timedelta(days=7)
_ASYMMETRIC: Final = ["RS256", "ES256"]
_MIN_SECRET_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    demo: bool


@dataclass(frozen=True, slots=True)
class AuthSettings:
    demo_mode: bool
    jwt_secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthSettings:
        production = environ.get("ENVIRONMENT", "").lower() == "production"
        demo_mode = environ.get("DEMO_MODE", "1") not in ("0", "false", "no") and not production
        secret = environ.get("JWT_SECRET") or None
        if secret is not None and len(secret.encode()) < _MIN_SECRET_BYTES:
            raise AuthenticationError(
                f"JWT_SECRET must be at least {_MIN_SECRET_BYTES} bytes for HS256; it has "
                f"{len(secret.encode())}. Generate one with "
                "'python -c \"import secrets; print(secrets.token_urlsafe(48))\"'"
            )
        if demo_mode and secret is None:
            raise AuthenticationError(
                "demo mode needs JWT_SECRET to sign demo session tokens; set JWT_SECRET "
                "(scripts/dev makes one) or set DEMO_MODE=0"
            )
        return cls(
            demo_mode=demo_mode,
            jwt_secret=secret,
            jwks_url=environ.get("JWT_JWKS_URL") or None,
            issuer=environ.get("JWT_ISSUER") or None,
            audience=environ.get("JWT_AUDIENCE") or None,
        )


class TokenVerifier:
    """Verifies bearer tokens against one :class:`AuthSettings`.

    Keep one per process: it caches the JWKS client.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def authenticate(self, token: str | None, *, now: datetime | None = None) -> Identity:
        """The identity behind ``token``, or a new demo identity when there is none.

        Raises :class:`AuthenticationError` for a missing token with demo mode off
        and for any token that does not verify.
        """
        if token is None:
            if not self.settings.demo_mode:
                raise AuthenticationError(
                    "a bearer token is required (demo mode is off); send 'Authorization: "
                    "Bearer <jwt>' or offer the subprotocol 'apex.bearer.<jwt>'"
                )
            return Identity(user_id=new_demo_user_id(now), demo=True)
        return self.verify(token)

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the bearer token is not a well-formed JWT ({exc})") from exc
        alg = header.get("alg")
        if unverified.get("iss") == DEMO_ISSUER:
            return self._verify_demo(token, alg)
        claims = self._verify_user(token, alg)
        return Identity(user_id=str(claims["sub"]), demo=False)

    def _verify_demo(self, token: str, alg: object) -> Identity:
        if not self.settings.demo_mode or self.settings.jwt_secret is None:
            raise AuthenticationError("demo session tokens are not accepted: demo mode is off")
        if alg != "HS256":
            raise AuthenticationError(f"demo session tokens are HS256; this one says {alg!r}")
        claims = _decode(
            token, self.settings.jwt_secret, ["HS256"], issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE
        )
        if claims.get("demo") is not True or not names.is_demo_user_id(str(claims["sub"])):
            raise AuthenticationError("the demo session token does not name a demo user")
        return Identity(user_id=str(claims["sub"]), demo=True)

    def _verify_user(self, token: str, alg: object) -> dict[str, Any]:
        s = self.settings
        if alg == "HS256":
            if s.jwt_secret is None:
                raise AuthenticationError("HS256 tokens are not accepted: JWT_SECRET is not set")
            return _decode(token, s.jwt_secret, ["HS256"], issuer=s.issuer, audience=s.audience)
        if alg in _ASYMMETRIC:
            if self._jwks is None:
                raise AuthenticationError(f"{alg} tokens are not accepted: JWT_JWKS_URL is not set")
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise AuthenticationError(f"the token's signing key is unknown ({exc})") from exc
            return _decode(token, key, _ASYMMETRIC, issuer=s.issuer, audience=s.audience)
        raise AuthenticationError(
            f"unsupported token algorithm {alg!r}; expected HS256, RS256 or ES256"
        )

    def issue_demo_session_token(self, user_id: str, *, now: datetime | None = None) -> str:
        """A signed token that proves ``user_id`` on a reconnect or an upload."""
        if self.settings.jwt_secret is None:
            raise AuthenticationError("cannot sign a demo session token: JWT_SECRET is not set")
        issued = now or datetime.now(UTC)
        claims = {
            "iss": DEMO_ISSUER,
            "aud": DEMO_AUDIENCE,
            "sub": user_id,
            "demo": True,
            "iat": int(issued.timestamp()),
            "exp": int((issued + DEMO_SESSION_TTL).timestamp()),
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")


def _decode(
    token: str, key: Any, algorithms: list[str], *, issuer: str | None, audience: str | None
) -> dict[str, Any]:
    options: Options = {"require": ["exp", "sub"], "verify_aud": audience is not None}
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, issuer=issuer, audience=audience, options=options
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("the bearer token has expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the bearer token was refused: {exc}") from exc
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise AuthenticationError("the bearer token's 'sub' claim must be a non-empty string")
    return claims


def new_demo_user_id(now: datetime | None = None) -> str:
    """``demo-user-<unix seconds>-<random>``."""
    moment = now or datetime.now(UTC)
    return f"{names.DEMO_USER_PREFIX}{int(moment.timestamp())}-{secrets.token_hex(4)}"
