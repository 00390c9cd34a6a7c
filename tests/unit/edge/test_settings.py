"""The edge's settings from the environment (edge_ws.settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apex_core.env import SettingsError
from apex_core.errors import AuthenticationError
from edge_ws.settings import DEFAULT_STATIC_DIR, EdgeSettings, Limits, Timeouts

SECRET = "s" * 48


def test_defaults() -> None:
    settings = EdgeSettings.from_env({"JWT_SECRET": SECRET})
    assert (settings.host, settings.port, settings.project) == ("127.0.0.1", 8080, "apex-local")
    assert settings.timeouts == Timeouts()
    assert settings.timeouts.max_connection_seconds == 3300.0
    assert settings.timeouts.ping_interval_seconds == 20.0
    assert settings.timeouts.ping_timeout_seconds == 20.0
    assert settings.limits == Limits()
    assert settings.limits.max_frame_bytes == 8192
    assert settings.limits.user_messages_per_minute == 20
    assert settings.ingest_url == "/api/usage"
    assert settings.static_dir == DEFAULT_STATIC_DIR
    assert settings.auth.demo_mode is False  # asked for explicitly, never by default
    assert settings.allowed_origins is None  # the page's own origin
    assert settings.forwarded_for_hops == 0
    assert settings.limits.user_budget_per_minute == 1200
    assert settings.limits.demo_handshakes_per_minute == 20
    assert settings.events_subscription == f"apex-events-edge-{settings.instance_id}"


def test_every_variable_is_read() -> None:
    settings = EdgeSettings.from_env(
        {
            "JWT_SECRET": SECRET,
            "HOST": "0.0.0.0",
            "PORT": "9000",
            "GOOGLE_CLOUD_PROJECT": "p-1",
            "EDGE_INSTANCE_ID": "abc-1",
            "INGEST_URL": "http://127.0.0.1:8082/",
            "EDGE_STATIC_DIR": "/srv/static",
            "EDGE_MAX_CONNECTION_SECONDS": "60",
            "EDGE_PING_INTERVAL_SECONDS": "5",
            "EDGE_PING_TIMEOUT_SECONDS": "6",
            "EDGE_PUBLISH_TIMEOUT_SECONDS": "7",
            "EDGE_STORE_TIMEOUT_SECONDS": "8",
            "EDGE_HEARTBEAT_SECONDS": "9",
            "EDGE_SUBSCRIBE_RETRY_SECONDS": "11",
            "EDGE_SHUTDOWN_SECONDS": "4.5",
            "EDGE_GAP_WAIT_SECONDS": "2",
            "EDGE_USER_MESSAGES_PER_MINUTE": "3",
            "EDGE_RATE_LIMIT_STRIKES": "4",
            "EDGE_MAX_SOCKETS_PER_USER": "5",
            "EDGE_MAX_QUEUED_EVENTS": "100",
        }
    )
    assert (settings.host, settings.port, settings.project) == ("0.0.0.0", 9000, "p-1")
    assert settings.events_subscription == "apex-events-edge-abc-1"
    assert settings.ingest_url == "http://127.0.0.1:8082/"
    assert settings.static_dir == Path("/srv/static")
    assert settings.timeouts == Timeouts(
        max_connection_seconds=60,
        ping_interval_seconds=5,
        ping_timeout_seconds=6,
        publish_timeout_seconds=7,
        store_timeout_seconds=8,
        heartbeat_seconds=9,
        subscribe_retry_seconds=11,
        shutdown_seconds=4.5,
        gap_wait_seconds=2,
    )
    assert settings.limits == Limits(
        user_messages_per_minute=3,
        rate_limit_strikes=4,
        max_sockets_per_user=5,
        max_queued_events=100,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("PORT", "70000"),
        ("EDGE_MAX_CONNECTION_SECONDS", "0"),
        ("EDGE_MAX_CONNECTION_SECONDS", "-5"),
        ("EDGE_MAX_CONNECTION_SECONDS", "soon"),
        ("EDGE_MAX_CONNECTION_SECONDS", "inf"),
        ("EDGE_PING_INTERVAL_SECONDS", "nan"),
        ("EDGE_USER_MESSAGES_PER_MINUTE", "0"),
        ("EDGE_USER_MESSAGES_PER_MINUTE", "2.5"),
        ("EDGE_MAX_SOCKETS_PER_USER", "-1"),
        ("EDGE_INSTANCE_ID", "Has Spaces"),
        ("EDGE_INSTANCE_ID", "x" * 61),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        EdgeSettings.from_env({"JWT_SECRET": SECRET, name: value})
    assert name in raised.value.message
    assert raised.value.code == "misconfigured"


def test_production_turns_demo_mode_off() -> None:
    settings = EdgeSettings.from_env(
        {"JWT_SECRET": SECRET, "DEMO_MODE": "1", "ENVIRONMENT": "production"}
    )
    assert settings.auth.demo_mode is False


def test_demo_mode_without_a_secret_refuses_to_start() -> None:
    with pytest.raises(AuthenticationError):
        EdgeSettings.from_env({"DEMO_MODE": "1"})


def test_allowed_origins_and_forwarded_for_hops() -> None:
    settings = EdgeSettings.from_env(
        {
            "ALLOWED_ORIGINS": "https://Apex.example.com/, http://127.0.0.1:8080",
            "EDGE_FORWARDED_FOR_HOPS": "2",
        }
    )
    assert settings.allowed_origins == frozenset(
        {"https://apex.example.com", "http://127.0.0.1:8080"}
    )
    assert settings.forwarded_for_hops == 2
    for bad in ("apex.example.com", "https://apex.example.com/path", "ftp://x", "https://a b"):
        with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
            EdgeSettings.from_env({"ALLOWED_ORIGINS": bad})
