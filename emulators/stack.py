"""Start the product's own processes (three functions and the edge) against the emulators.

Used by ``scripts/dev`` (design ports) and by the end-to-end tests (free ports,
a project of their own), so both run the very same processes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from apex_core import names
from emulators.processes import Child, ProcessGroup, free_port, http_ready, tcp_ready
from emulators.provision import PushEndpoints, RequestsDelivery, provision

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_SOURCE = REPO_ROOT / "functions" / "main.py"
PROCESS_READY_TIMEOUT_SECONDS = 60.0
EDGE_PROCESS = "edge"
PUSH_FORWARDER_PROCESS = "push-forwarder"
# The children start_stack starts: the ones a supervisor restarts when they die.
STACK_PROCESSES = (
    names.RUN_AGENT_FUNCTION,
    names.INGEST_USAGE_FUNCTION,
    names.DEAD_LETTER_FUNCTION,
    PUSH_FORWARDER_PROCESS,
    EDGE_PROCESS,
)


@dataclass(frozen=True, slots=True)
class StackPorts:
    edge: int = names.EDGE_PORT
    run_agent: int = names.RUN_AGENT_PORT
    ingest_usage: int = names.INGEST_USAGE_PORT
    dead_letter: int = names.DEAD_LETTER_PORT

    @classmethod
    def free(cls) -> StackPorts:
        """Ports the OS says are free now, for a stack beside any other (tests, benchmarks)."""
        return cls(
            edge=free_port(),
            run_agent=free_port(),
            ingest_usage=free_port(),
            dead_letter=free_port(),
        )


@dataclass(frozen=True, slots=True)
class Stack:
    """Where a started stack listens."""

    host: str
    ports: StackPorts

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ports.edge}/ws"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports.edge}"

    @property
    def ingest_url(self) -> str:
        return f"http://{self.host}:{self.ports.ingest_usage}"


def function_argv(target: str, *, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(FUNCTIONS_SOURCE),
        "--target",
        target,
        "--host",
        host,
        "--port",
        str(port),
    ]


def start_push_forwarder(
    group: ProcessGroup, *, project: str, env: Mapping[str, str], endpoint: str
) -> Child:
    """Start :mod:`emulators.push_forwarder` on ``project``'s requests subscription.

    No readiness wait: the subscription keeps what is published before the
    forwarder's stream opens. ``PUSH_FORWARDER_MAX_IN_FLIGHT`` in ``env`` bounds it.
    """
    subscription = f"projects/{project}/subscriptions/{names.REQUESTS_PUSH_SUBSCRIPTION}"
    return group.start(
        PUSH_FORWARDER_PROCESS,
        [
            sys.executable,
            "-m",
            "emulators.push_forwarder",
            "--subscription",
            subscription,
            "--endpoint",
            endpoint,
        ],
        env={**env, "GOOGLE_CLOUD_PROJECT": project, "PYTHONUNBUFFERED": "1"},
        cwd=REPO_ROOT,
    )


def start_stack(
    group: ProcessGroup,
    *,
    project: str,
    env: Mapping[str, str],
    host: str = "127.0.0.1",
    ports: StackPorts | None = None,
    requests_delivery: RequestsDelivery = "pull",
    forwarder_pubsub_host: str | None = None,
) -> Stack:
    """Provision Pub/Sub for ``project``, start the functions, then the edge; wait for each.

    ``env`` must hold the emulator hosts and the app settings (``JWT_SECRET``,
    ``DEMO_MODE`` …); ``GOOGLE_CLOUD_PROJECT`` is set to ``project`` here.
    Run requests reach ``run_agent`` through the push forwarder (``"pull"``), or
    through the emulator's own push (``"push"``, for the benchmark's comparison).
    ``forwarder_pubsub_host`` points the forwarder, which stands in for Pub/Sub's own
    push machinery, straight at the emulator when the apps reach it through a proxy
    (the fault tests: a cut between the apps and Pub/Sub does not reach real push).
    """
    ports = ports or StackPorts()
    env = {**env, "GOOGLE_CLOUD_PROJECT": project, "PYTHONUNBUFFERED": "1"}
    provision(
        project,
        PushEndpoints(
            run_agent=f"http://{host}:{ports.run_agent}/",
            dead_letter=f"http://{host}:{ports.dead_letter}/",
        ),
        requests_delivery=requests_delivery,
    )
    # The page is served by the edge and uploads cross-origin to ingest_usage.
    page_origins = f"http://{host}:{ports.edge},http://localhost:{ports.edge}"
    env.setdefault("ALLOWED_ORIGINS", page_origins)
    functions = [
        (names.RUN_AGENT_FUNCTION, ports.run_agent),
        (names.INGEST_USAGE_FUNCTION, ports.ingest_usage),
        (names.DEAD_LETTER_FUNCTION, ports.dead_letter),
    ]
    started = [
        (
            group.start(
                target, function_argv(target, host=host, port=port), env=env, cwd=REPO_ROOT
            ),
            port,
        )
        for target, port in functions
    ]
    for child, port in started:
        child.wait_ready(tcp_ready(host, port), timeout=PROCESS_READY_TIMEOUT_SECONDS)
    if requests_delivery == "pull":
        forwarder_env = (
            env
            if forwarder_pubsub_host is None
            else {**env, "PUBSUB_EMULATOR_HOST": forwarder_pubsub_host}
        )
        start_push_forwarder(
            group,
            project=project,
            env=forwarder_env,
            endpoint=f"http://{host}:{ports.run_agent}/",
        )
    edge = group.start(
        EDGE_PROCESS,
        [sys.executable, "-m", "edge_ws"],
        env={
            **env,
            "HOST": host,
            "PORT": str(ports.edge),
            "INGEST_URL": f"http://{host}:{ports.ingest_usage}/",
        },
        cwd=REPO_ROOT,
    )
    edge.wait_ready(
        http_ready(f"http://{host}:{ports.edge}/readyz"), timeout=PROCESS_READY_TIMEOUT_SECONDS
    )
    return Stack(host=host, ports=ports)
