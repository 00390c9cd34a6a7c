"""What every fault test checks about a run once the fault has healed, and a tap on apex-events.

:func:`assert_run_delivered_once` is the promise of docs/RELIABILITY.md in code:
the events a client received for a run are seq 1..N with no gap and no
duplicate, end with exactly one terminal event, and are exactly what Firestore
stores. :class:`EventTap` is a pull subscription of the test's own on
``apex-events``: every copy of every event the functions published, so a test
can check that a redelivered run never published one seq with two contents.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections import defaultdict
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import SubscriberClient

from apex_core import names
from apex_core.protocol import is_terminal_event
from tests.e2e.ws_client import Frame


def assert_run_delivered_once(
    events: list[Frame], stored: list[dict[str, Any]], *, run_id: str, status: str = "completed"
) -> None:
    """Gap-free seqs from 1, one terminal event and it is last, equal to the stored events."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), f"seqs received: {seqs}"
    assert {e["run_id"] for e in events} == {run_id}
    terminals = [e for e in events if is_terminal_event(e)]
    assert terminals == [events[-1]], f"terminal events: {terminals}"
    expected_type = "agent_completed" if status == "completed" else "agent_error"
    assert events[-1]["type"] == expected_type, events[-1]
    assert events == stored, "what the client received differs from what Firestore stores"


class EventTap:
    """Every message published to ``apex-events`` of ``project`` from now on."""

    def __init__(self, project: str) -> None:
        self._client = SubscriberClient()
        self.path = self._client.subscription_path(project, f"tap-{secrets.token_hex(4)}")
        self._client.create_subscription(
            request={
                "name": self.path,
                "topic": f"projects/{project}/topics/{names.EVENTS_TOPIC}",
                "enable_message_ordering": True,
            },
            timeout=30,
        )
        self.copies: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)

    def drain(self, *, quiet_seconds: float = 2.0, within: float = 60.0) -> None:
        """Pull until nothing has arrived for ``quiet_seconds``."""
        deadline = time.monotonic() + within
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_seconds and time.monotonic() < deadline:
            response = self._client.pull(
                request={"subscription": self.path, "max_messages": 500},
                timeout=10,
            )
            if not response.received_messages:
                continue
            quiet_since = time.monotonic()
            for received in response.received_messages:
                event = json.loads(received.message.data)
                self.copies[(str(event["run_id"]), int(event["seq"]))].append(event)
            self._client.acknowledge(
                request={
                    "subscription": self.path,
                    "ack_ids": [r.ack_id for r in response.received_messages],
                }
            )

    def assert_one_content_per_seq(self, run_id: str) -> int:
        """Every published copy of each seq of ``run_id`` is identical; how many copies
        were published beyond the first ones (republished by a redelivery)."""
        extra = 0
        for (run, seq), copies in self.copies.items():
            if run != run_id:
                continue
            assert all(c == copies[0] for c in copies), f"seq {seq} published as {copies}"
            extra += len(copies) - 1
        return extra

    def close(self) -> None:
        with contextlib.suppress(gexc.GoogleAPIError):
            self._client.delete_subscription(request={"subscription": self.path}, timeout=10)
        self._client.close()
