"""Pub/Sub for the edge: publishing run requests and this instance's events subscription.

* :class:`RequestPublisher` publishes one :class:`~apex_core.protocol.RunRequest`
  per accepted message to ``apex-requests``, ordering key = ``thread_id``, and
  returns only once Pub/Sub has the message. On failure it resumes publishing
  for that key (an ordered publisher pauses a key after an error) and raises
  :class:`~apex_core.errors.Unavailable`, or a ``BackendError`` for an error a
  retry cannot fix (:mod:`apex_core.google_errors`); after the publish timeout it
  raises ``Unavailable`` too, leaving the still-pending publish (and its key, which
  is not paused) alone. Cancelling ``publish_request`` stops
  the wait, not the publish: the message may still go out, which is fine
  because the run id makes the request idempotent.
* :class:`EventSubscription` owns the pull subscription
  ``apex-events-edge-<instance>`` (ordering on, labels ``role=edge`` and
  ``heartbeat=<unix seconds>``, refreshed periodically so the janitor can find
  leaked ones). The client library's StreamingPull runs callbacks in its own
  threads; each message is decoded there, handed to the asyncio loop with
  ``loop.call_soon_threadsafe`` and acked after the hand-off. If the stream
  dies it is reopened. Creating it at start-up is retried with backoff for
  ``create_retry_seconds`` (``EDGE_SUBSCRIBE_RETRY_SECONDS``): on a first
  deploy the topic or the edge's IAM grants may not be visible yet, and the
  instance must not fail its startup probe for that.
  :meth:`EventSubscription.close` cancels the stream and
  deletes the subscription; cancelling :meth:`EventSubscription.keep_alive`
  stops the heartbeat and the stream watch, nothing else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.publisher.exceptions import PublishToPausedOrderingKeyException
from google.cloud.pubsub_v1.types import FlowControl, PublisherOptions
from google.protobuf import duration_pb2, field_mask_pb2
from pydantic import ValidationError

from apex_core import names
from apex_core.errors import ApexError, Unavailable
from apex_core.google_errors import as_apex_error, translated
from apex_core.logs import fields
from apex_core.protocol import RunEvent, RunRequest

log = logging.getLogger(__name__)

SUBSCRIPTION_LABELS: Final = {"role": "edge", "service": names.EDGE_SERVICE}
HEARTBEAT_LABEL: Final = "heartbeat"
# Pub/Sub's minimum expiration: a subscription left behind by a killed instance
# disappears after a day without subscribers even if the janitor never runs.
EXPIRATION_SECONDS: Final = 24 * 3600
# Events older than this are in Firestore anyway; a resume reads them there.
RETENTION_SECONDS: Final = 600
REOPEN_BACKOFF_SECONDS: Final = (0.5, 1.0, 2.0, 5.0)
CREATE_BACKOFF_FIRST_SECONDS: Final = 0.5
CREATE_BACKOFF_MAX_SECONDS: Final = 8.0

EventHandler = Callable[[str, dict[str, Any]], None]


class InvalidEvent(ApexError):
    """An ``apex-events`` message that is not a run event of a user."""

    code = "invalid_event"


def decode_event(data: bytes, attributes: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``(user_id, frame)`` of one ``apex-events`` message; raises :class:`InvalidEvent`."""
    user_id = attributes.get("user_id")
    if not user_id:
        raise InvalidEvent("the event message has no 'user_id' attribute")
    try:
        event = RunEvent.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidEvent(
            f"the event message is not a run event ({exc.error_count()} errors)"
        ) from exc
    return user_id, event.to_frame()


class RequestPublisher:
    """Publishes run requests to ``apex-requests`` with ordering by thread."""

    def __init__(self, project: str, *, timeout: float) -> None:
        self._client = PublisherClient(
            publisher_options=PublisherOptions(enable_message_ordering=True, timeout=timeout)
        )
        self._topic = self._client.topic_path(project, names.REQUESTS_TOPIC)
        self._timeout = timeout

    async def publish_request(self, request: RunRequest) -> str:
        """Publish and wait until Pub/Sub has it; the message id."""
        try:
            future = self._client.publish(
                self._topic,
                request.model_dump_json().encode(),
                ordering_key=request.thread_id,
                run_id=request.run_id,
                thread_id=request.thread_id,
                user_id=request.user_id,
            )
            async with asyncio.timeout(self._timeout):
                message_id: str = await asyncio.wrap_future(future)
        except PublishToPausedOrderingKeyException as exc:  # an earlier failure on this key
            self._client.resume_publish(self._topic, request.thread_id)
            raise Unavailable(
                "queuing the request failed (paused ordering key); try again"
            ) from exc
        except TimeoutError as exc:  # still pending, so its key is not paused: no resume
            raise Unavailable(
                f"queuing the request took longer than {self._timeout:g} s; try again"
            ) from exc
        except gexc.GoogleAPIError as exc:
            self._client.resume_publish(self._topic, request.thread_id)
            raise as_apex_error("queuing the request", exc) from exc
        return message_id

    async def close(self) -> None:
        """Flush what is batched and stop the publisher's threads."""
        await asyncio.to_thread(self._client.stop)


