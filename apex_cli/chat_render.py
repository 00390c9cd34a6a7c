"""What the terminal client shows of a run: the state of each agent, the tool calls
with their durations, and the final markdown report, as rich renderables.

:class:`RunView` is plain state built from run events (no I/O, easy to test);
the ``render_*`` functions turn it into rich objects. Every string that came
from the server goes through :func:`clean` and into a ``rich.text.Text`` (never
console markup), so a report or a thread title cannot move the cursor, change
the terminal's title or inject markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from apex_cli.chart_text import chart_lines

AGENTS: Final = ("supervisor", "triage", "data", "optimization", "reporting")
AgentState = Literal["waiting", "working", "done", "failed"]
_STATE_STYLE: Final[dict[str, str]] = {
    "waiting": "dim",
    "working": "bold cyan",
    "done": "green",
    "failed": "bold red",
}
_STATE_ICON: Final[dict[str, str]] = {"waiting": "○", "working": "◐", "done": "✓", "failed": "✗"}
# C0 controls except tab and newline, DEL, and C1 controls (ESC, CSI, OSC …).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LATEST_MAX_CHARS: Final = 160


def clean(text: object) -> str:
    """``text`` as a string without terminal control characters."""
    return _CONTROL.sub("", str(text))


def one_line(text: object, limit: int = LATEST_MAX_CHARS) -> str:
    line = " ".join(clean(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def format_duration(duration_ms: object) -> str:
    if not isinstance(duration_ms, int | float) or isinstance(duration_ms, bool):
        return "?"
    if duration_ms < 1000:
        return f"{duration_ms:.0f} ms"
    return f"{duration_ms / 1000:.2f} s"


@dataclass
class ToolCall:
    agent: str
    tool: str
    tool_call_id: str
    ok: bool | None = None  # None while it runs
    summary: str = ""
    duration_ms: float | None = None


@dataclass
class AgentView:
    name: str
    state: AgentState = "waiting"
    latest: str = ""


@dataclass
class RunView:
    """The state of one run, built by :meth:`apply` from its events in ``seq`` order."""

    run_id: str = ""
    agents: dict[str, AgentView] = field(
        default_factory=lambda: {name: AgentView(name) for name in AGENTS}
    )
    tools: list[ToolCall] = field(default_factory=list)
    last_seq: int = 0
    response: str | None = None
    chart: list[str] = field(default_factory=list)
    """The answer's chart data as unicode lines (``result.chart``), empty for none."""
    error: dict[str, Any] | None = None
    finished: bool = False

    def agent(self, name: str) -> AgentView:
        if name not in self.agents:  # an agent the client does not know yet: show it anyway
            self.agents[name] = AgentView(name)
        return self.agents[name]

    def apply(self, event: dict[str, Any]) -> ToolCall | None:
        """Take one event into the view; returns the tool call it finished, if any."""
        self.run_id = str(event.get("run_id", self.run_id))
        seq = event.get("seq")
        if isinstance(seq, int):
            self.last_seq = max(self.last_seq, seq)
        kind = event.get("type")
        agent = self.agent(clean(event.get("agent", "supervisor")))
        finished: ToolCall | None = None
        if kind == "agent_started":
            agent.state = "working"
        elif kind == "agent_thinking":
            agent.state = "working"
            agent.latest = one_line(event.get("text", ""))
        elif kind == "tool_executing":
            agent.state = "working"
            call = ToolCall(
                agent=agent.name,
                tool=one_line(event.get("tool", "tool"), 60),
                tool_call_id=str(event.get("tool_call_id", "")),
            )
            self.tools.append(call)
            agent.latest = f"running {call.tool}…"
        elif kind == "tool_completed":
            call_id = str(event.get("tool_call_id", ""))
            finished = next(
                (c for c in reversed(self.tools) if c.tool_call_id == call_id and c.ok is None),
                None,
            )
            if finished is None:
                finished = ToolCall(agent.name, one_line(event.get("tool", "tool"), 60), call_id)
                self.tools.append(finished)
            finished.ok = bool(event.get("ok", False))
            finished.summary = one_line(event.get("summary", ""))
            raw = event.get("duration_ms")
            finished.duration_ms = float(raw) if isinstance(raw, int | float) else None
            agent.latest = f"{finished.tool} {'done' if finished.ok else 'failed'}"
        elif kind == "agent_completed":
            agent.state = "done"
            if event.get("summary"):
                agent.latest = one_line(event["summary"])
            if agent.name == "supervisor" and event.get("final"):
                self.response = clean(event.get("response") or "")
                result = event.get("result")
                chart = result.get("chart") if isinstance(result, dict) else None
                self.chart = [clean(line) for line in chart_lines(chart)]
                self.finished = True
        elif kind == "agent_error":
            agent.state = "failed"
            agent.latest = one_line(f"{event.get('code', 'error')}: {event.get('message', '')}")
            if agent.name == "supervisor":
                self.error = {
                    "code": clean(event.get("code", "error")),
                    "message": clean(event.get("message", "")),
                    "retryable": bool(event.get("retryable", False)),
                }
                self.finished = True
        return finished


