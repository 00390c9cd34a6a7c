"""End-to-end fixtures for the edge alone: real edge processes on free ports, the emulators.

:func:`edge_launcher` starts ``python -m edge_ws`` processes (only the edge, no
functions) against the emulators, each with its own environment overrides
(``DEMO_MODE=0``, ``ENVIRONMENT=production``, tighter limits …) and waits for
``/readyz``. The edge processes use a Pub/Sub/Firestore project of their own
(``<session project>-edge``), provisioned with :func:`emulators.provision.provision`,
so nothing here can disturb the ``stack`` fixture's project.

:class:`EdgeCloud` is the test's own view of that project: it publishes run
events the way the run_agent function does, stores events in Firestore, reads
the edge's documents, and pulls ``apex-requests`` through a subscription of its
own.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import PublisherOptions

from apex_core import names, schema
from emulators.processes import Child, ProcessGroup, free_port, http_ready
from emulators.provision import PushEndpoints, provision
from emulators.stack import REPO_ROOT
from tests.conftest import EmulatorEnv
from tests.e2e.fault_stack import FaultStack, start_fault_stack

HOST = "127.0.0.1"
EDGE_READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class EdgeProcess:
    """One running edge process."""

    name: str
    child: Child
    port: int
    project: str
    instance_id: str
    jwt_secret: str

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def subscription(self) -> str:
        return f"projects/{self.project}/subscriptions/" + names.edge_events_subscription(
            self.instance_id
        )

    def token(self, sub: str, *, ttl_seconds: int = 600, **claims: Any) -> str:
        """A valid HS256 user token for this edge."""
        now = int(time.time())
        payload = {"sub": sub, "iat": now, "exp": now + ttl_seconds, **claims}
        return jwt.encode(payload, self.jwt_secret, algorithm="HS256")


class EdgeLauncher:
    """Starts edge processes in one process group; cached by name."""

    def __init__(
        self, group: ProcessGroup, *, emulators: EmulatorEnv, project: str, jwt_secret: str
    ) -> None:
        self._group = group
        self._emulators = emulators
        self.project = project
        self.jwt_secret = jwt_secret
        self._started: dict[str, EdgeProcess] = {}

    def start(self, name: str, env: Mapping[str, str] | None = None) -> EdgeProcess:
        """The edge called ``name`` (started on first use) with ``env`` on top of the
        defaults (demo mode on, the session's JWT secret)."""
        if name in self._started:
            return self._started[name]
        edge = self.start_fresh(name, env)
        self._started[name] = edge
        return edge

    def start_fresh(self, name: str, env: Mapping[str, str] | None = None) -> EdgeProcess:
        """A new edge process that the caller may stop (not cached)."""
        port = free_port()
        instance_id = f"{name}-{secrets.token_hex(3)}"
        full_env = self._emulators.app_env(
            jwt_secret=self.jwt_secret,
            project=self.project,
            HOST=HOST,
            PORT=str(port),
            EDGE_INSTANCE_ID=instance_id,
            **(env or {}),
        )
        child = self._group.start(
            f"edge-{instance_id}", [sys.executable, "-m", "edge_ws"], env=full_env, cwd=REPO_ROOT
        )
        child.wait_ready(
            http_ready(f"http://{HOST}:{port}/readyz"), timeout=EDGE_READY_TIMEOUT_SECONDS
        )
        return EdgeProcess(
            name=name,
            child=child,
            port=port,
            project=self.project,
            instance_id=instance_id,
            jwt_secret=self.jwt_secret,
        )


@pytest.fixture(scope="session")
def edge_project(emulator_env: EmulatorEnv) -> str:
    """The project the edge tests use, provisioned like production (topics, subscriptions)."""
    project = f"{emulator_env.project}-edge"
    # Nothing listens at these push endpoints: the edge tests run no functions.
    provision(
        project,
        PushEndpoints(
            run_agent=f"http://{HOST}:{free_port()}/", dead_letter=f"http://{HOST}:{free_port()}/"
        ),
    )
    return project


@pytest.fixture(scope="session")
def edge_launcher(
    emulator_env: EmulatorEnv, edge_project: str, jwt_secret: str
) -> Iterator[EdgeLauncher]:
    log_dir: Path = emulator_env.log_dir / edge_project
    with ProcessGroup(log_dir=log_dir) as group:
        yield EdgeLauncher(
            group, emulators=emulator_env, project=edge_project, jwt_secret=jwt_secret
        )


@pytest.fixture(scope="session")
def edge(edge_launcher: EdgeLauncher) -> EdgeProcess:
    """The default edge: demo mode on, default limits."""
    return edge_launcher.start("main")


@dataclass
class PulledRequest:
    data: dict[str, Any]
    attributes: dict[str, str]
    ordering_key: str


@dataclass
class EdgeCloud:
    """The test's own clients on the edge tests' project."""

    project: str
    publisher: Any = field(init=False)
    subscriber: Any = field(init=False)
    db: firestore.Client = field(init=False)
    requests_subscription: str = field(init=False)
    _pulled: dict[str, list[PulledRequest]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.publisher = PublisherClient(
            publisher_options=PublisherOptions(enable_message_ordering=True)
        )
        self.subscriber = SubscriberClient()
        self.db = firestore.Client(project=self.project)
        self.requests_subscription = self.subscriber.subscription_path(
            self.project, f"apex-requests-test-{secrets.token_hex(4)}"
        )
        self.subscriber.create_subscription(
            request={
                "name": self.requests_subscription,
                "topic": self.publisher.topic_path(self.project, names.REQUESTS_TOPIC),
                "enable_message_ordering": True,
            },
            timeout=30,
        )

    def close(self) -> None:
        with contextlib.suppress(gexc.NotFound):
            self.subscriber.delete_subscription(
                request={"subscription": self.requests_subscription}, timeout=10
            )
        self.subscriber.close()
        self.publisher.stop()

    # -------------------------------------------------------- Pub/Sub

    def publish_event(self, user_id: str, event: dict[str, Any]) -> None:
        """Publish a run event the way run_agent does (ordering key = run_id) and wait."""
        future = self.publisher.publish(
            self.publisher.topic_path(self.project, names.EVENTS_TOPIC),
            _json_bytes(event),
            ordering_key=str(event["run_id"]),
            user_id=user_id,
            run_id=str(event["run_id"]),
            type=str(event["type"]),
        )
        future.result(timeout=30)

    def pull_requests(
        self, run_id: str, count: int, *, timeout: float = 20.0
    ) -> list[PulledRequest]:
        """The first ``count`` ``apex-requests`` messages of ``run_id``, in arrival order.

        Every pulled message is acked and kept by run id, so a message pulled
        while looking for another run is there when asked for.
        """
        deadline = time.monotonic() + timeout
        while len(self._pulled.get(run_id, [])) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self._pulled.get(run_id, []))} apex-requests messages for run {run_id} "
                    f"within {timeout} s; expected {count}"
                )
            response = self.subscriber.pull(
                request={"subscription": self.requests_subscription, "max_messages": 50},
                timeout=10,
            )
            ack_ids = []
            for received in response.received_messages:
                ack_ids.append(received.ack_id)
                message = received.message
                self._pulled.setdefault(message.attributes.get("run_id", ""), []).append(
                    PulledRequest(
                        data=_json_object(message.data),
                        attributes=dict(message.attributes),
                        ordering_key=message.ordering_key,
                    )
                )
            if ack_ids:
                self.subscriber.acknowledge(
                    request={"subscription": self.requests_subscription, "ack_ids": ack_ids}
                )
        return self._pulled[run_id][:count]

    def pull_request(self, run_id: str, *, timeout: float = 20.0) -> PulledRequest:
        """The first ``apex-requests`` message of ``run_id``."""
        return self.pull_requests(run_id, 1, timeout=timeout)[0]

    def subscription_exists(self, path: str) -> bool:
        try:
            self.subscriber.get_subscription(request={"subscription": path}, timeout=10)
        except gexc.NotFound:
            return False
        return True

    # -------------------------------------------------------- Firestore

    def doc(self, path: str) -> dict[str, Any] | None:
        snap = self.db.document(path).get()
        return snap.to_dict() if snap.exists else None

    def store_event(self, event: dict[str, Any]) -> None:
        """Store an event as run_agent does (``create`` at its seq)."""
        self.db.document(schema.event_path(str(event["run_id"]), int(event["seq"]))).create(event)

    def user_messages(self, thread_id: str) -> list[dict[str, Any]]:
        snaps = self.db.collection(names.THREADS, thread_id, names.MESSAGES).get()
        return [snap.to_dict() or {} for snap in snaps]

    def runs_of_thread(self, thread_id: str) -> list[str]:
        query = self.db.collection(names.RUNS).where(
            filter=firestore.FieldFilter("thread_id", "==", thread_id)
        )
        return [snap.id for snap in query.get()]


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def _json_object(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


@pytest.fixture(scope="session")
def edge_cloud(edge_project: str) -> Iterator[EdgeCloud]:
    cloud = EdgeCloud(edge_project)
    yield cloud
    cloud.close()


# ---------------------------------------------------------------- fault tests

StartFaultStack = Callable[..., FaultStack]


@pytest.fixture
def fault_stack(emulator_env: EmulatorEnv, jwt_secret: str) -> Iterator[StartFaultStack]:
    """Start a :class:`~tests.e2e.fault_stack.FaultStack` (``env`` overrides the processes'
    settings); everything it started is stopped after the test."""
    started: list[FaultStack] = []

    def start(**env: str) -> FaultStack:
        stack = start_fault_stack(
            emulator_env, jwt_secret=jwt_secret, log_dir=emulator_env.log_dir, env=env
        )
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()
        stack.pubsub_proxy.close()
        stack.firestore_proxy.close()
