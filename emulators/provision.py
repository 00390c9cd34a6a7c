"""Create the topics and subscriptions of DESIGN.md on the Pub/Sub emulator.

Names come from :mod:`apex_core.names`, the module the CDKTF stack uses too.
Provisioning is idempotent: an existing topic or subscription is left as it is.

``apex-requests-push`` is a *pull* subscription locally (``requests_delivery="pull"``,
the default) with production's ordering, retry and dead-letter settings: the
emulator's own push sends with two threads per subscription, each holding its
message for the whole run, so :mod:`emulators.push_forwarder` pulls it and posts
the push envelope to ``run_agent`` instead. ``requests_delivery="push"`` keeps
the emulator's push (for the benchmark's side-by-side). The dead-letter
subscription is pushed by the emulator. Push endpoints are the local function
URLs (the emulator sends no OIDC token).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import RetryPolicy
from google.protobuf import duration_pb2

from apex_core import names
from emulators.errors import LauncherError

RequestsDelivery = Literal["pull", "push"]

REQUESTS_RETRY_POLICY = RetryPolicy(
    minimum_backoff=duration_pb2.Duration(seconds=1),
    maximum_backoff=duration_pb2.Duration(seconds=30),
)


@dataclass(frozen=True, slots=True)
class PushEndpoints:
    run_agent: str
    dead_letter: str


def requests_subscription(
    *, name: str, topic: str, dead_letter_topic: str, push_endpoint: str | None
) -> dict[str, object]:
    """The ``create_subscription`` request of a run-request subscription: ordered, retried
    with backoff, dead-lettered after ``MAX_DELIVERY_ATTEMPTS``; pushed to ``push_endpoint``,
    or pulled when it is ``None``."""
    request: dict[str, object] = {
        "name": name,
        "topic": topic,
        "ack_deadline_seconds": names.PUSH_ACK_DEADLINE_SECONDS,
        "enable_message_ordering": True,
        "retry_policy": REQUESTS_RETRY_POLICY,
        "dead_letter_policy": {
            "dead_letter_topic": dead_letter_topic,
            "max_delivery_attempts": names.MAX_DELIVERY_ATTEMPTS,
        },
    }
    if push_endpoint is not None:
        request["push_config"] = {"push_endpoint": push_endpoint}
    return request


def provision(
    project: str, endpoints: PushEndpoints, *, requests_delivery: RequestsDelivery = "pull"
) -> None:
    """Create every topic and subscription for ``project`` on the emulator.

    ``PUBSUB_EMULATOR_HOST`` must be set (the clients read it).
    """
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    try:
        for topic in (names.REQUESTS_TOPIC, names.REQUESTS_DLQ_TOPIC, names.EVENTS_TOPIC):
            _create_topic(publisher, publisher.topic_path(project, topic))
        _create_subscription(
            subscriber,
            requests_subscription(
                name=subscriber.subscription_path(project, names.REQUESTS_PUSH_SUBSCRIPTION),
                topic=publisher.topic_path(project, names.REQUESTS_TOPIC),
                dead_letter_topic=publisher.topic_path(project, names.REQUESTS_DLQ_TOPIC),
                push_endpoint=endpoints.run_agent if requests_delivery == "push" else None,
            ),
        )
        _create_subscription(
            subscriber,
            {
                "name": subscriber.subscription_path(project, names.REQUESTS_DLQ_PUSH_SUBSCRIPTION),
                "topic": publisher.topic_path(project, names.REQUESTS_DLQ_TOPIC),
                "push_config": {"push_endpoint": endpoints.dead_letter},
                "ack_deadline_seconds": 60,
                "retry_policy": REQUESTS_RETRY_POLICY,
            },
        )
    except gexc.GoogleAPICallError as exc:
        raise LauncherError(
            f"provisioning Pub/Sub for project {project!r} failed: {exc}; is the Pub/Sub "
            "emulator running at PUBSUB_EMULATOR_HOST?"
        ) from exc
    finally:
        subscriber.close()
        publisher.transport.close()


def _create_topic(publisher: PublisherClient, path: str) -> None:
    try:
        publisher.create_topic(request={"name": path}, timeout=30)
    except gexc.AlreadyExists:
        return


def _create_subscription(subscriber: SubscriberClient, request: dict[str, object]) -> None:
    try:
        subscriber.create_subscription(request=request, timeout=30)
    except gexc.AlreadyExists:
        return
