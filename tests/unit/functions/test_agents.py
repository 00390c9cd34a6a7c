"""The supervisor's pipeline over in-memory seams: event structure, routing, endings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from apex_core.cost import UsageRecord, UsageRollup, accumulate, demo_records
from apex_core.errors import ApexError, RunCancelled, RunTimedOut, Unavailable
from apex_core.google_errors import translated
from apex_core.protocol import RunRequest, is_terminal_event
from apex_core.query.codec import query_from_json
from functions.agent_tools import ToolContext
from functions.agents import Supervisor
from functions.emitter import Event, MemorySink, RunEmitter
from functions.narrator import Step, TemplateNarrator
from tests.run_checks import assert_complete_analysis
from tests.unit.functions.fakes import MemoryUsage, run_request
from tests.unit.test_google_errors import google


def _run(
    request: RunRequest,
    usage: MemoryUsage,
    *,
    sink: MemorySink | None = None,
    checkpoint: Any = None,
    narrator: Any = None,
) -> MemorySink:
    sink = sink or MemorySink()
    emitter = RunEmitter(sink, run_id=request.run_id, thread_id=request.thread_id)
    Supervisor(
        emitter,
        ToolContext(request=request, usage=usage),
        narrator or TemplateNarrator(),
        checkpoint or (lambda: None),
    ).run()
    return sink


def sink_outcome_query(events: list[Event]) -> dict[str, Any]:
    query = events[-1]["result"]["query"]
    return {"kind": query["kind"]}


def _terminal(events: list[Event]) -> list[Event]:
    return [e for e in events if is_terminal_event(e)]


def test_a_demo_user_gets_a_full_analysis_of_a_generated_dataset() -> None:
    usage = MemoryUsage()
    sink = _run(run_request(), usage)
    events = sink.published

    final = assert_complete_analysis(events)
    assert final["result"]["total_cost_usd"] > 0
    tools = [e["tool"] for e in events if e["type"] == "tool_executing"]
    assert tools == [
        "inspect_usage",
        "load_demo_dataset",
        "read_question",
        "cost_breakdown",
        "find_savings",
        "render_report",
    ]
    completed = [e for e in events if e["type"] == "tool_completed"]
    assert all(e["ok"] for e in completed)
    assert [e["tool_call_id"] for e in completed] == [f"call-{n}" for n in range(1, 7)]
    assert sink.outcome is not None
    assert sink.outcome.status == "completed"
    assert "demo" in usage.uploads


def test_the_event_counts_of_a_full_run() -> None:
    events = _run(run_request(), MemoryUsage()).published
    counts = Counter((e["agent"], e["type"]) for e in events)
    assert counts[("supervisor", "agent_thinking")] == 2
    assert counts[("data", "tool_executing")] == 1
    assert counts[("triage", "tool_executing")] == 3
    # supervisor 4 (started, plan, route, final) + triage 10 + data 5 + optimization 5 + reporting 5
    assert sink_outcome_query(events) == {"kind": "full_analysis"}
    assert len(events) == 29


def test_the_same_request_replays_to_the_same_stored_events() -> None:
    usage = MemoryUsage()
    sink = _run(run_request(), usage)
    stored = dict(sink.stored)
    sink.published.clear()
    sink.outcome = None  # pretend the first delivery crashed right before its terminal write
    del sink.stored[max(sink.stored)]

    _run(run_request(), usage, sink=sink)

    assert [e["seq"] for e in sink.published] == sorted(stored)
    assert sink.published[:-1] == [stored[s] for s in sorted(stored)[:-1]]
    assert sink.published[-1]["result"] == stored[max(stored)]["result"]


def test_a_greeting_gets_a_short_answer_and_a_final_event() -> None:
    events = _run(run_request("hello there"), MemoryUsage()).published
    assert {e["agent"] for e in events} == {"supervisor", "triage"}
    final = events[-1]
    assert final["final"] is True
    assert final["response"].startswith("That does not look like a question about your AI spend.")
    assert "You could ask:" in final["response"]
    assert final["result"]["intent"] == "off_topic"
    assert len(_terminal(events)) == 1


def test_a_user_without_usage_who_is_not_a_demo_user_is_told_to_upload() -> None:
    sink = _run(run_request(user_id="user-42"), MemoryUsage())
    final = sink.published[-1]
    assert "upload" in final["response"]
    assert final["result"]["total_cost_usd"] == 0
    assert "load_demo_dataset" not in {e.get("tool") for e in sink.published}


DEMO_ROLLUP = accumulate(demo_records("u-1", now=datetime(2025, 6, 1, tzinfo=UTC)))


def _tools(sink: MemorySink) -> list[str]:
    return [e["tool"] for e in sink.published if e["type"] == "tool_executing"]


def test_a_narrow_question_gets_the_figure_first_and_no_full_report() -> None:
    sink = _run(
        run_request("How much did we spend on gpt-4o?", user_id="u-1"),
        MemoryUsage({"u1": DEMO_ROLLUP}),
    )
    assert _tools(sink) == ["inspect_usage", "read_question", "run_query", "write_answer"]
    assert "optimization" not in {e["agent"] for e in sink.published}
    final = sink.published[-1]
    assert final["response"].startswith("You spent $")
    assert "on model gpt-4o over all your data" in final["response"]
    assert final["result"]["kind"] == "measure"
    assert final["result"]["parsed"]["understood"] is True
    completed = {e["tool"]: e for e in sink.published if e["type"] == "tool_completed"}
    assert '"model"' in completed["read_question"]["summary"]
    thinking = [
        e["text"] for e in sink.published if e["agent"] == "data" and e["type"] == "agent_thinking"
    ]
    assert thinking == ["Measuring the cost for model gpt-4o over all your data."]
    assert sink.outcome is not None
    assert sink.outcome.thread_query is not None
    assert sink.outcome.thread_query["filters"] == [{"dimension": "model", "values": ["gpt-4o"]}]


def test_a_what_if_runs_optimization_and_a_follow_up_refines_the_previous_query() -> None:
    usage = MemoryUsage({"u1": DEMO_ROLLUP})
    sink = _run(run_request("what if support-chat used gpt-4o-mini", user_id="u-1"), usage)
    assert _tools(sink) == [
        "inspect_usage",
        "read_question",
        "run_query",
        "price_what_if",
        "write_answer",
    ]
    assert sink.published[-1]["response"].startswith("Switching to gpt-4o-mini would have cost $")
    first = _run(run_request("How much did we spend on gpt-4o last week?", user_id="u-1"), usage)
    assert first.outcome is not None
    previous = query_from_json(first.outcome.thread_query)
    request = run_request("and the week before?", user_id="u-1", run_id="r-2")
    follow = MemorySink()
    emitter = RunEmitter(follow, run_id=request.run_id, thread_id=request.thread_id)
    ctx = ToolContext(request=request, usage=usage, previous_query=previous)
    Supervisor(emitter, ctx, TemplateNarrator(), lambda: None).run()
    final = follow.published[-1]
    assert "on model gpt-4o the week before" in final["response"]
    assert final["result"]["parsed"]["follow_up"] is True


def test_a_message_naming_what_the_data_lacks_says_so_with_suggestions() -> None:
    sink = _run(
        run_request("How much did we spend on team-zeta?", user_id="u-1"),
        MemoryUsage({"u1": DEMO_ROLLUP}),
    )
    final = sink.published[-1]
    assert final["result"]["intent"] == "not_understood"
    assert "I did not understand" in final["response"]
    assert "team-zeta" in final["response"]
    assert final["response"].count("\n- ") >= 2
    assert _tools(sink) == ["inspect_usage", "read_question"]


@pytest.mark.parametrize(
    ("error", "status", "code", "retryable"),
    [
        (RunCancelled("The run was cancelled at your request."), "cancelled", "cancelled", False),
        (RunTimedOut("too slow"), "timed_out", "timed_out", True),
    ],
)
def test_the_checkpoint_ends_the_run_with_one_agent_error(
    error: ApexError, status: str, code: str, retryable: bool
) -> None:
    calls = 0

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # before the second agent's first tool call
            raise error

    sink = _run(run_request(), MemoryUsage(), checkpoint=checkpoint)
    final = sink.published[-1]
    assert _terminal(sink.published) == [final]
    assert (final["type"], final["code"], final["retryable"]) == ("agent_error", code, retryable)
    assert sink.outcome is not None
    assert sink.outcome.status == status
    assert sink.outcome.error == {"code": code, "message": error.message, "retryable": retryable}


def test_a_failing_tool_is_reported_and_fails_the_run() -> None:
    rollup = accumulate(
        [
            UsageRecord(
                timestamp=datetime(2025, 5, 1, tzinfo=UTC),
                provider="openai",
                model="gpt-4o",
                input_tokens=5,
                output_tokens=1,
            )
        ]
    )

    class BrokenUsage(MemoryUsage):
        def load_rollup(self, overview: object = None) -> UsageRollup:
            raise ApexError("chunk 3 is corrupt; re-upload", code="usage_invalid")

    sink = _run(run_request(user_id="u-2"), BrokenUsage({"u": rollup}))
    failed = [e for e in sink.published if e["type"] == "tool_completed" and not e["ok"]]
    assert [(e["tool"], e["summary"]) for e in failed] == [
        ("read_question", "chunk 3 is corrupt; re-upload")
    ]
    final = sink.published[-1]
    assert (final["type"], final["code"], final["retryable"]) == (
        "agent_error",
        "usage_invalid",
        False,
    )
    assert sink.outcome is not None
    assert sink.outcome.status == "failed"


class _StorageFailing(MemoryUsage):
    """Storage whose roll-up read fails with a Google client error, translated as
    functions.usage_store translates it."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def load_rollup(self, overview: object = None) -> UsageRollup:
        with translated("reading usage chunks of user u-2"):
            raise self.error


