"""The emitter's numbering, store-before-publish, replay and terminal rules (in memory)."""

from __future__ import annotations

import pytest

from functions.emitter import MemorySink, RunEmitter, TerminalOutcome
from functions.errors import RunAlreadyFinished


def _emitter(sink: MemorySink, *, first_seq: int = 1) -> RunEmitter:
    return RunEmitter(
        sink,
        run_id="r-1",
        thread_id="t-1",
        clock=lambda: "2025-06-01T00:00:00.000Z",
        first_seq=first_seq,
    )


def _done() -> TerminalOutcome:
    return TerminalOutcome(status="completed", message_text="done", result={"ok": True})


def test_seq_counts_from_one_without_gaps_and_stores_before_publishing() -> None:
    sink = MemorySink()
    emitter = _emitter(sink)
    emitter.emit("supervisor", "agent_started")
    emitter.emit("supervisor", "agent_thinking", text="plan")
    emitter.emit("triage", "agent_started")
    emitter.finish("supervisor", "agent_completed", _done(), summary="s", final=True)

    assert [e["seq"] for e in sink.published] == [1, 2, 3, 4]
    assert sorted(sink.stored) == [1, 2, 3, 4]
    assert all(sink.stored[e["seq"]] == e for e in sink.published)
    assert sink.published[1]["text"] == "plan"
    assert sink.outcome == _done()
    assert emitter.terminal == sink.published[-1]


def test_event_fields_follow_the_protocol() -> None:
    sink = MemorySink()
    event = _emitter(sink).emit("data", "tool_executing", tool="t", tool_call_id="c", args={})
    assert event == {
        "type": "tool_executing",
        "run_id": "r-1",
        "thread_id": "t-1",
        "seq": 1,
        "ts": "2025-06-01T00:00:00.000Z",
        "agent": "data",
        "tool": "t",
        "tool_call_id": "c",
        "args": {},
    }


def test_an_unknown_agent_is_a_bug() -> None:
    with pytest.raises(ValueError, match="agent"):
        _emitter(MemorySink()).emit("nobody", "agent_started")


def test_replay_publishes_the_stored_events_not_the_regenerated_ones() -> None:
    sink = MemorySink()
    first = _emitter(sink)
    first.emit("supervisor", "agent_started")
    first.emit("supervisor", "agent_thinking", text="first delivery")
    sink.published.clear()

    second = _emitter(sink)  # a redelivery regenerates the same sequence
    second.emit("supervisor", "agent_started")
    second.emit("supervisor", "agent_thinking", text="second delivery")
    second.emit("triage", "agent_started")

    assert [e["seq"] for e in sink.published] == [1, 2, 3]
    assert sink.published[1]["text"] == "first delivery"
    assert second.replayed == 2
    assert sorted(sink.stored) == [1, 2, 3]


def test_a_stored_terminal_event_stops_the_replay() -> None:
    sink = MemorySink()
    first = _emitter(sink)
    first.emit("supervisor", "agent_started")
    first.finish("supervisor", "agent_completed", _done(), summary="s", final=True)

    second = _emitter(sink)
    second.emit("supervisor", "agent_started")
    with pytest.raises(RunAlreadyFinished):
        second.emit("supervisor", "agent_thinking", text="plan")


def test_finish_after_a_shorter_replay_republishes_the_rest_then_appends() -> None:
    sink = MemorySink()
    first = _emitter(sink)
    for _ in range(3):
        first.emit("supervisor", "agent_thinking", text="x")
    sink.published.clear()

    # A redelivery that is cancelled after one event: the terminal goes after seq 3.
    second = _emitter(sink)
    second.emit("supervisor", "agent_thinking", text="x")
    outcome = TerminalOutcome(status="cancelled", message_text="cancelled", error={"code": "c"})
    event = second.finish(
        "supervisor", "agent_error", outcome, code="cancelled", message="m", retryable=False
    )

    assert event is not None
    assert event["seq"] == 4
    assert [e["seq"] for e in sink.published] == [1, 2, 3, 4]


def test_finish_on_a_terminal_run_stores_and_publishes_nothing() -> None:
    sink = MemorySink()
    _emitter(sink).finish("supervisor", "agent_completed", _done(), summary="s", final=True)
    published = list(sink.published)

    again = _emitter(sink, first_seq=2).finish(
        "supervisor", "agent_error", _done(), code="failed", message="m", retryable=True
    )

    assert again is None
    assert sink.published == published
    assert sorted(sink.stored) == [1]


def test_a_failed_publish_fails_before_the_run_is_finished() -> None:
    sink = MemorySink(fail_flush=True)
    emitter = _emitter(sink)
    emitter.emit("supervisor", "agent_started")
    with pytest.raises(ConnectionError):
        emitter.finish("supervisor", "agent_completed", _done(), summary="s", final=True)
    assert sink.outcome is None
    assert emitter.terminal is None
