"""The agent functions as real processes on the emulators, and the test's view of them.

``functions_stack`` provisions Pub/Sub for the session's project and starts the
three functions (``run_agent``, ``ingest_usage``, ``handle_dead_letter``) on free
ports and the push forwarder that delivers ``apex-requests`` to ``run_agent`` —
not the edge. Tests drive them the way the edge does: they write the
thread, the user's message and the ``queued`` run (``apex_core.schema``), publish
the ``RunRequest`` to ``apex-requests`` with the thread as ordering key, and read
what happened from Firestore and from a pull subscription on ``apex-events``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import PublisherOptions

from apex_core import names, schema
from apex_core.protocol import RunRequest, is_terminal_event, utc_now_rfc3339
from emulators.processes import Child, ProcessGroup, free_port, tcp_ready
from emulators.provision import PushEndpoints, provision
from emulators.stack import REPO_ROOT, function_argv, start_push_forwarder
from tests.conftest import EmulatorEnv

HOST = "127.0.0.1"
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.02
STEP_DELAY_MS = 60
"""Pause before every agent and tool call, so a cancel can land mid-run (see test_cancel)."""

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float = WAIT_SECONDS) -> T:
    """Poll ``probe`` until it returns something other than ``None``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


@dataclass
class Functions:
    project: str
    processes: dict[str, Child]
    ingest_url: str

    def log_lines(self, target: str) -> list[dict[str, Any]]:
        """The structured log records a function process wrote so far."""
        path = self.processes[target].log_path
        assert path is not None
        records = []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def logged(self, target: str, **match: str) -> list[dict[str, Any]]:
        """Log records of ``target`` whose fields contain every ``match`` value
        (``message`` matches as a substring)."""
        out = []
        for record in self.log_lines(target):
            ok = True
            for key, value in match.items():
                got = str(record.get(key, ""))
                if (value not in got) if key == "message" else (got != value):
                    ok = False
                    break
            if ok:
                out.append(record)
        return out

    def assert_alive(self) -> None:
        for name, child in self.processes.items():
            assert child.popen.poll() is None, f"{name} exited:\n{child.tail()}"


def functions_project(emulator_env: EmulatorEnv) -> str:
    """The project the functions-only tests use."""
    return f"{emulator_env.project}-functions"


@pytest.fixture(scope="session")
def functions_stack(emulator_env: EmulatorEnv) -> Iterator[Functions]:
    ports = {
        names.RUN_AGENT_FUNCTION: free_port(),
        names.INGEST_USAGE_FUNCTION: free_port(),
        names.DEAD_LETTER_FUNCTION: free_port(),
    }
    # A project of its own: the session project's push subscriptions belong to the
    # ``stack`` fixture's functions, and provisioning is idempotent (it would keep them).
    project = functions_project(emulator_env)
    provision(
        project,
        PushEndpoints(
            run_agent=f"http://{HOST}:{ports[names.RUN_AGENT_FUNCTION]}/",
            dead_letter=f"http://{HOST}:{ports[names.DEAD_LETTER_FUNCTION]}/",
        ),
    )
    env = emulator_env.app_env(
        jwt_secret=secrets.token_urlsafe(32),
        project=project,
        AGENT_STEP_DELAY_MS=str(STEP_DELAY_MS),
    )
    log_dir = emulator_env.log_dir / project
    with ProcessGroup(log_dir=log_dir) as group:
        children = {
            target: group.start(
                target, function_argv(target, host=HOST, port=port), env=env, cwd=REPO_ROOT
            )
            for target, port in ports.items()
        }
        for target, child in children.items():
            child.wait_ready(tcp_ready(HOST, ports[target]), timeout=60)
        children["push-forwarder"] = start_push_forwarder(
            group,
            project=project,
            env=env,
            endpoint=f"http://{HOST}:{ports[names.RUN_AGENT_FUNCTION]}/",
        )
        yield Functions(
            project=project,
            processes=children,
            ingest_url=f"http://{HOST}:{ports[names.INGEST_USAGE_FUNCTION]}/",
        )


@pytest.fixture(scope="session")
def db(emulator_env: EmulatorEnv) -> firestore.Client:
    return firestore.Client(project=functions_project(emulator_env))


@pytest.fixture(scope="session")
def publisher(emulator_env: EmulatorEnv) -> Iterator[PublisherClient]:
    client = PublisherClient(publisher_options=PublisherOptions(enable_message_ordering=True))
    yield client
    client.stop()
    client.transport.close()


