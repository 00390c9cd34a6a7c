"""Decoding apex-events messages (edge_ws.bus.decode_event)."""

from __future__ import annotations

import json

import pytest

from edge_ws.bus import InvalidEvent, decode_event

EVENT = {
    "type": "tool_completed",
    "run_id": "r-1",
    "thread_id": "t-1",
    "seq": 4,
    "ts": "2026-11-27T04:00:00.000Z",
    "agent": "data",
    "tool": "load_usage",
    "tool_call_id": "call-1",
    "ok": True,
    "summary": "loaded 10 rows",
    "duration_ms": 12,
}


def test_an_event_is_passed_on_exactly_as_published() -> None:
    user_id, frame = decode_event(json.dumps(EVENT).encode(), {"user_id": "alice", "run_id": "r-1"})
    assert user_id == "alice"
    assert frame == EVENT


@pytest.mark.parametrize(
    ("data", "attributes"),
    [
        (json.dumps(EVENT).encode(), {}),
        (json.dumps(EVENT).encode(), {"user_id": ""}),
        (b"not json", {"user_id": "alice"}),
        (json.dumps({**EVENT, "seq": 0}).encode(), {"user_id": "alice"}),
        (json.dumps({**EVENT, "type": "gossip"}).encode(), {"user_id": "alice"}),
    ],
)
def test_undeliverable_messages_are_refused(data: bytes, attributes: dict[str, str]) -> None:
    with pytest.raises(InvalidEvent):
        decode_event(data, attributes)
