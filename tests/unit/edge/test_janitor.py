"""Which leaked edge subscriptions the janitor deletes (edge_ws.janitor.judge), and its settings."""

from __future__ import annotations

import pytest

from apex_core.env import SettingsError
from edge_ws.janitor import SubscriptionInfo, _parse, judge

PROJECT = "p-1"
TOPIC = f"projects/{PROJECT}/topics/apex-events"
NOW = 1_800_000_000.0


def sub(
    name: str, *, heartbeat: float | None, topic: str = TOPIC, role: str = "edge"
) -> SubscriptionInfo:
    labels = {"role": role}
    if heartbeat is not None:
        labels["heartbeat"] = str(int(heartbeat))
    return SubscriptionInfo(
        path=f"projects/{PROJECT}/subscriptions/{name}", topic=topic, labels=labels
    )


def test_only_stale_edge_subscriptions_are_deleted() -> None:
    verdicts = judge(
        [
            sub("apex-events-edge-old", heartbeat=NOW - 3 * 3600),
            sub("apex-events-edge-fresh", heartbeat=NOW - 300),
            sub("apex-events-edge-unlabelled", heartbeat=None),
            sub(
                "apex-events-edge-other-topic",
                heartbeat=NOW - 9 * 3600,
                topic="projects/p-1/topics/x",
            ),
            sub("apex-events-edge-not-edge", heartbeat=NOW - 9 * 3600, role="tests"),
            sub("apex-requests-push", heartbeat=NOW - 9 * 3600),
        ],
        project=PROJECT,
        now=NOW,
        max_idle_hours=2,
    )
    decided = {v.path.rsplit("/", 1)[1]: v.delete for v in verdicts}
    assert decided == {
        "apex-events-edge-old": True,
        "apex-events-edge-fresh": False,
        "apex-events-edge-unlabelled": False,
        "apex-events-edge-other-topic": False,
        "apex-events-edge-not-edge": False,
    }


def test_the_idle_limit_is_a_parameter() -> None:
    one = [sub("apex-events-edge-a", heartbeat=NOW - 90 * 60)]
    assert [v.delete for v in judge(one, project=PROJECT, now=NOW, max_idle_hours=2)] == [False]
    assert [v.delete for v in judge(one, project=PROJECT, now=NOW, max_idle_hours=1)] == [True]


def test_max_idle_hours_comes_from_the_environment_and_a_bad_value_is_refused() -> None:
    assert _parse([], {"JANITOR_MAX_IDLE_HOURS": "3"}).max_idle_hours == 3.0
    with pytest.raises(SettingsError) as refused:
        _parse(["--dry-run"], {"JANITOR_MAX_IDLE_HOURS": "soon"})
    assert refused.value.message == (
        "JANITOR_MAX_IDLE_HOURS must be a number of hours, more than 0; it is 'soon'"
    )