def test_a_storage_error_a_retry_cannot_fix_ends_the_run_at_once() -> None:
    sink = _run(run_request(user_id="u-2"), _StorageFailing(google(gexc.PermissionDenied, "no")))
    final = sink.published[-1]
    assert (final["type"], final["code"], final["retryable"]) == ("agent_error", "internal", False)
    assert final["message"] == (
        "reading usage chunks of user u-2 failed (PermissionDenied); retrying will not help"
    )
    assert sink.outcome is not None
    assert sink.outcome.status == "failed"


def test_a_transient_storage_error_fails_the_delivery_for_a_redelivery() -> None:
    usage = _StorageFailing(google(gexc.ServiceUnavailable, "down"))
    with pytest.raises(Unavailable):
        _run(run_request(user_id="u-2"), usage)


def test_the_narrator_is_a_seam() -> None:
    class Shouting:
        def narrate(self, step: Step, facts: Mapping[str, Any]) -> str:
            return f"{step.upper()}!"

    events = _run(run_request(), MemoryUsage(), narrator=Shouting()).published
    thinking = [e["text"] for e in events if e["type"] == "agent_thinking"]
    assert thinking[0] == "SUPERVISOR.PLAN!"
    assert events[-1]["summary"] == "SUPERVISOR.SUMMARY!"
