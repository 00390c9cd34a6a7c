"""A whole stack to break: the product's processes, supervised, behind proxies to the emulators.

:class:`FaultStack` is what the fault tests get (fixture ``fault_stack`` in
``tests/e2e/conftest.py``): the three functions and the edge started by
:func:`emulators.stack.start_stack` on free ports in a project of their own,
restarted when they die by the same :class:`emulators.supervision.Supervisor`
``scripts/dev`` uses (in a thread here), and reaching Pub/Sub and Firestore
through a :class:`~tests.e2e.tcp_proxy.TcpProxy` each, so a test can pause,
cut or slow either of them without touching the emulators other tests share.
Pub/Sub's pushes to ``run_agent`` come straight from the emulator.

Faults are real: :meth:`FaultStack.kill` signals a process group,
:meth:`start_edge` adds a second edge instance, the proxies cut connections.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from google.cloud import firestore

from apex_core import names, schema
from emulators.processes import Child, ProcessGroup, free_port, http_ready
from emulators.stack import EDGE_PROCESS, REPO_ROOT, STACK_PROCESSES, StackPorts, start_stack
from emulators.supervision import RestartPolicy, Supervisor
from tests.conftest import EmulatorEnv
from tests.e2e.tcp_proxy import TcpProxy

HOST = "127.0.0.1"
RESTART_TIMEOUT_SECONDS = 90.0
# Fast restarts: the tests wait for them, and a loaded machine is slow enough.
TEST_RESTART_POLICY = RestartPolicy(backoff_seconds=(0.2, 0.5, 1.0, 2.0), poll_seconds=0.1)


def wait_until(
    predicate: Callable[[], bool], *, within: float, what: str, interval: float = 0.2
) -> None:
    """Poll ``predicate`` until true; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:.0f} s")
        time.sleep(interval)


@dataclass
class FaultStack:
    """A supervised stack in ``project`` whose backends are reached through proxies."""

    project: str
    group: ProcessGroup
    ports: StackPorts
    pubsub_proxy: TcpProxy
    firestore_proxy: TcpProxy
    jwt_secret: str
    env: dict[str, str]
    reports: list[str] = field(default_factory=list)
    supervisor: Supervisor = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            self.group,
            supervised=(*STACK_PROCESSES, *self._extra_edges()),
            policy=TEST_RESTART_POLICY,
            report=self.reports.append,
        )

    def _extra_edges(self) -> tuple[str, ...]:
        return tuple(f"{EDGE_PROCESS}-{i}" for i in range(2, 5))

    def supervise(self) -> None:
        self._thread = threading.Thread(
            target=self.supervisor.run, args=(self._stop,), name="supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.group.stop_all()

    # ------------------------------------------------------------ processes

    def child(self, name: str) -> Child:
        for child in self.group.children:
            if child.name == name:
                return child
        raise KeyError(f"no process {name!r}; started: {[c.name for c in self.group.children]}")

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Signal the process group of ``name``; the pid that was signalled."""
        child = self.child(name)
        pid = child.popen.pid
        child.kill(sig)
        return pid

    def wait_restarted(
        self, name: str, old_pid: int, *, within: float = RESTART_TIMEOUT_SECONDS
    ) -> None:
        """Wait until ``name`` runs as a new process that answers its readiness probe."""
        child = self.child(name)
        probe = child.probe

        def serving() -> bool:
            return (
                child.popen.pid != old_pid
                and child.popen.poll() is None
                and (probe is None or probe())
            )

        wait_until(serving, within=within, what=f"{name} restarting and serving again")

    def start_edge(self, name: str) -> str:
        """A further edge instance (``edge-2`` …, supervised too); its ws URL."""
        port = free_port()
        child = self.group.start(
            name,
            [sys.executable, "-m", "edge_ws"],
            env={**self.child(EDGE_PROCESS).launch.env, "PORT": str(port)},
            cwd=REPO_ROOT,
        )
        child.wait_ready(http_ready(f"http://{HOST}:{port}/readyz"), timeout=60)
        return f"ws://{HOST}:{port}/ws"

    # ------------------------------------------------------------ clients

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ports.edge}/ws"

    def token(self, sub: str, *, ttl_seconds: int = 900) -> str:
        now = int(time.time())
        payload = {"sub": sub, "iat": now, "exp": now + ttl_seconds}
        return jwt.encode(payload, self.jwt_secret, algorithm="HS256")

    def db(self) -> firestore.Client:
        """A Firestore client straight to the emulator (not through the proxy)."""
        return firestore.Client(project=self.project)

    def run_doc(self, run_id: str) -> dict[str, Any]:
        snap = self.db().document(schema.run_path(run_id)).get()
        return snap.to_dict() or {}

    def stored_events(self, run_id: str) -> list[dict[str, Any]]:
        snaps = self.db().collection(names.RUNS, run_id, names.EVENTS).order_by("seq").get()
        return [snap.to_dict() or {} for snap in snaps]

    def log(self, name: str) -> str:
        path = self.child(name).log_path
        return "" if path is None else path.read_text(errors="replace")


def start_fault_stack(
    emulators: EmulatorEnv, *, jwt_secret: str, log_dir: Path, env: Mapping[str, str]
) -> FaultStack:
    """Proxies, then a supervised stack on free ports in a new project (see the module doc)."""
    project = f"{emulators.project}-{secrets.token_hex(2)}"
    pubsub = TcpProxy(emulators.pubsub).start()
    store = TcpProxy(emulators.firestore).start()
    app_env = emulators.app_env(
        jwt_secret=jwt_secret,
        project=project,
        PUBSUB_EMULATOR_HOST=pubsub.address,
        FIRESTORE_EMULATOR_HOST=store.address,
        **env,
    )
    group = ProcessGroup(log_dir=log_dir / project)
    ports = StackPorts.free()
    try:
        # The push forwarder is Pub/Sub's own push locally: it reaches the emulator
        # directly, as real push is not cut off by the apps' connection to Pub/Sub.
        start_stack(
            group,
            project=project,
            env=app_env,
            ports=ports,
            forwarder_pubsub_host=emulators.pubsub,
        )
    except BaseException:
        group.stop_all()
        pubsub.close()
        store.close()
        raise
    stack = FaultStack(
        project=project,
        group=group,
        ports=ports,
        pubsub_proxy=pubsub,
        firestore_proxy=store,
        jwt_secret=jwt_secret,
        env=app_env,
    )
    stack.supervise()
    return stack
