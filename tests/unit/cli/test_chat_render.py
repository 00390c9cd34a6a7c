"""The terminal client's view of a run: state from events, and what rich prints of it."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from apex_cli.chat_render import (
    RunView,
    clean,
    format_duration,
    render_agents,
    render_report,
    render_run,
    render_thread,
    render_threads,
    render_tool_call,
)


def event(seq: int, type_: str, agent: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "run_id": "r-1",
        "thread_id": "t-1",
        "seq": seq,
        "ts": "2025-01-01T00:00:00.000Z",
        "agent": agent,
        **extra,
    }


def text_of(renderable: Any, width: int = 100) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def states(view: RunView) -> dict[str, str]:
    return {name: agent.state for name, agent in view.agents.items()}


def test_agents_move_from_waiting_to_working_to_done() -> None:
    view = RunView()
    assert set(states(view).values()) == {"waiting"}
    view.apply(event(1, "agent_started", "supervisor"))
    view.apply(event(2, "agent_thinking", "data", text="Loading   30 days\nof usage"))
    assert states(view)["supervisor"] == "working"
    assert states(view)["data"] == "working"
    assert view.agents["data"].latest == "Loading 30 days of usage"
    view.apply(event(3, "agent_completed", "data", summary="420 records"))
    assert states(view)["data"] == "done"
    assert view.last_seq == 3
    assert not view.finished


def test_a_tool_call_is_reported_with_its_duration_when_it_completes() -> None:
    view = RunView()
    assert (
        view.apply(event(1, "tool_executing", "data", tool="load_usage", tool_call_id="c1")) is None
    )
    assert view.agents["data"].latest == "running load_usage…"
    done = view.apply(
        event(
            2,
            "tool_completed",
            "data",
            tool="load_usage",
            tool_call_id="c1",
            ok=True,
            summary="420 rows",
            duration_ms=1234,
        )
    )
    assert done is not None
    assert done.ok is True
    assert done.duration_ms == 1234
    assert len(view.tools) == 1
    line = text_of(render_tool_call(done))
    assert "data · load_usage ✓ 1.23 s  420 rows" in line


def test_durations_read_naturally() -> None:
    assert format_duration(87) == "87 ms"
    assert format_duration(1500) == "1.50 s"
    assert format_duration(None) == "?"
    assert format_duration(True) == "?"


def test_the_final_completion_finishes_the_run_with_its_report() -> None:
    view = RunView()
    view.apply(
        event(
            9,
            "agent_completed",
            "supervisor",
            final=True,
            summary="done",
            response="# Report\n\n| model | cost |\n|---|---:|\n| gpt-4o | $12.00 |\n",
            result={},
        )
    )
    assert view.finished
    assert view.error is None
    out = text_of(render_run(view))
    assert "Report" in out
    assert "gpt-4o" in out
    assert "$12.00" in out


def test_a_supervisor_error_finishes_the_run_and_is_shown() -> None:
    view = RunView()
    view.apply(event(1, "agent_error", "data", code="unavailable", message="Firestore down"))
    assert not view.finished
    assert states(view)["data"] == "failed"
    view.apply(
        event(2, "agent_error", "supervisor", code="timed_out", message="too slow", retryable=True)
    )
    assert view.finished
    assert view.error == {"code": "timed_out", "message": "too slow", "retryable": True}
    out = text_of(render_run(view))
    assert "Run failed" in out
    assert "timed_out: too slow" in out
    assert "try again" in out


def test_long_thinking_text_is_cut_and_keeps_the_state_icons() -> None:
    view = RunView()
    view.apply(event(1, "agent_thinking", "supervisor", text="x" * 300))
    view.apply(event(2, "agent_completed", "triage", summary="ok"))
    lines = text_of(render_agents(view), width=60).splitlines()
    assert lines[0].startswith("◐ supervisor   working xxx")
    assert lines[0].rstrip().endswith("…")
    assert lines[1].startswith("✓ triage       done")
    assert all(len(line) <= 60 for line in lines)


def test_every_agent_has_a_status_line() -> None:
    view = RunView()
    view.apply(event(1, "agent_started", "triage"))
    out = text_of(render_agents(view))
    for name in ("supervisor", "triage", "data", "optimization", "reporting"):
        assert name in out
    assert "working" in out
    assert "waiting" in out


def test_terminal_control_sequences_from_the_server_are_removed() -> None:
    hostile = "ok\x1b]0;pwned\x07\x1b[2J\x9b31m done"
    assert clean(hostile) == "ok]0;pwned[2J31m done"
    view = RunView()
    view.apply(event(1, "agent_thinking", "triage", text=hostile))
    assert "\x1b" not in view.agents["triage"].latest
    console = Console(width=80, record=True, force_terminal=True)
    console.print(render_report("# Title\n\n" + hostile))
    assert "\x1b]0;" not in console.export_text(styles=False)


def test_rich_markup_in_server_text_is_printed_literally() -> None:
    view = RunView()
    view.apply(event(1, "agent_thinking", "data", text="[bold red]not markup[/]"))
    assert "[bold red]not markup[/]" in text_of(render_agents(view))
    threads = [{"thread_id": "t-1", "title": "[link=x]t[/link]", "updated_at": "2025"}]
    assert "[link=x]t[/link]" in text_of(render_threads(threads))


def test_threads_and_a_thread_render() -> None:
    assert "No threads yet" in text_of(render_threads([]))
    out = text_of(
        render_thread(
            {
                "thread_id": "t-1",
                "title": "Analyze my AI costs",
                "messages": [
                    {"role": "user", "text": "Analyze my AI costs"},
                    {"role": "assistant", "text": "**Total** $5"},
                ],
            }
        )
    )
    assert "you> Analyze my AI costs" in out
    assert "Total $5" in out
