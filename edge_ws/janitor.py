"""``python -m edge_ws.janitor``: delete the events subscriptions of edge instances that died.

An edge instance deletes its ``apex-events-edge-<instance>`` subscription on
shutdown, but a killed instance leaves it behind, and Pub/Sub would keep
storing every run event for it for a day. A live instance refreshes the
subscription's ``heartbeat`` label (unix seconds) every few minutes
(:mod:`edge_ws.bus`); this job, scheduled as a Cloud Run Job, deletes each
subscription that

* is named ``apex-events-edge-*``, reads the ``apex-events`` topic and is
  labelled ``role=edge``, and
* has a ``heartbeat`` older than ``--max-idle-hours`` (env
  ``JANITOR_MAX_IDLE_HOURS``, default 2).

A subscription without a readable heartbeat is left alone (its one-day
expiration policy removes it); one deleted meanwhile is fine. ``--dry-run``
only reports. Exit 0 when done, 1 on any other Pub/Sub error, 2 for bad
arguments. Its identity needs to list, get and delete subscriptions, nothing else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import SubscriberClient

from apex_core import names
from apex_core.env import Env, SettingsError
from apex_core.logs import configure_logging, fields
from edge_ws.bus import HEARTBEAT_LABEL

log = logging.getLogger("edge_ws.janitor")
DEFAULT_MAX_IDLE_HOURS = 2.0


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """What the janitor needs to know about one subscription."""

    path: str
    topic: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    path: str
    delete: bool
    why: str


def judge(
    subscriptions: Iterable[SubscriptionInfo], *, project: str, now: float, max_idle_hours: float
) -> list[Verdict]:
    """Which edge subscriptions to delete, and why (pure)."""
    prefix = f"projects/{project}/subscriptions/{names.EDGE_EVENTS_SUBSCRIPTION_PREFIX}"
    events_topic = f"projects/{project}/topics/{names.EVENTS_TOPIC}"
    verdicts: list[Verdict] = []
    for sub in subscriptions:
        if not sub.path.startswith(prefix):
            continue
        if sub.topic != events_topic or sub.labels.get("role") != "edge":
            verdicts.append(Verdict(sub.path, False, "not an edge events subscription"))
            continue
        raw = sub.labels.get(HEARTBEAT_LABEL, "")
        if not raw.isdigit():
            verdicts.append(Verdict(sub.path, False, "no readable heartbeat label"))
            continue
        idle_hours = (now - int(raw)) / 3600
        if idle_hours > max_idle_hours:
            verdicts.append(Verdict(sub.path, True, f"heartbeat {idle_hours:.1f} h old"))
        else:
            verdicts.append(Verdict(sub.path, False, f"alive ({idle_hours:.1f} h since heartbeat)"))
    return verdicts


def sweep(
    client: Any, *, project: str, max_idle_hours: float, dry_run: bool, now: float | None = None
) -> list[Verdict]:
    """List, judge and (unless ``dry_run``) delete; raises ``GoogleAPIError`` on failure."""
    listed = [
        SubscriptionInfo(path=sub.name, topic=sub.topic, labels=dict(sub.labels))
        for sub in client.list_subscriptions(request={"project": f"projects/{project}"})
    ]
    verdicts = judge(
        listed,
        project=project,
        now=time.time() if now is None else now,
        max_idle_hours=max_idle_hours,
    )
    for verdict in verdicts:
        action = ("would delete" if dry_run else "deleting") if verdict.delete else "keeping"
        log.info("%s %s: %s", action, verdict.path, verdict.why, extra=fields(path=verdict.path))
        if verdict.delete and not dry_run:
            try:
                client.delete_subscription(request={"subscription": verdict.path}, timeout=30)
            except gexc.NotFound:
                log.info("already gone: %s", verdict.path)
    return verdicts


def _parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edge_ws.janitor",
        description="Delete apex-events-edge-* subscriptions whose heartbeat is too old.",
    )
    parser.add_argument(
        "--project", default=environ.get("GOOGLE_CLOUD_PROJECT") or names.DEFAULT_PROJECT
    )
    parser.add_argument(
        "--max-idle-hours",
        type=float,
        default=Env(environ).number("JANITOR_MAX_IDLE_HOURS", DEFAULT_MAX_IDLE_HOURS, unit="hours"),
        help="delete when the heartbeat is older than this (default: %(default)s)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    args = parser.parse_args(argv)
    if not args.max_idle_hours > 0:
        parser.error("--max-idle-hours must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging("edge-janitor")
    try:
        args = _parse(argv, os.environ)
    except SettingsError as exc:  # JANITOR_MAX_IDLE_HOURS is not a positive number
        log.error("%s", exc.message)
        return 2
    client = SubscriberClient()
    try:
        verdicts = sweep(
            client, project=args.project, max_idle_hours=args.max_idle_hours, dry_run=args.dry_run
        )
    except gexc.GoogleAPIError as exc:
        log.error("the janitor failed: %r", exc)
        return 1
    finally:
        client.close()
    deleted = sum(v.delete for v in verdicts)
    log.info(
        "%s %d of %d edge subscriptions",
        "would delete" if args.dry_run else "deleted",
        deleted,
        len(verdicts),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
