"""Create the topics and subscriptions of DESIGN.md on the Pub/Sub emulator.

Names come from :mod:`apex_core.names`, the module the CDKTF stack uses too.
Provisioning is idempotent: an existing topic or subscription is left as it is.
Push endpoints are the local function URLs (the emulator sends no OIDC token).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import RetryPolicy
from google.protobuf import duration_pb2

from apex_core import names
from emulators.errors import LauncherError

# The emulator retries a failed push about every second whatever the retry policy
# says, so production's 5 attempts (10 s backoff growing to 600 s: minutes) would be
# spent in ~5 s, e.g. while a killed function restarts; and dead-lettering from a push
# subscription crashes the emulator's push threads (every later request of the
# subscription then waits forever). Locally a request therefore gets 100 attempts,
# about as long as production's 5 (docs/RELIABILITY.md).
LOCAL_MAX_DELIVERY_ATTEMPTS = 100


@dataclass(frozen=True, slots=True)
class PushEndpoints:
    run_agent: str
    dead_letter: str


def provision(project: str, endpoints: PushEndpoints) -> None:
    """Create every topic and push subscription for ``project`` on the emulator.

    ``PUBSUB_EMULATOR_HOST`` must be set (the clients read it).
    """
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    try:
        for topic in (names.REQUESTS_TOPIC, names.REQUESTS_DLQ_TOPIC, names.EVENTS_TOPIC):
            _create_topic(publisher, publisher.topic_path(project, topic))
        retry = RetryPolicy(
            minimum_backoff=duration_pb2.Duration(seconds=1),
            maximum_backoff=duration_pb2.Duration(seconds=30),
        )
        _create_subscription(
            subscriber,
            {
                "name": subscriber.subscription_path(project, names.REQUESTS_PUSH_SUBSCRIPTION),
                "topic": publisher.topic_path(project, names.REQUESTS_TOPIC),
                "push_config": {"push_endpoint": endpoints.run_agent},
                "ack_deadline_seconds": names.PUSH_ACK_DEADLINE_SECONDS,
                "enable_message_ordering": True,
                "retry_policy": retry,
                "dead_letter_policy": {
                    "dead_letter_topic": publisher.topic_path(project, names.REQUESTS_DLQ_TOPIC),
                    "max_delivery_attempts": LOCAL_MAX_DELIVERY_ATTEMPTS,
                },
            },
        )
        _create_subscription(
            subscriber,
            {
                "name": subscriber.subscription_path(project, names.REQUESTS_DLQ_PUSH_SUBSCRIPTION),
                "topic": publisher.topic_path(project, names.REQUESTS_DLQ_TOPIC),
                "push_config": {"push_endpoint": endpoints.dead_letter},
                "ack_deadline_seconds": 60,
                "retry_policy": retry,
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
