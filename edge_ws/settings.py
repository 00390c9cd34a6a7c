"""The edge's settings, read once from the environment at start.

Every knob has a safe default; a malformed value is a :class:`SettingsError`
that names the variable, what it holds and what was expected, so the process
refuses to start instead of running with a surprise.

=================================  ==================================  =========
variable                           setting                             default
=================================  ==================================  =========
``HOST`` / ``PORT``                where the server listens            127.0.0.1 / 8080
``GOOGLE_CLOUD_PROJECT``           project of Pub/Sub and Firestore    apex-local
``EDGE_INSTANCE_ID``               suffix of the events subscription   random
``INGEST_URL``                     upload URL given to the page        /api/usage
``EDGE_STATIC_DIR``                folder served at ``/`` and
                                   ``/static/``                        edge_ws/static
``EDGE_MAX_CONNECTION_SECONDS``    a socket's lifetime, then 1001      3300
``EDGE_PING_INTERVAL_SECONDS``     keepalive ping interval             20
``EDGE_PING_TIMEOUT_SECONDS``      keepalive pong deadline             20
``EDGE_PUBLISH_TIMEOUT_SECONDS``   wait for a request's publish        10
``EDGE_STORE_TIMEOUT_SECONDS``     one Firestore call                  10
``EDGE_HEARTBEAT_SECONDS``         refresh of the subscription label   300
``EDGE_SHUTDOWN_SECONDS``          SIGTERM to exit, at most            7
``EDGE_USER_MESSAGES_PER_MINUTE``  per-connection ``user_message``     20
``EDGE_RATE_LIMIT_STRIKES``        refusals in a row, then 1008        10
``EDGE_MAX_SOCKETS_PER_USER``      open sockets of one user            10
``EDGE_MAX_QUEUED_EVENTS``         a socket's backlog, then 1001       2000
``EDGE_GAP_WAIT_SECONDS``          a gap's wait for missing seqs       5
``EDGE_TAIL_CHECK_SECONDS``        quiet time, then unfinished runs
                                   are read from the store             10
=================================  ==================================  =========

Authentication settings (``JWT_SECRET``, ``DEMO_MODE``, ``ENVIRONMENT`` …) are
:class:`apex_core.identity.AuthSettings`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from apex_core import names
from apex_core.errors import ApexError
from apex_core.identity import AuthSettings
from apex_core.protocol import MAX_CLIENT_FRAME_BYTES

DEFAULT_STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
DEFAULT_INGEST_URL: Final = "/api/usage"


class SettingsError(ApexError):
    """An environment variable of the edge holds a value it cannot use."""

    code = "misconfigured"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """How long things may take, in seconds."""

    max_connection_seconds: float = 3300.0
    ping_interval_seconds: float = 20.0
    ping_timeout_seconds: float = 20.0
    publish_timeout_seconds: float = 10.0
    store_timeout_seconds: float = 10.0
    heartbeat_seconds: float = 300.0
    shutdown_seconds: float = 7.0
    # How long a gap in a run's events may wait for the missing seqs (from the
    # store or live) before the events after it are sent anyway.
    gap_wait_seconds: float = 5.0
    # A socket with unfinished runs that receives no event for this long reads their
    # tails from the store (the events stream may have stalled or lost messages).
    tail_check_seconds: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How much of anything one client may use."""

    max_frame_bytes: int = MAX_CLIENT_FRAME_BYTES
    user_messages_per_minute: int = 20
    rate_limit_strikes: int = 10
    max_sockets_per_user: int = 10
    max_queued_events: int = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeSettings:
    auth: AuthSettings
    host: str = "127.0.0.1"
    port: int = names.EDGE_PORT
    project: str = names.DEFAULT_PROJECT
    instance_id: str = field(default_factory=lambda: secrets.token_hex(6))
    ingest_url: str = DEFAULT_INGEST_URL
    static_dir: Path = DEFAULT_STATIC_DIR
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)

    @property
    def events_subscription(self) -> str:
        return names.edge_events_subscription(self.instance_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EdgeSettings:
        """Read every setting; raises :class:`SettingsError` (or the auth settings'
        ``AuthenticationError``) for a value that cannot be used."""
        env = _Env(environ)
        timeouts = Timeouts(
            max_connection_seconds=env.seconds("EDGE_MAX_CONNECTION_SECONDS", 3300.0),
            ping_interval_seconds=env.seconds("EDGE_PING_INTERVAL_SECONDS", 20.0),
            ping_timeout_seconds=env.seconds("EDGE_PING_TIMEOUT_SECONDS", 20.0),
            publish_timeout_seconds=env.seconds("EDGE_PUBLISH_TIMEOUT_SECONDS", 10.0),
            store_timeout_seconds=env.seconds("EDGE_STORE_TIMEOUT_SECONDS", 10.0),
            heartbeat_seconds=env.seconds("EDGE_HEARTBEAT_SECONDS", 300.0),
            shutdown_seconds=env.seconds("EDGE_SHUTDOWN_SECONDS", 7.0),
            gap_wait_seconds=env.seconds("EDGE_GAP_WAIT_SECONDS", 5.0),
            tail_check_seconds=env.seconds("EDGE_TAIL_CHECK_SECONDS", 10.0),
        )
        limits = Limits(
            user_messages_per_minute=env.count("EDGE_USER_MESSAGES_PER_MINUTE", 20),
            rate_limit_strikes=env.count("EDGE_RATE_LIMIT_STRIKES", 10),
            max_sockets_per_user=env.count("EDGE_MAX_SOCKETS_PER_USER", 10),
            max_queued_events=env.count("EDGE_MAX_QUEUED_EVENTS", 2000),
        )
        instance_id = environ.get("EDGE_INSTANCE_ID") or secrets.token_hex(6)
        if not _valid_instance_id(instance_id):
            raise SettingsError(
                f"EDGE_INSTANCE_ID must be 1-60 lowercase letters, digits or '-'; it is "
                f"{instance_id[:80]!r}"
            )
        return cls(
            auth=AuthSettings.from_env(environ),
            host=environ.get("HOST") or "127.0.0.1",
            port=env.port("PORT", names.EDGE_PORT),
            project=environ.get("GOOGLE_CLOUD_PROJECT") or names.DEFAULT_PROJECT,
            instance_id=instance_id,
            ingest_url=environ.get("INGEST_URL") or DEFAULT_INGEST_URL,
            static_dir=Path(environ.get("EDGE_STATIC_DIR") or DEFAULT_STATIC_DIR),
            timeouts=timeouts,
            limits=limits,
        )


def _valid_instance_id(value: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 0 < len(value) <= 60 and set(value) <= allowed


@dataclass(frozen=True, slots=True)
class _Env:
    environ: Mapping[str, str]

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def seconds(self, name: str, default: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise SettingsError(f"{name} must be a positive number of seconds; it is {raw!r}")
        return value

    def count(self, name: str, default: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise SettingsError(f"{name} must be a whole number of at least 1; it is {raw!r}")
        return int(raw)

    def port(self, name: str, default: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SettingsError(f"{name} must be a TCP port (1-65535); it is {raw!r}")
        return int(raw)
