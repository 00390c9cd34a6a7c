"""Who is calling: JWT verification and demo identities, shared by the edge and ingest.

The rules (DESIGN.md, "Handshake and identity", tightened by docs/SECURITY.md):

* a user token is verified with HS256 and ``JWT_SECRET``, or with RS256/ES256
  against the keys at ``JWT_JWKS_URL``. With ``JWT_JWKS_URL``, ``JWT_ISSUER`` and
  ``JWT_AUDIENCE`` are required (else the process refuses to start), and HS256
  user tokens are accepted next to it only with ``JWT_ALLOW_HS256=1``;
* ``exp``, ``iat`` and ``sub`` are required; ``exp - iat`` is at most
  ``JWT_MAX_LIFETIME_SECONDS`` (24 h) and ``iat`` is not in the future;
  ``alg: none``, unknown keys and an ``alg`` that does not fit its key are refused;
* ``sub`` becomes a Firestore path segment (``users/{sub}/…``): it must be
  1-128 printable characters without ``/``, not ``.``/``..``, not ``__…__``, and a
  user token may not claim a demo user's id;
* a bad token is refused in every mode (it never falls back to demo);
* no token: with demo mode on, the caller is a fresh demo user and receives a
  ``session_token`` (HS256 with ``DEMO_SESSION_SECRET``, never ``JWT_SECRET``;
  issuer :data:`DEMO_ISSUER`) that keeps that identity until an absolute end
  :data:`DEMO_SESSION_LIFETIME` after the session began: refreshing it on a
  reconnect keeps that end. With demo mode off, the caller is refused;
* demo mode is on only when asked for: ``DEMO_MODE=1``, or ``DEMO_MODE`` unset
  with ``ENVIRONMENT`` one of ``local``/``dev``/``test``; ``ENVIRONMENT=production``
  turns it off whatever ``DEMO_MODE`` says, and then demo session tokens are
  refused too.

The only I/O is the JWKS fetch, done by ``jwt.PyJWKClient`` only when
``JWT_JWKS_URL`` is set.
"""

from __future__ import annotations

