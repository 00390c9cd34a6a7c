"""``python -m edge_ws.janitor`` against the Pub/Sub emulator."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import pytest

from apex_core import names
from emulators.stack import REPO_ROOT
from tests.conftest import EmulatorEnv
from tests.e2e.conftest import EdgeCloud, EdgeProcess

pytestmark = pytest.mark.emulators


def make_subscription(cloud: EdgeCloud, heartbeat_age_hours: float) -> str:
    path: str = cloud.subscriber.subscription_path(
        cloud.project, names.edge_events_subscription(f"janitor-{secrets.token_hex(3)}")
    )
    cloud.subscriber.create_subscription(
        request={
            "name": path,
            "topic": cloud.publisher.topic_path(cloud.project, names.EVENTS_TOPIC),
            "labels": {
                "role": "edge",
                "heartbeat": str(int(time.time() - heartbeat_age_hours * 3600)),
            },
        },
        timeout=30,
    )
    return path


def janitor(env: EmulatorEnv, project: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_ws.janitor", "--project", project, *args],
        env={**os.environ, **env.env(), "JANITOR_MAX_IDLE_HOURS": "2"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_janitor_deletes_only_subscriptions_with_an_old_heartbeat(
    emulator_env: EmulatorEnv, edge_cloud: EdgeCloud, edge: EdgeProcess
) -> None:
    stale = make_subscription(edge_cloud, heartbeat_age_hours=3)
    fresh = make_subscription(edge_cloud, heartbeat_age_hours=0.5)

    dry = janitor(emulator_env, edge_cloud.project, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would delete" in dry.stdout
    assert edge_cloud.subscription_exists(stale)

    done = janitor(emulator_env, edge_cloud.project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not edge_cloud.subscription_exists(stale)
    assert edge_cloud.subscription_exists(fresh)
    # The running edge's own subscription has a fresh heartbeat.
    assert edge_cloud.subscription_exists(edge.subscription)
