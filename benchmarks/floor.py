"""The floor of a run's first event: what Pub/Sub alone costs on these emulators.

A first event needs one delivery of the run request to ``run_agent`` (push)
and one delivery of the event to the edge (the edge's streaming pull). The
floor measures each on the same emulators as the run, one message at a time,
from ``publish`` until the message arrives:

* *emulator push*: a push subscription to an HTTP server in this process;
* *forwarder push*: a pull subscription that :mod:`emulators.push_forwarder`
  (run on a thread here) posts to that server;
* *pull*: a streaming pull (``SubscriberClient.subscribe``), as the edge does.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from emulators.push_forwarder import ForwarderSettings, run

TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Floor:
    """Seconds from publish to arrival, one list per path."""

    emulator_push: list[float]
    forwarder_push: list[float]
    pull: list[float]


@contextmanager
def _http_sink(arrivals: queue.Queue[float]) -> Iterator[str]:
    """An HTTP server on port 0 that notes when each POST arrived; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.put(time.perf_counter())
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _time_each(
    publisher: PublisherClient, topic: str, arrivals: queue.Queue[float], samples: int
) -> list[float]:
    """Publish ``samples`` messages one at a time; seconds until each arrived."""
    took = []
    for i in range(samples + 1):  # the first one warms the path and is not counted
        sent = time.perf_counter()
        publisher.publish(topic, f"floor-{i}".encode()).result(timeout=TIMEOUT_SECONDS)
        arrived = arrivals.get(timeout=TIMEOUT_SECONDS)
        if i:
            took.append(arrived - sent)
    return took


def measure_floor(project: str, *, samples: int) -> Floor:
    """Each path ``samples`` times on the emulators at ``PUBSUB_EMULATOR_HOST``."""
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    name = f"floor-{secrets.token_hex(3)}"
    topics = {
        path: publisher.topic_path(project, f"{name}-{path}") for path in ("push", "fwd", "pull")
    }
    for topic in topics.values():
        publisher.create_topic(request={"name": topic}, timeout=30)
    arrivals: queue.Queue[float] = queue.Queue()
    stop = threading.Event()
    forwarder: threading.Thread | None = None
    try:
        with _http_sink(arrivals) as url:
            subscriber.create_subscription(
                request={
                    "name": subscriber.subscription_path(project, f"{name}-push"),
                    "topic": topics["push"],
                    "push_config": {"push_endpoint": url},
                },
                timeout=30,
            )
            emulator_push = _time_each(publisher, topics["push"], arrivals, samples)
            forwarded = subscriber.subscription_path(project, f"{name}-fwd")
            subscriber.create_subscription(
                request={"name": forwarded, "topic": topics["fwd"]}, timeout=30
            )
            forwarder = threading.Thread(
                target=run,
                args=(ForwarderSettings(subscription=forwarded, endpoint=url), stop),
                daemon=True,
            )
            forwarder.start()
            forwarder_push = _time_each(publisher, topics["fwd"], arrivals, samples)
        pulled = subscriber.subscription_path(project, f"{name}-pull")
        subscriber.create_subscription(request={"name": pulled, "topic": topics["pull"]})
        future = subscriber.subscribe(pulled, _acking(arrivals))
        try:
            pull = _time_each(publisher, topics["pull"], arrivals, samples)
        finally:
            future.cancel()
            future.result(timeout=TIMEOUT_SECONDS)  # the stream is shut down
    finally:
        stop.set()
        if forwarder is not None:
            forwarder.join(timeout=TIMEOUT_SECONDS)
        subscriber.close()
        publisher.stop()
    return Floor(emulator_push=emulator_push, forwarder_push=forwarder_push, pull=pull)


def _acking(arrivals: queue.Queue[float]) -> Callable[[Any], None]:
    def callback(message: Any) -> None:
        arrivals.put(time.perf_counter())
        message.ack()

    return callback