import re
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
DEMO_SESSION_LIFETIME: Final = timedelta(days=7)
DEFAULT_MAX_TOKEN_LIFETIME: Final = timedelta(hours=24)
MAX_USER_ID_CHARS: Final = 128
DEMO_ENVIRONMENTS: Final = frozenset({"local", "dev", "test"})
_KEY_TYPE: Final = {"RS256": "RSA", "ES256": "EC"}
_MIN_SECRET_BYTES: Final = 32
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_UNPRINTABLE: Final = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    demo: bool
    # A demo identity restored from a session token: when that session ends (unix
    # seconds). A refreshed session token keeps this end.
    session_expires_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthSettings:
    demo_mode: bool
    jwt_secret: str | None = None
    demo_secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    max_token_lifetime: timedelta = DEFAULT_MAX_TOKEN_LIFETIME

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthSettings:
        """Read and check the auth variables; raises :class:`AuthenticationError` for a
        combination that would accept more than it should."""
        environment = environ.get("ENVIRONMENT", "").strip().lower()
        asked = _flag(environ, "DEMO_MODE")
        if environment == "production":
            demo_mode = False
        elif asked is not None:
            demo_mode = asked
        else:
            demo_mode = environment in DEMO_ENVIRONMENTS
        secret = _secret(environ, "JWT_SECRET")
        demo_secret = _secret(environ, "DEMO_SESSION_SECRET")
        if demo_mode and demo_secret is None:
            raise AuthenticationError(
                "demo mode needs DEMO_SESSION_SECRET to sign demo session tokens (a key of "
                "its own, not JWT_SECRET); scripts/dev makes one. Or set DEMO_MODE=0"
            )
        if demo_secret is not None and demo_secret == secret:
            raise AuthenticationError(
                "DEMO_SESSION_SECRET must differ from JWT_SECRET: a demo session key must "
                "never sign user tokens"
            )
        jwks_url = environ.get("JWT_JWKS_URL") or None
        issuer = environ.get("JWT_ISSUER") or None
        audience = environ.get("JWT_AUDIENCE") or None
        if jwks_url is not None:
            for name, value in (("JWT_ISSUER", issuer), ("JWT_AUDIENCE", audience)):
                if value is None:
                    raise AuthenticationError(
                        f"JWT_JWKS_URL is set but {name} is not: a shared key set (Firebase "
                        "Auth, Auth0) signs tokens of other applications too; set JWT_ISSUER "
                        "and JWT_AUDIENCE to this application's"
                    )
            if secret is not None and not _flag(environ, "JWT_ALLOW_HS256"):
                raise AuthenticationError(
                    "JWT_SECRET and JWT_JWKS_URL are both set: HS256 user tokens would be "
                    "accepted next to the key set. Remove JWT_SECRET, or set "
                    "JWT_ALLOW_HS256=1 if that is intended"
                )
        return cls(
            demo_mode=demo_mode,
            jwt_secret=secret,
            demo_secret=demo_secret,
            jwks_url=jwks_url,
            issuer=issuer,
            audience=audience,
            max_token_lifetime=_lifetime(environ, "JWT_MAX_LIFETIME_SECONDS"),
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
        user_id = claims["sub"]  # a usable id: _decode checked it
        if user_id.startswith(names.DEMO_USER_PREFIX):
            raise AuthenticationError(
                f"the token's 'sub' starts with {names.DEMO_USER_PREFIX!r}, which is reserved for "
                "demo users; the identity provider must issue another id"
            )
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > self.settings.max_token_lifetime.total_seconds():
            raise AuthenticationError(
                f"the bearer token's lifetime (exp - iat = {lifetime} s) exceeds the "
                f"maximum of {int(self.settings.max_token_lifetime.total_seconds())} s; "
                "issue shorter-lived tokens"
            )
        return Identity(user_id=user_id, demo=False)

    def _verify_demo(self, token: str, alg: object) -> Identity:
        if not self.settings.demo_mode or self.settings.demo_secret is None:
            raise AuthenticationError("demo session tokens are not accepted: demo mode is off")
        if alg != "HS256":
            raise AuthenticationError(f"demo session tokens are HS256; this one says {alg!r}")
        claims = _decode(
            token,
            self.settings.demo_secret,
            ["HS256"],
            issuer=DEMO_ISSUER,
            audience=DEMO_AUDIENCE,
        )
        user_id = str(claims["sub"])
        if claims.get("demo") is not True or not names.is_demo_user_id(user_id):
            raise AuthenticationError("the demo session token does not name a demo user")
        started = claims.get("session_start", claims["iat"])
        if not isinstance(started, int) or claims["exp"] - started > _seconds(
            DEMO_SESSION_LIFETIME
        ):
            raise AuthenticationError("the demo session token outlives a demo session")
        return Identity(user_id=user_id, demo=True, session_expires_at=int(claims["exp"]))

    def _verify_user(self, token: str, alg: object) -> dict[str, Any]:
        s = self.settings
        if alg == "HS256":
            if s.jwt_secret is None:
                raise AuthenticationError(
                    "HS256 user tokens are not accepted here (JWT_SECRET is not set)"
                )
            return _decode(token, s.jwt_secret, ["HS256"], issuer=s.issuer, audience=s.audience)
        if isinstance(alg, str) and alg in _KEY_TYPE:
            if self._jwks is None:
                raise AuthenticationError(f"{alg} tokens are not accepted: JWT_JWKS_URL is not set")
            try:
                signing_key = self._jwks.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientError as exc:
                raise AuthenticationError(f"the token's signing key is unknown ({exc})") from exc
            except jwt.PyJWTError as exc:
                raise AuthenticationError(f"the token's signing key is unusable ({exc})") from exc
            key_alg = signing_key.algorithm_name
            if signing_key.key_type != _KEY_TYPE[alg] or key_alg not in (alg, None):
                raise AuthenticationError(
                    f"the token says {alg} but its key is a {signing_key.key_type} key for "
                    f"{key_alg}; refused"
                )
            return _decode(token, signing_key.key, [alg], issuer=s.issuer, audience=s.audience)
        raise AuthenticationError(
            f"unsupported token algorithm {alg!r}; expected HS256, RS256 or ES256"
        )

    def issue_demo_session_token(
        self,
        user_id: str,
        *,
        now: datetime | None = None,
        session_expires_at: int | None = None,
    ) -> str:
        """A signed token that proves ``user_id`` on a reconnect or an upload.

        A new session ends :data:`DEMO_SESSION_LIFETIME` after ``now``; a refresh
        passes the session's end (``Identity.session_expires_at``) and keeps it.
        """
        if self.settings.demo_secret is None:
            raise AuthenticationError(
                "cannot sign a demo session token: DEMO_SESSION_SECRET is not set"
            )
        issued = int((now or datetime.now(UTC)).timestamp())
        limit = issued + _seconds(DEMO_SESSION_LIFETIME)
        expires = limit if session_expires_at is None else session_expires_at
        if expires > limit:
            raise AuthenticationError(
                "a demo session token cannot end later than the demo session lifetime allows"
            )
        claims = {
            "iss": DEMO_ISSUER,
            "aud": DEMO_AUDIENCE,
            "sub": user_id,
            "demo": True,
            "iat": issued,
            "session_start": expires - _seconds(DEMO_SESSION_LIFETIME),
            "exp": expires,
        }
        return jwt.encode(claims, self.settings.demo_secret, algorithm="HS256")


def check_user_id(user_id: object) -> None:
    """Raise :class:`AuthenticationError` unless ``user_id`` is safe as one Firestore
    path segment and in logs."""
    if not isinstance(user_id, str) or not user_id:
        raise AuthenticationError("the bearer token's 'sub' claim must be a non-empty string")
    if (
        len(user_id) > MAX_USER_ID_CHARS
        or "/" in user_id
        or user_id in (".", "..")
        or (user_id.startswith("__") and user_id.endswith("__"))
        or _UNPRINTABLE.search(user_id)
    ):
        raise AuthenticationError(
            f"the bearer token's 'sub' claim is not a usable user id: expected 1-"
            f"{MAX_USER_ID_CHARS} printable characters without '/' or spaces, not '.', '..' "
            "or '__…__'"
        )


def _decode(
    token: str, key: Any, algorithms: list[str], *, issuer: str | None, audience: str | None
) -> dict[str, Any]:
    options: Options = {"require": ["exp", "iat", "sub"], "verify_aud": audience is not None}
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, issuer=issuer, audience=audience, options=options
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("the bearer token has expired; sign in again") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AuthenticationError(
            f"the bearer token was refused: its iat is in the future ({exc})"
        ) from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the bearer token was refused: {exc}") from exc
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
        raise AuthenticationError("the bearer token's iat and exp must be whole seconds")
    check_user_id(claims["sub"])
    return claims


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def _flag(environ: Mapping[str, str], name: str) -> bool | None:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise AuthenticationError(f"{name} must be 1 or 0 (true/false, yes/no); it is {raw[:40]!r}")


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    secret = environ.get(name) or None
    if secret is not None and len(secret.encode()) < _MIN_SECRET_BYTES:
        raise AuthenticationError(
            f"{name} must be at least {_MIN_SECRET_BYTES} bytes for HS256; it has "
            f"{len(secret.encode())}. Generate one with "
            "'python -c \"import secrets; print(secrets.token_urlsafe(48))\"'"
        )
    return secret


def _lifetime(environ: Mapping[str, str], name: str) -> timedelta:
    raw = environ.get(name, "").strip()
    if not raw:
        return DEFAULT_MAX_TOKEN_LIFETIME
    if not raw.isdigit() or not 0 < int(raw) <= 31 * 86400:
        raise AuthenticationError(
            f"{name} must be a whole number of seconds from 1 to 2678400; it is {raw[:40]!r}"
        )
    return timedelta(seconds=int(raw))


def new_demo_user_id(now: datetime | None = None) -> str:
    """``demo-user-<unix seconds>-<random>``."""
    moment = now or datetime.now(UTC)
    return f"{names.DEMO_USER_PREFIX}{int(moment.timestamp())}-{secrets.token_hex(4)}"
