"""What a subscription says about failed deliveries: retry backoff and dead-lettering.

Real Pub/Sub applies both itself. The emulator (0.8.x) does neither for a
*pull* subscription: a nacked message comes back at once, and when a message
should be dead-lettered the emulator throws a NullPointerException instead. The
push forwarder (:mod:`emulators.push_forwarder`) therefore reads the policy of
the subscription it pulls and applies it: it nacks a failed message only after
the backoff, and publishes it to the dead-letter topic (with the attributes
Pub/Sub adds) once its last allowed delivery failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.cloud.pubsub_v1 import SubscriberClient

DEAD_LETTER_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"
# Pub/Sub's defaults when a subscription sets no retry policy's bounds.
DEFAULT_MINIMUM_BACKOFF_SECONDS = 10.0
DEFAULT_MAXIMUM_BACKOFF_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class DeadLetterPolicy:
    """Where a message goes after ``max_delivery_attempts`` failed deliveries."""

    topic: str
    max_delivery_attempts: int


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between a message's deliveries, from ``minimum`` to ``maximum``."""

    minimum_seconds: float = DEFAULT_MINIMUM_BACKOFF_SECONDS
    maximum_seconds: float = DEFAULT_MAXIMUM_BACKOFF_SECONDS

    def after(self, delivery_attempt: int | None) -> float:
        """Seconds to wait after failed delivery number ``delivery_attempt`` (1 = the first)."""
        attempt = max(1, delivery_attempt or 1)
        return float(min(self.maximum_seconds, self.minimum_seconds * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """A subscription's retry backoff (``None``: redeliver at once) and dead-letter policy."""

    backoff: Backoff | None = None
    dead_letter: DeadLetterPolicy | None = None

    def is_last_attempt(self, delivery_attempt: int | None) -> bool:
        """Whether a failed delivery was the last one allowed (so it is dead-lettered)."""
        return (
            self.dead_letter is not None
            and delivery_attempt is not None
            and delivery_attempt >= self.dead_letter.max_delivery_attempts
        )


def read_delivery_policy(subscriber: SubscriberClient, subscription: str) -> DeliveryPolicy:
    """The delivery policy of ``subscription`` as the emulator stores it."""
    found = subscriber.get_subscription(request={"subscription": subscription}, timeout=30)
    backoff = None
    if "retry_policy" in found:
        retry = found.retry_policy
        backoff = Backoff(
            minimum_seconds=retry.minimum_backoff.total_seconds()
            if "minimum_backoff" in retry
            else DEFAULT_MINIMUM_BACKOFF_SECONDS,
            maximum_seconds=retry.maximum_backoff.total_seconds()
            if "maximum_backoff" in retry
            else DEFAULT_MAXIMUM_BACKOFF_SECONDS,
        )
    dead_letter = None
    if found.dead_letter_policy.dead_letter_topic:
        dead_letter = DeadLetterPolicy(
            topic=found.dead_letter_policy.dead_letter_topic,
            max_delivery_attempts=found.dead_letter_policy.max_delivery_attempts,
        )
    return DeliveryPolicy(backoff=backoff, dead_letter=dead_letter)


def dead_letter_attributes(
    attributes: Mapping[str, str], *, subscription: str, delivery_attempt: int, publish_time: str
) -> dict[str, str]:
    """The message's attributes plus those Pub/Sub adds when it dead-letters a message."""
    return {
        **attributes,
        DEAD_LETTER_COUNT_ATTRIBUTE: str(delivery_attempt),
        "CloudPubSubDeadLetterSourceSubscription": subscription.rsplit("/", 1)[-1],
        "CloudPubSubDeadLetterSourceSubscriptionProject": subscription.split("/")[1],
        "CloudPubSubDeadLetterSourceTopicPublishTime": publish_time,
    }
