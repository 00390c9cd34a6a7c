"""The edge's settings, read once from the environment at start.

Every knob has a safe default; a malformed value is an
:class:`apex_core.env.SettingsError` that names the variable, what it holds and
what was expected, so the process refuses to start instead of running with a
surprise.

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
``EDGE_SUBSCRIBE_RETRY_SECONDS``   retrying the subscription's create
                                   at start-up, at most                10
``EDGE_SHUTDOWN_SECONDS``          SIGTERM to exit, at most            7
``EDGE_USER_MESSAGES_PER_MINUTE``  a user's ``user_message`` frames   20
``EDGE_USER_BUDGET_PER_MINUTE``    a user's frames + documents read    1200
``EDGE_DEMO_HANDSHAKES_PER_MINUTE`` new demo users per client address  20
``EDGE_FORWARDED_FOR_HOPS``        client address: this entry from
                                   the end of X-Forwarded-For (0: the
                                   TCP peer)                           0
``EDGE_RATE_LIMIT_STRIKES``        refusals in a row, then 1008        10
``EDGE_MAX_SOCKETS_PER_USER``      open sockets of one user            10
``EDGE_MAX_QUEUED_EVENTS``         a socket's backlog, then 1001       2000
``ALLOWED_ORIGINS``                origins whose pages may open a
                                   socket (comma-separated)            the page's
``EDGE_GAP_WAIT_SECONDS``          a gap's wait for missing seqs       5
``EDGE_TAIL_CHECK_SECONDS``        quiet time, then unfinished runs
                                   are read from the store             10
=================================  ==================================  =========

All the budgets are per user (or per address) and per instance.

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
from apex_core.env import Env, SettingsError
from apex_core.identity import AuthSettings
from apex_core.protocol import MAX_CLIENT_FRAME_BYTES
from edge_ws.origins import parse_allowed_origins

DEFAULT_STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
DEFAULT_INGEST_URL: Final = "/api/usage"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """How long things may take, in seconds."""

    max_connection_seconds: float = 3300.0
    ping_interval_seconds: float = 20.0
    ping_timeout_seconds: float = 20.0
    publish_timeout_seconds: float = 10.0
    store_timeout_seconds: float = 10.0
    heartbeat_seconds: float = 300.0
    subscribe_retry_seconds: float = 10.0
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
    user_budget_per_minute: int = 1200
    demo_handshakes_per_minute: int = 20
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
    # None: only the page's own origin (the request's Host) may open a socket.
    allowed_origins: frozenset[str] | None = None
    forwarded_for_hops: int = 0

    @property
    def events_subscription(self) -> str:
        return names.edge_events_subscription(self.instance_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EdgeSettings:
        """Read every setting; raises :class:`SettingsError` (or the auth settings'
        ``AuthenticationError``) for a value that cannot be used."""
        env = Env(environ)
        timeouts = Timeouts(
            max_connection_seconds=env.seconds("EDGE_MAX_CONNECTION_SECONDS", 3300.0),
            ping_interval_seconds=env.seconds("EDGE_PING_INTERVAL_SECONDS", 20.0),
            ping_timeout_seconds=env.seconds("EDGE_PING_TIMEOUT_SECONDS", 20.0),
            publish_timeout_seconds=env.seconds("EDGE_PUBLISH_TIMEOUT_SECONDS", 10.0),
            store_timeout_seconds=env.seconds("EDGE_STORE_TIMEOUT_SECONDS", 10.0),
            heartbeat_seconds=env.seconds("EDGE_HEARTBEAT_SECONDS", 300.0),
            subscribe_retry_seconds=env.seconds("EDGE_SUBSCRIBE_RETRY_SECONDS", 10.0),
            shutdown_seconds=env.seconds("EDGE_SHUTDOWN_SECONDS", 7.0),
            gap_wait_seconds=env.seconds("EDGE_GAP_WAIT_SECONDS", 5.0),
            tail_check_seconds=env.seconds("EDGE_TAIL_CHECK_SECONDS", 10.0),
        )
        limits = Limits(
            user_messages_per_minute=env.count("EDGE_USER_MESSAGES_PER_MINUTE", 20),
            user_budget_per_minute=env.count("EDGE_USER_BUDGET_PER_MINUTE", 1200),
            demo_handshakes_per_minute=env.count("EDGE_DEMO_HANDSHAKES_PER_MINUTE", 20),
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
        try:
            allowed_origins = parse_allowed_origins(environ.get("ALLOWED_ORIGINS"))
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        hops = env.count("EDGE_FORWARDED_FOR_HOPS", 0, minimum=0)
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
            allowed_origins=allowed_origins,
            forwarded_for_hops=hops,
        )


def _valid_instance_id(value: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 0 < len(value) <= 60 and set(value) <= allowed
