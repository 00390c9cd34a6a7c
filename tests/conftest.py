"""Fixtures shared by every test: the emulators (started by scripts/test) and the stack.

Integration and end-to-end tests run against the real Pub/Sub and Firestore
emulators whose hosts ``scripts/test`` puts in the environment. Each test
session uses a project of its own, so a running ``scripts/dev`` is not disturbed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.processes import ProcessGroup
from emulators.stack import REPO_ROOT, Stack, StackPorts, start_stack

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def demo_secret_for(jwt_secret: str) -> str:
    """The ``DEMO_SESSION_SECRET`` that goes with a test's ``JWT_SECRET`` (a key of its own)."""
    return hashlib.sha256(b"apex-test-demo-session\0" + jwt_secret.encode()).hexdigest()


@dataclass(frozen=True)
class EmulatorEnv:
    pubsub: str
    firestore: str
    project: str
    log_dir: Path

    def env(self) -> dict[str, str]:
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub,
            "FIRESTORE_EMULATOR_HOST": self.firestore,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def app_env(
        self, *, jwt_secret: str, project: str | None = None, **overrides: str
    ) -> dict[str, str]:
        """The environment of a product process under test: this one's, the emulators',
        demo mode on and no ``ENVIRONMENT=production`` (unless ``overrides`` say otherwise)."""
        env = {
            **os.environ,
            **self.env(),
            "GOOGLE_CLOUD_PROJECT": project or self.project,
            "JWT_SECRET": jwt_secret,
            "DEMO_SESSION_SECRET": demo_secret_for(jwt_secret),
            "DEMO_MODE": "1",
            # many browser tests and benchmarks open fresh demo sessions from one address
            "EDGE_DEMO_HANDSHAKES_PER_MINUTE": "10000",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("ENVIRONMENT", None)
        return {**env, **overrides}


@pytest.fixture(scope="session")
def emulator_env() -> Iterator[EmulatorEnv]:
    """The running emulators, with a project id unique to this test session.

    Fails (never skips) when the emulators are not there, saying how to start them.
    """
    pubsub = os.environ.get("PUBSUB_EMULATOR_HOST")
    firestore = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if not pubsub or not firestore:
        pytest.fail(
            "this test needs the Pub/Sub and Firestore emulators, but PUBSUB_EMULATOR_HOST / "
            "FIRESTORE_EMULATOR_HOST are not set. Run the suite with 'scripts/test', or start "
            "them around pytest: '.venv/bin/python -m emulators exec -- .venv/bin/pytest …'"
        )
    project = f"apex-test-{secrets.token_hex(4)}"
    log_dir = Path(os.environ.get("APEX_LOG_DIR", REPO_ROOT / ".cache" / "logs" / "tests"))
    env = EmulatorEnv(pubsub=pubsub, firestore=firestore, project=project, log_dir=log_dir)
    saved = {k: os.environ.get(k) for k in env.env()}
    os.environ.update(env.env())  # the client libraries in this process read these
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class RunningStack:
    stack: Stack
    jwt_secret: str
    project: str
    log_dir: Path


@pytest.fixture(scope="session")
def stack(emulator_env: EmulatorEnv, jwt_secret: str) -> Iterator[RunningStack]:
    """The whole product (three functions and the edge) as real processes on free ports."""
    log_dir = emulator_env.log_dir / emulator_env.project
    env = emulator_env.app_env(jwt_secret=jwt_secret)
    with ProcessGroup(log_dir=log_dir) as group:
        running = start_stack(group, project=emulator_env.project, env=env, ports=StackPorts.free())
        yield RunningStack(
            stack=running, jwt_secret=jwt_secret, project=emulator_env.project, log_dir=log_dir
        )
