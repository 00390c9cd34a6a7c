"""Decoding a push body into a RunRequest, and the settings from the environment."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from apex_core.env import SettingsError
from functions.delivery import Settings, decode_run_request, delivery_count
from functions.errors import MalformedRequest

REQUEST = {
    "run_id": "r-1",
    "thread_id": "t-1",
    "user_id": "u-1",
    "text": "Analyze my AI costs",
    "client_message_id": None,
    "submitted_at": "2025-06-01T12:00:00.000Z",
}


def _push(data: bytes, **attributes: str) -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": "1",
        },
        "subscription": "projects/p/subscriptions/s",
    }


def test_a_valid_request_decodes() -> None:
    request = decode_run_request(_push(json.dumps(REQUEST).encode()))
    assert request.run_id == "r-1"
    assert request.text == "Analyze my AI costs"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "'message' object"),
        ({"message": {}}, "no data"),
        ({"message": {"data": "%%%"}}, "base64"),
        (_push(b"not json"), "base64-encoded JSON"),
        (_push(b"[1, 2]"), "not a valid RunRequest"),
        (_push(json.dumps({**REQUEST, "run_id": ""}).encode()), "run_id"),
        (_push(json.dumps({**REQUEST, "extra": 1}).encode()), "extra"),
    ],
)
def test_a_malformed_message_says_why(body: Any, reason: str) -> None:
    with pytest.raises(MalformedRequest, match=reason):
        decode_run_request(body)


def test_the_dead_letter_delivery_count_comes_from_the_attribute() -> None:
    body = _push(b"{}", CloudPubSubDeadLetterSourceDeliveryCount="7")
    assert delivery_count(body) == 7
    assert delivery_count(_push(b"{}")) == 5


def test_settings_read_the_environment() -> None:
    settings = Settings.from_env({"RUN_DEADLINE_SECONDS": "2.5", "AGENT_STEP_DELAY_MS": "40"})
    assert settings.deadline_seconds == 2.5
    assert settings.step_delay_seconds == pytest.approx(0.04)
    assert Settings.from_env({}).deadline_seconds == 120
    assert Settings.from_env({"AGENT_STEP_DELAY_MS": "0"}).step_delay_seconds == 0
    with pytest.raises(SettingsError, match="RUN_DEADLINE_SECONDS must be a number of seconds"):
        Settings.from_env({"RUN_DEADLINE_SECONDS": "soon"})
    with pytest.raises(SettingsError) as lease:
        Settings.from_env({"RUN_LEASE_SECONDS": "0"})
    assert (
        lease.value.message
        == "RUN_LEASE_SECONDS must be a number of seconds, more than 0; it is '0'"
    )
    with pytest.raises(SettingsError) as delay:
        Settings.from_env({"AGENT_STEP_DELAY_MS": "-1"})
    assert delay.value.message == (
        "AGENT_STEP_DELAY_MS must be a number of milliseconds, 0 or more; it is '-1'"
    )
