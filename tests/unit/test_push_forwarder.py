"""The push forwarder's pure parts: the envelope it posts, when it acks, retries, dead-letters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from apex_core.protocol import RunRequest
from emulators.delivery_policy import (
    Backoff,
    DeadLetterPolicy,
    DeliveryPolicy,
    dead_letter_attributes,
)
from emulators.push_forwarder import acks, push_envelope
from functions.delivery import decode_run_request, delivery_count

SUBSCRIPTION = "projects/p/subscriptions/apex-requests-push"


def _request() -> RunRequest:
    return RunRequest(
        run_id="run-1",
        thread_id="thread-1",
        user_id="demo-user-1-abcd",
        text="Analyze my AI costs",
        submitted_at="2026-12-08T03:00:00Z",
    )


def test_the_envelope_has_real_pushs_shape_and_run_agent_decodes_it() -> None:
    request = _request()
    data = request.model_dump_json().encode()
    published = datetime(2026, 12, 8, 4, 5, 6, 789000, tzinfo=timezone(timedelta(hours=1)))

    envelope = push_envelope(
        subscription=SUBSCRIPTION,
        data=data,
        attributes={"run_id": "run-1"},
        message_id="42",
        publish_time=published,
        ordering_key="thread-1",
        delivery_attempt=3,
    )

    assert envelope == {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {"run_id": "run-1"},
            "messageId": "42",
            "publishTime": "2026-12-08T03:05:06.789000Z",
            "orderingKey": "thread-1",
        },
        "subscription": SUBSCRIPTION,
        "deliveryAttempt": 3,
    }
    assert decode_run_request(envelope) == request


def test_an_unordered_message_without_attempts_leaves_those_fields_out() -> None:
    envelope = push_envelope(
        subscription=SUBSCRIPTION,
        data=b"",
        attributes={"CloudPubSubDeadLetterSourceDeliveryCount": "5"},
        message_id="7",
        publish_time=datetime(2026, 1, 1, tzinfo=UTC),
        ordering_key="",
        delivery_attempt=None,
    )

    assert set(envelope) == {"message", "subscription"}
    assert "orderingKey" not in envelope["message"]
    assert envelope["message"]["data"] == ""
    assert delivery_count(envelope) == 5


def test_only_a_2xx_answer_acks() -> None:
    assert [acks(s) for s in (200, 201, 204, 299)] == [True] * 4
    assert [acks(s) for s in (None, 102, 301, 400, 404, 429, 500, 503)] == [False] * 8


def test_the_backoff_doubles_from_the_minimum_up_to_the_maximum() -> None:
    backoff = Backoff(minimum_seconds=1, maximum_seconds=30)
    assert [backoff.after(n) for n in (None, 1, 2, 3, 5, 6, 20)] == [1, 1, 2, 4, 16, 30, 30]


def test_only_the_last_allowed_attempt_is_dead_lettered() -> None:
    policy = DeliveryPolicy(dead_letter=DeadLetterPolicy(topic="t", max_delivery_attempts=5))
    assert [policy.is_last_attempt(n) for n in (None, 1, 4, 5, 6)] == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert not DeliveryPolicy().is_last_attempt(99)


def test_a_dead_letter_carries_the_attributes_pubsub_adds() -> None:
    attributes = dead_letter_attributes(
        {"run_id": "r"},
        subscription=SUBSCRIPTION,
        delivery_attempt=5,
        publish_time="2026-01-01T00:00:00.000000Z",
    )
    assert attributes == {
        "run_id": "r",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": "apex-requests-push",
        "CloudPubSubDeadLetterSourceSubscriptionProject": "p",
        "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-01-01T00:00:00.000000Z",
    }
    assert delivery_count({"message": {"attributes": attributes}}) == 5
