"""Push like the platform does: pull a subscription and post each message to an endpoint.

The Pub/Sub emulator pushes with two threads per push subscription, and each
holds its message until the endpoint answers — for ``run_agent`` the whole run —
so locally ten runs start two at a time. Real push scales with the endpoint's
success rate. The local ``apex-requests-push`` is therefore a *pull*
subscription (same ordering, retry and dead-letter settings as production, see
:mod:`emulators.provision`), and this forwarder streams it and posts each
message to ``run_agent`` in the push envelope real Pub/Sub uses, with at most
``max_in_flight`` requests at once. It acks on a 2xx answer and nacks on
anything else (another status, a refused connection, a timeout), so
redelivery, delivery attempts and ordering by key (the client library hands out
a key's next message only once the previous one is acked or nacked) stay the
emulator's job. Two parts of the subscription's policy the emulator skips for
pull subscriptions are applied here (:mod:`emulators.delivery_policy`): the
retry backoff before a nack, and dead-lettering after the last allowed attempt.
Production keeps real push.

``python -m emulators.push_forwarder --subscription PATH --endpoint URL``;
``--max-in-flight`` defaults to ``PUSH_FORWARDER_MAX_IN_FLIGHT`` or 64.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.subscriber.message import Message
from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler
from google.cloud.pubsub_v1.types import FlowControl

from apex_core import names
from apex_core.env import Env, SettingsError
from apex_core.logs import configure_logging, fields
from emulators.delivery_policy import (
    DeliveryPolicy,
    dead_letter_attributes,
    read_delivery_policy,
)

log = logging.getLogger("push_forwarder")

DEFAULT_MAX_IN_FLIGHT = 64
SERVICE = "push-forwarder"


@dataclass(frozen=True, slots=True)
class ForwarderSettings:
    """What to pull, where to post it, and how many posts may be open at once."""

    subscription: str
    endpoint: str
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    request_timeout_seconds: float = float(names.PUSH_ACK_DEADLINE_SECONDS)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    """Read from the subscription when the forwarder starts."""


def push_envelope(
    *,
    subscription: str,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str,
    publish_time: datetime,
    ordering_key: str,
    delivery_attempt: int | None,
) -> dict[str, Any]:
    """The JSON body real Pub/Sub push posts for one message."""
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode("ascii"),
        "attributes": dict(attributes),
        "messageId": message_id,
        "publishTime": rfc3339(publish_time),
    }
    if ordering_key:
        message["orderingKey"] = ordering_key
    envelope: dict[str, Any] = {"message": message, "subscription": subscription}
    if delivery_attempt is not None:
        envelope["deliveryAttempt"] = delivery_attempt
    return envelope


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def acks(status: int | None) -> bool:
    """Whether an answer acks the message: any 2xx (run_agent answers 200 when done)."""
    return status is not None and 200 <= status < 300


def post(endpoint: str, envelope: Mapping[str, Any], *, timeout: float) -> int | None:
    """POST the envelope as JSON; the HTTP status, or ``None`` when no answer came."""
    request = urllib.request.Request(  # noqa: S310 - the local function URL we were given
        endpoint,
        data=json.dumps(envelope).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)
    except OSError as exc:  # refused, reset, timed out
        log.warning("no answer from %s: %s", endpoint, exc, extra=fields(endpoint=endpoint))
        return None


@dataclass(frozen=True, slots=True)
class Forwarder:
    """Posts pulled messages (the subscriber's callback); dead-letters on the last attempt.

    Real push retries a failed ordered message before it sends the next one of
    its key. The client library hands out the next one as soon as the failed
    one is nacked, before the emulator redelivers it, so a key whose message
    failed is *blocked* until that message comes back: anything else of the
    key is nacked unposted meanwhile (it comes back after it, and that
    redelivery counts as an attempt, as it would for a pull subscriber).
    """

    settings: ForwarderSettings
    publisher: PublisherClient
    _blocked: dict[str, str] = field(default_factory=dict)
    """ordering key -> id of its message that failed and is awaiting redelivery"""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: Message) -> None:
        key = message.ordering_key
        with self._lock:
            blocker = self._blocked.get(key) if key else None
            if blocker == message.message_id:
                del self._blocked[key]
        if blocker is not None and blocker != message.message_id:
            message.nack()
            return
        try:
            status = self._post(message)
            if acks(status):
                message.ack()
                return
            log.info(
                "push of message %s (attempt %s) answered %s",
                message.message_id,
                message.delivery_attempt,
                status,
                extra=fields(message_id=message.message_id, status=status),
            )
            if self.settings.policy.is_last_attempt(message.delivery_attempt):
                self._dead_letter(message)
                message.ack()
                return
        except Exception:  # the top of a task: never lose the message, let Pub/Sub redeliver
            log.exception("forwarding message %s failed; nacked", message.message_id)
        if key:
            with self._lock:
                self._blocked[key] = message.message_id
        self._nack_after_backoff(message)

    def _nack_after_backoff(self, message: Message) -> None:
        """Nack once the subscription's backoff has passed (the emulator does not wait);
        the message stays leased meanwhile, as a message waiting for redelivery would."""
        backoff = self.settings.policy.backoff
        if backoff is None:
            message.nack()
            return
        timer = threading.Timer(backoff.after(message.delivery_attempt), message.nack)
        timer.daemon = True
        timer.start()

    def _post(self, message: Message) -> int | None:
        envelope = push_envelope(
            subscription=self.settings.subscription,
            data=message.data,
            attributes=message.attributes,
            message_id=message.message_id,
            publish_time=message.publish_time,
            ordering_key=message.ordering_key,
            delivery_attempt=message.delivery_attempt,
        )
        return post(self.settings.endpoint, envelope, timeout=self.settings.request_timeout_seconds)

    def _dead_letter(self, message: Message) -> None:
        policy = self.settings.policy.dead_letter
        assert policy is not None  # is_last_attempt said there is one
        attributes = dead_letter_attributes(
            message.attributes,
            subscription=self.settings.subscription,
            delivery_attempt=message.delivery_attempt,
            publish_time=rfc3339(message.publish_time),
        )
        self.publisher.publish(policy.topic, message.data, **attributes).result(timeout=60)
        log.warning(
            "message %s dead-lettered to %s after %s attempts",
            message.message_id,
            policy.topic,
            message.delivery_attempt,
            extra=fields(message_id=message.message_id),
        )


def run(settings: ForwarderSettings, stop: threading.Event) -> None:
    """Stream the subscription until ``stop`` is set; at most ``max_in_flight`` posts at once."""
    subscriber = SubscriberClient()
    publisher = PublisherClient()
    settings = replace(settings, policy=read_delivery_policy(subscriber, settings.subscription))
    executor = ThreadPoolExecutor(max_workers=settings.max_in_flight, thread_name_prefix="forward")
    future = subscriber.subscribe(
        settings.subscription,
        Forwarder(settings, publisher),
        flow_control=FlowControl(max_messages=settings.max_in_flight),
        scheduler=ThreadScheduler(executor),
    )
    log.info(
        "forwarding %s to %s, at most %d at once",
        settings.subscription,
        settings.endpoint,
        settings.max_in_flight,
        extra=fields(subscription=settings.subscription, endpoint=settings.endpoint),
    )
    print(f"forwarding {settings.subscription} -> {settings.endpoint}", flush=True)
    try:
        while not stop.wait(0.5):
            if future.done():
                future.result()  # raises why the stream ended
                return
    finally:
        future.cancel()
        future.result(timeout=60)  # the stream and its threads are shut down
        subscriber.close()
        publisher.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.push_forwarder", description=__doc__)
    parser.add_argument("--subscription", required=True, help="projects/P/subscriptions/S")
    parser.add_argument("--endpoint", required=True, help="URL to post each message to")
    parser.add_argument("--max-in-flight", type=int, default=None, help="posts open at once")
    args = parser.parse_args(argv)
    configure_logging(SERVICE)
    try:
        limit = args.max_in_flight or Env(os.environ).count(
            "PUSH_FORWARDER_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT
        )
    except SettingsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if limit < 1:
        print(f"error: --max-in-flight must be at least 1; it is {limit}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    run(
        ForwarderSettings(
            subscription=args.subscription, endpoint=args.endpoint, max_in_flight=limit
        ),
        stop,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