class EventSubscription:
    """This instance's pull subscription on ``apex-events``."""

    def __init__(
        self,
        project: str,
        subscription_id: str,
        *,
        on_event: EventHandler,
        heartbeat_seconds: float,
        create_retry_seconds: float = 0.0,
    ) -> None:
        self._client = SubscriberClient()
        self._topic = f"projects/{project}/topics/{names.EVENTS_TOPIC}"
        self.path: str = self._client.subscription_path(project, subscription_id)
        self._on_event = on_event
        self._heartbeat_seconds = heartbeat_seconds
        self._create_retry_seconds = create_retry_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._closing = False

    async def open(self) -> None:
        """Create the subscription (an existing one is reused) and start pulling.

        A failed create is retried with backoff while the next attempt still
        starts within ``create_retry_seconds``; then the last error is raised."""
        self._loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self._create_retry_seconds
        delay = CREATE_BACKOFF_FIRST_SECONDS
        while True:
            try:
                await asyncio.to_thread(self._create)
                break
            except ApexError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning(
                    "creating the events subscription failed (%s); retrying in %.1f s",
                    exc.message,
                    delay,
                    extra=fields(subscription=self.path),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, CREATE_BACKOFF_MAX_SECONDS)
        self._start_stream()
        log.info("events subscription open", extra=fields(subscription=self.path))

    def _create(self) -> None:
        request = {
            "name": self.path,
            "topic": self._topic,
            "enable_message_ordering": True,
            "ack_deadline_seconds": 10,
            "labels": {**SUBSCRIPTION_LABELS, HEARTBEAT_LABEL: str(int(time.time()))},
            "expiration_policy": {"ttl": duration_pb2.Duration(seconds=EXPIRATION_SECONDS)},
            "message_retention_duration": duration_pb2.Duration(seconds=RETENTION_SECONDS),
        }
        with translated("creating the events subscription"):
            try:
                self._client.create_subscription(request=request, timeout=30)
            except gexc.AlreadyExists:
                log.info("events subscription exists; reusing it", extra=fields(path=self.path))

    def _start_stream(self) -> None:
        self._stream = self._client.subscribe(
            self.path, self._receive, flow_control=FlowControl(max_messages=1000)
        )

    def _receive(self, message: Any) -> None:
        """StreamingPull callback, in a library thread: decode, hand off, ack."""
        try:
            user_id, frame = decode_event(message.data, dict(message.attributes))
        except InvalidEvent as exc:
            log.error(
                "dropping an undeliverable event message: %s",
                exc.message,
                extra=fields(message_id=message.message_id),
            )
            message.ack()
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            message.nack()
            return
        try:
            loop.call_soon_threadsafe(self._on_event, user_id, frame)
        except RuntimeError:  # the loop closed between the check and the call
            message.nack()
            return
        message.ack()

    async def keep_alive(self) -> None:
        """Refresh the heartbeat label and reopen the stream if it dies, until cancelled."""
        heartbeat_supported = True
        next_heartbeat = time.monotonic() + self._heartbeat_seconds
        failures = 0
        while True:
            stream = asyncio.wrap_future(self._stream)
            timeout = max(0.0, next_heartbeat - time.monotonic())
            done, _ = await asyncio.wait({stream}, timeout=timeout)
            if stream in done and not self._closing:
                exc = stream.exception() if not stream.cancelled() else None
                delay = REOPEN_BACKOFF_SECONDS[min(failures, len(REOPEN_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.error(
                    "the events stream ended (%r); reopening in %.1f s",
                    exc,
                    delay,
                    extra=fields(subscription=self.path),
                )
                await asyncio.sleep(delay)
                try:
                    await asyncio.to_thread(self._create)
                except ApexError as create_exc:
                    log.error("recreating the events subscription failed: %s", create_exc.message)
                    continue
                self._start_stream()
                continue
            failures = 0
            if heartbeat_supported and time.monotonic() >= next_heartbeat:
                heartbeat_supported = await asyncio.to_thread(self._refresh_heartbeat)
            next_heartbeat = time.monotonic() + self._heartbeat_seconds

    def _refresh_heartbeat(self) -> bool:
        """Update the heartbeat label; False when this Pub/Sub cannot (the emulator)."""
        labels = {**SUBSCRIPTION_LABELS, HEARTBEAT_LABEL: str(int(time.time()))}
        try:
            self._client.update_subscription(
                request={
                    "subscription": {"name": self.path, "labels": labels},
                    "update_mask": field_mask_pb2.FieldMask(paths=["labels"]),
                },
                timeout=30,
            )
        except gexc.InvalidArgument:
            log.info("this Pub/Sub cannot update labels (the emulator); heartbeat stays as created")
            return False
        except gexc.GoogleAPIError as exc:
            log.warning("refreshing the subscription heartbeat failed: %r", exc)
        return True

    async def close(self) -> None:
        """Stop pulling and delete the subscription (a missing one is fine)."""
        self._closing = True
        if self._stream is not None:
            await asyncio.to_thread(self._stop_stream, self._stream)
        try:
            await asyncio.to_thread(self._delete)
        finally:
            await asyncio.to_thread(self._client.close)

    @staticmethod
    def _stop_stream(stream: Any) -> None:
        stream.cancel()
        try:
            stream.result(timeout=2)
        except (gexc.GoogleAPIError, TimeoutError, concurrent.futures.CancelledError) as exc:
            log.debug("events stream stopped: %r", exc)

    def _delete(self) -> None:
        with translated("deleting the events subscription"):
            try:
                self._client.delete_subscription(request={"subscription": self.path}, timeout=3)
            except gexc.NotFound:
                return
        log.info("events subscription deleted", extra=fields(subscription=self.path))