@dataclass
class EventCollector:
    """A pull subscription on ``apex-events``: everything published, grouped by run."""

    subscriber: SubscriberClient
    path: str
    by_run: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    attributes: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))

    def pull(self) -> None:
        response = self.subscriber.pull(
            request={"subscription": self.path, "max_messages": 200}, timeout=10
        )
        if not response.received_messages:
            return
        for received in response.received_messages:
            message = received.message
            event = json.loads(message.data)
            self.by_run[event["run_id"]].append(event)
            self.attributes[event["run_id"]].append(dict(message.attributes))
        self.subscriber.acknowledge(
            request={
                "subscription": self.path,
                "ack_ids": [r.ack_id for r in response.received_messages],
            }
        )

    def until_terminal(self, run_id: str, *, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Pull until the run's terminal event arrived; its events in the order received."""

        def probe() -> list[dict[str, Any]] | None:
            self.pull()
            events = self.by_run.get(run_id, [])
            if any(is_terminal_event(e) for e in events):
                return list(events)
            return None

        return wait_for(f"the terminal event of run {run_id}", probe, timeout=timeout)


@pytest.fixture(scope="session")
def events(functions_stack: Functions) -> Iterator[EventCollector]:
    subscriber = SubscriberClient()
    path = subscriber.subscription_path(
        functions_stack.project, f"apex-events-test-{secrets.token_hex(4)}"
    )
    subscriber.create_subscription(
        request={
            "name": path,
            "topic": f"projects/{functions_stack.project}/topics/{names.EVENTS_TOPIC}",
            "enable_message_ordering": True,
            "ack_deadline_seconds": 60,
        },
        timeout=30,
    )
    yield EventCollector(subscriber, path)
    subscriber.delete_subscription(request={"subscription": path}, timeout=30)
    subscriber.close()


@dataclass(frozen=True)
class Submitter:
    """Does what the edge does for a user message: store, then publish."""

    db: firestore.Client
    publisher: PublisherClient
    project: str

    def new_request(
        self, text: str = "Analyze my AI costs", *, user_id: str | None = None
    ) -> RunRequest:
        return RunRequest(
            run_id=schema.run_id_for("x", None),
            thread_id=schema.new_thread_id(),
            user_id=user_id or f"demo-user-{int(time.time())}-{secrets.token_hex(4)}",
            text=text,
            submitted_at=utc_now_rfc3339(),
        )

    def store(self, request: RunRequest) -> None:
        now = datetime.now(UTC)
        batch = self.db.batch()
        batch.create(
            self.db.document(schema.thread_path(request.thread_id)),
            schema.new_thread_doc(
                user_id=request.user_id, text=request.text, run_id=request.run_id, now=now
            ),
        )
        batch.create(
            self.db.document(
                schema.message_path(request.thread_id, schema.user_message_id(request.run_id))
            ),
            schema.message_doc(
                user_id=request.user_id,
                role="user",
                text=request.text,
                run_id=request.run_id,
                now=now,
            ),
        )
        batch.create(
            self.db.document(schema.run_path(request.run_id)),
            schema.queued_run_doc(
                user_id=request.user_id,
                thread_id=request.thread_id,
                client_message_id=None,
                now=now,
            ),
        )
        batch.commit()

    def publish(
        self, request: RunRequest, *, topic: str = names.REQUESTS_TOPIC, ordering: bool = True
    ) -> str:
        return self.publish_raw(
            request.model_dump_json().encode(),
            topic=topic,
            ordering_key=request.thread_id if ordering else "",
        )

    def publish_raw(self, data: bytes, *, topic: str, ordering_key: str = "") -> str:
        future = self.publisher.publish(
            self.publisher.topic_path(self.project, topic), data, ordering_key=ordering_key
        )
        message_id: str = future.result(timeout=30)
        return message_id

    def submit(
        self, text: str = "Analyze my AI costs", *, user_id: str | None = None
    ) -> RunRequest:
        request = self.new_request(text, user_id=user_id)
        self.store(request)
        self.publish(request)
        return request


@pytest.fixture
def submitter(
    functions_stack: Functions, db: firestore.Client, publisher: PublisherClient
) -> Submitter:
    return Submitter(db=db, publisher=publisher, project=functions_stack.project)


def stored_events(db: firestore.Client, run_id: str) -> list[dict[str, Any]]:
    """The run's events in Firestore, by seq."""
    snaps = db.collection(f"{names.RUNS}/{run_id}/{names.EVENTS}").stream()
    docs = {s.id: s.to_dict() or {} for s in snaps}
    assert all(doc_id == str(doc["seq"]) for doc_id, doc in docs.items())
    return sorted(docs.values(), key=lambda e: int(e["seq"]))


def run_doc(db: firestore.Client, run_id: str) -> dict[str, Any]:
    return db.document(schema.run_path(run_id)).get().to_dict() or {}
