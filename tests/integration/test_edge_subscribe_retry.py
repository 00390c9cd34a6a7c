"""The edge's start-up subscription create is retried, on the real Pub/Sub emulator.

On a first deploy the edge's first revision may start before ``apex-events`` or
its grants are visible: :meth:`edge_ws.bus.EventSubscription.open` retries the
create with backoff for ``create_retry_seconds`` instead of failing at once.
Here the topic is missing at first (the emulator answers NotFound, as Pub/Sub
does before the topic exists) and is created once the edge has logged a retry.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from apex_core import names
from apex_core.google_errors import BackendError
from edge_ws.bus import EventSubscription
from tests.conftest import EmulatorEnv

pytestmark = pytest.mark.emulators

WAIT_SECONDS = 30.0
RETRY_MESSAGE = "creating the events subscription failed"


def _subscription(project: str, retry_seconds: float) -> EventSubscription:
    return EventSubscription(
        project,
        names.edge_events_subscription(secrets.token_hex(4)),
        on_event=lambda _user, _frame: None,
        heartbeat_seconds=300,
        create_retry_seconds=retry_seconds,
    )


def _retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum(RETRY_MESSAGE in record.getMessage() for record in caplog.records)


async def _open_once_the_topic_appears(
    project: str, caplog: pytest.LogCaptureFixture
) -> tuple[int, bool]:
    subscription = _subscription(project, retry_seconds=WAIT_SECONDS)
    opening = asyncio.create_task(subscription.open())
    deadline = time.monotonic() + WAIT_SECONDS
    while _retries(caplog) == 0:
        assert not opening.done(), "open() finished before the topic existed"
        assert time.monotonic() < deadline, "the edge never logged a retry"
        await asyncio.sleep(0.02)
    retries_before_topic = _retries(caplog)
    publisher = PublisherClient()
    publisher.create_topic(name=publisher.topic_path(project, names.EVENTS_TOPIC))
    async with asyncio.timeout(WAIT_SECONDS):
        await opening
    try:
        subscriber = SubscriberClient()
        found = subscriber.get_subscription(subscription=subscription.path)
        exists = found.topic.endswith(f"/topics/{names.EVENTS_TOPIC}")
    finally:
        await subscription.close()
    return retries_before_topic, exists


def test_the_subscription_is_created_once_the_topic_appears(
    emulator_env: EmulatorEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge_ws.bus")
    project = f"{emulator_env.project}-retry-{secrets.token_hex(2)}"
    retries, exists = asyncio.run(_open_once_the_topic_appears(project, caplog))
    assert retries >= 1
    assert exists


def test_open_gives_up_after_the_retry_window(
    emulator_env: EmulatorEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge_ws.bus")
    project = f"{emulator_env.project}-noretry-{secrets.token_hex(2)}"
    subscription = _subscription(project, retry_seconds=1.0)

    async def open_and_close() -> None:
        try:
            await subscription.open()
        finally:
            await subscription.close()

    with pytest.raises(BackendError, match="creating the events subscription"):
        asyncio.run(open_and_close())
    # 0.5 s, then 1 s would start past the 1 s window: exactly one retry.
    assert _retries(caplog) == 1