def render_agents(view: RunView) -> Table:
    """One line per agent: icon, name, state and its latest thinking or tool."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=1, min_width=1, no_wrap=True)
    table.add_column(width=12, min_width=12, no_wrap=True)
    table.add_column(width=7, min_width=7, no_wrap=True)
    table.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
    for agent in view.agents.values():
        style = _STATE_STYLE[agent.state]
        table.add_row(
            Text(_STATE_ICON[agent.state], style=style),
            Text(agent.name, style="bold"),
            Text(agent.state, style=style),
            Text(agent.latest, style="dim" if agent.state == "done" else ""),
        )
    return table


def render_tool_call(call: ToolCall) -> Text:
    """``  data · load_usage ✓ 1.23 s  420 rows``"""
    line = Text("  ")
    line.append(call.agent, style="bold")
    line.append(" · ")
    line.append(call.tool, style="cyan")
    if call.ok is None:
        line.append(" …", style="dim")
        return line
    line.append(" ✓" if call.ok else " ✗", style="green" if call.ok else "bold red")
    line.append(f" {format_duration(call.duration_ms)}", style="magenta")
    if call.summary:
        line.append(f"  {call.summary}", style="dim")
    return line


def render_report(markdown: str) -> Panel:
    """The supervisor's final response, rendered as markdown in a panel."""
    return Panel(
        Markdown(clean(markdown), hyperlinks=False),
        title=Text("Report", style="bold"),
        border_style="green",
        padding=(1, 2),
    )


def render_error(error: dict[str, Any]) -> Panel:
    body = Text()
    body.append(clean(error.get("code", "error")), style="bold")
    body.append(": ")
    body.append(clean(error.get("message", "")))
    if error.get("retryable"):
        body.append("\nThis may work if you try again.", style="dim")
    return Panel(body, title=Text("Run failed", style="bold red"), border_style="red")


def render_run(view: RunView) -> RenderableType:
    parts: list[RenderableType] = [render_agents(view)]
    if view.response is not None:
        parts.append(render_report(view.response))
    if view.chart:
        parts.append(Panel(Text("\n".join(view.chart)), title=Text("Chart", style="bold")))
    if view.error is not None:
        parts.append(render_error(view.error))
    return Group(*parts)


def render_threads(threads: list[dict[str, Any]]) -> RenderableType:
    if not threads:
        return Text("No threads yet: type a message to start one.", style="dim")
    table = Table(box=None, padding=(0, 2), header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("title", overflow="ellipsis")
    table.add_column("updated", no_wrap=True, style="dim")
    for thread in threads:
        table.add_row(
            Text(clean(thread.get("thread_id", ""))),
            Text(one_line(thread.get("title") or "(untitled)", 80)),
            Text(clean(thread.get("updated_at") or "")),
        )
    return table


def render_thread(thread: dict[str, Any]) -> RenderableType:
    """A thread's messages: the user's as quoted lines, the assistant's as markdown."""
    parts: list[RenderableType] = []
    title = thread.get("title")
    if title:
        parts.append(Text(one_line(title, 100), style="bold underline"))
    messages = thread.get("messages") or []
    if not messages:
        parts.append(Text("(no messages)", style="dim"))
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = clean(message.get("text", ""))
        if message.get("role") == "assistant":
            parts.append(render_report(text))
        else:
            line = Text("you> ", style="bold cyan")
            line.append(text)
            parts.append(line)
    return Group(*parts)
