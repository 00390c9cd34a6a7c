"""The push forwarder as a real process on the real Pub/Sub emulator, posting to an
HTTP server this test runs on port 0 (the seam: what answers, and when).

Each test gets a topic, a dead-letter topic and a pull subscription made with
:func:`emulators.provision.requests_subscription` (the settings of the local
``apex-requests-push``), and a forwarder process on it.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import PublisherOptions

from apex_core import names
from emulators.processes import ProcessGroup
from emulators.provision import requests_subscription
from emulators.stack import REPO_ROOT
from functions.delivery import DEAD_LETTER_COUNT_ATTRIBUTE
from tests.conftest import EmulatorEnv
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.emulators

Answer = Callable[[dict[str, Any]], int]


@dataclass
class Endpoint:
    """The push endpoint: records every envelope, answers with ``answer(envelope)``,
    and while ``hold`` is set keeps each request open until :meth:`release` lets one go."""

    answer: Answer = lambda envelope: 204
    hold: bool = False
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    key_overlaps: int = 0
    _keys_in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _gate: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def handle(self, envelope: dict[str, Any]) -> int:
        key = envelope["message"].get("orderingKey", "")
        with self._lock:
            self.deliveries.append(envelope)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if key and self._keys_in_flight[key]:
                self.key_overlaps += 1
            self._keys_in_flight[key] += 1
        try:
            if self.hold and not self._gate.acquire(timeout=60):
                return 503
            return self.answer(envelope)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._keys_in_flight[key] -= 1

    def release(self) -> None:
        self._gate.release()

    def texts(self) -> list[str]:
        with self._lock:
            return [base64.b64decode(e["message"]["data"]).decode() for e in self.deliveries]


def _serve(endpoint: Endpoint) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = endpoint.handle(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Forwarded:
    """A topic whose subscription the forwarder pushes to ``endpoint``."""

    endpoint: Endpoint
    publisher: PublisherClient
    subscriber: SubscriberClient
    topic: str
    dead_letters: str

    def publish(self, text: str, *, key: str = "", **attributes: str) -> str:
        future = self.publisher.publish(self.topic, text.encode(), ordering_key=key, **attributes)
        message_id: str = future.result(timeout=30)
        return message_id

    def dead_lettered(self) -> list[Any]:
        response = self.subscriber.pull(
            request={"subscription": self.dead_letters, "max_messages": 50}, timeout=10
        )
        if response.received_messages:
            self.subscriber.acknowledge(
                request={
                    "subscription": self.dead_letters,
                    "ack_ids": [r.ack_id for r in response.received_messages],
                }
            )
        return [r.message for r in response.received_messages]


@pytest.fixture
def forwarded(
    emulator_env: EmulatorEnv, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Forwarded]]:
    publisher = PublisherClient(publisher_options=PublisherOptions(enable_message_ordering=True))
    subscriber = SubscriberClient()
    project = emulator_env.project
    servers: list[ThreadingHTTPServer] = []
    with ProcessGroup(log_dir=emulator_env.log_dir / f"{project}-forwarder") as group:

        def start(endpoint: Endpoint, *, max_in_flight: int = 8) -> Forwarded:
            name = f"fwd-{secrets.token_hex(4)}"
            topic = publisher.topic_path(project, name)
            dlq_topic = publisher.topic_path(project, f"{name}-dlq")
            for path in (topic, dlq_topic):
                publisher.create_topic(request={"name": path}, timeout=30)
            subscription = subscriber.subscription_path(project, name)
            subscriber.create_subscription(
                request=requests_subscription(
                    name=subscription, topic=topic, dead_letter_topic=dlq_topic, push_endpoint=None
                ),
                timeout=30,
            )
            dead_letters = subscriber.subscription_path(project, f"{name}-dlq")
            subscriber.create_subscription(
                request={"name": dead_letters, "topic": dlq_topic}, timeout=30
            )
            server = _serve(endpoint)
            servers.append(server)
            group.start(
                name,
                [
                    sys.executable,
                    "-m",
                    "emulators.push_forwarder",
                    "--subscription",
                    subscription,
                    "--endpoint",
                    f"http://127.0.0.1:{server.server_address[1]}/",
                    "--max-in-flight",
                    str(max_in_flight),
                ],
                env=emulator_env.app_env(jwt_secret="unused"),
                cwd=REPO_ROOT,
            )
            return Forwarded(endpoint, publisher, subscriber, topic, dead_letters)

        yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    subscriber.close()
    publisher.stop()


def test_each_message_is_posted_in_the_push_envelope_and_acked(
    forwarded: Callable[..., Forwarded],
) -> None:
    fwd = forwarded(Endpoint())
    ids = [fwd.publish(f"m{i}", key="thread-a", run_id=f"run-{i}") for i in range(3)]

    wait_for("three deliveries", lambda: fwd.endpoint.deliveries[2:] or None)

    got = fwd.endpoint.deliveries
    assert [e["message"]["messageId"] for e in got] == ids
    assert fwd.endpoint.texts() == ["m0", "m1", "m2"]
    for i, envelope in enumerate(got):
        assert envelope["subscription"] == fwd.topic.replace("/topics/", "/subscriptions/")
        assert envelope["message"]["attributes"] == {"run_id": f"run-{i}"}
        assert envelope["message"]["orderingKey"] == "thread-a"
        assert envelope["deliveryAttempt"] == 1
        assert datetime.fromisoformat(envelope["message"]["publishTime"]).tzinfo is not None
    # Acked: a sentinel on the same key comes next, with nothing redelivered before it.
    fwd.publish("sentinel", key="thread-a")
    wait_for("the sentinel", lambda: fwd.endpoint.deliveries[3:] or None)
    assert fwd.endpoint.texts() == ["m0", "m1", "m2", "sentinel"]


def test_a_failed_push_is_nacked_and_redelivered_until_it_succeeds(
    forwarded: Callable[..., Forwarded],
) -> None:
    failures = {"flaky": 2}

    def answer(envelope: dict[str, Any]) -> int:
        text = base64.b64decode(envelope["message"]["data"]).decode()
        if failures.get(text, 0) > 0:
            failures[text] -= 1
            return 500
        return 200

    fwd = forwarded(Endpoint(answer=answer))
    fwd.publish("flaky")

    wait_for("the third delivery", lambda: fwd.endpoint.deliveries[2:] or None)
    assert fwd.endpoint.texts() == ["flaky"] * 3
    assert [e["deliveryAttempt"] for e in fwd.endpoint.deliveries] == [1, 2, 3]


def test_a_message_that_always_fails_is_dead_lettered_after_the_maximum_attempts(
    forwarded: Callable[..., Forwarded],
) -> None:
    def answer(envelope: dict[str, Any]) -> int:
        return 500 if envelope["message"]["attributes"].get("run_id") == "run-p" else 204

    fwd = forwarded(Endpoint(answer=answer))
    fwd.publish("poison", key="thread-p", run_id="run-p")

    dead = wait_for("the dead letter", lambda: fwd.dead_lettered() or None)

    assert [m.data.decode() for m in dead] == ["poison"]
    assert dead[0].attributes[DEAD_LETTER_COUNT_ATTRIBUTE] == str(names.MAX_DELIVERY_ATTEMPTS)
    assert dead[0].attributes["run_id"] == "run-p"
    # Acked once dead-lettered: the next message of the key is posted after it, once.
    fwd.publish("next", key="thread-p")
    wait_for(
        "the next message", lambda: fwd.endpoint.texts()[names.MAX_DELIVERY_ATTEMPTS :] or None
    )
    assert fwd.endpoint.texts() == ["poison"] * names.MAX_DELIVERY_ATTEMPTS + ["next"]
    attempts = [e["deliveryAttempt"] for e in fwd.endpoint.deliveries]
    assert attempts == [*range(1, names.MAX_DELIVERY_ATTEMPTS + 1), 1]


def test_messages_of_one_key_are_posted_in_order_one_at_a_time(
    forwarded: Callable[..., Forwarded],
) -> None:
    fwd = forwarded(Endpoint(), max_in_flight=8)
    for i in range(10):
        for key in ("a", "b", "c"):
            fwd.publish(f"{key}{i}", key=key)

    wait_for("thirty deliveries", lambda: fwd.endpoint.deliveries[29:] or None)

    texts = fwd.endpoint.texts()
    for key in ("a", "b", "c"):
        assert [t for t in texts if t.startswith(key)] == [f"{key}{i}" for i in range(10)]
    assert fwd.endpoint.key_overlaps == 0


def _in_flight_is(endpoint: Endpoint, count: int) -> Callable[[], bool | None]:
    return lambda: endpoint.in_flight == count or None


def test_no_more_than_max_in_flight_posts_are_open_at_once(
    forwarded: Callable[..., Forwarded],
) -> None:
    limit, total = 3, 12
    fwd = forwarded(Endpoint(hold=True), max_in_flight=limit)
    for i in range(total):
        fwd.publish(f"m{i}")

    for released in range(total):
        # Every request is held open, so the forwarder fills its limit and must stop there.
        open_now = min(limit, total - released)
        wait_for(f"{open_now} open posts", _in_flight_is(fwd.endpoint, open_now))
        fwd.endpoint.release()

    wait_for("all posts answered", lambda: fwd.endpoint.in_flight == 0 or None)
    assert sorted(fwd.endpoint.texts()) == sorted(f"m{i}" for i in range(total))
    assert fwd.endpoint.max_in_flight == limit


def test_a_failed_message_is_retried_before_the_next_of_its_key(
    forwarded: Callable[..., Forwarded],
) -> None:
    failures = {"first": 1}

    def answer(envelope: dict[str, Any]) -> int:
        text = base64.b64decode(envelope["message"]["data"]).decode()
        if failures.get(text, 0) > 0:
            failures[text] -= 1
            return 503
        return 200

    fwd = forwarded(Endpoint(answer=answer))
    fwd.publish("first", key="thread-r")
    fwd.publish("second", key="thread-r")

    wait_for("three deliveries", lambda: fwd.endpoint.deliveries[2:] or None)
    assert fwd.endpoint.texts()[:3] == ["first", "first", "second"]
