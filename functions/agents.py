"""The agents of a run: supervisor → triage → data → optimization → reporting.

The agents are deterministic code (no LLM call yet); their prose comes from a
:class:`~functions.narrator.Narrator` fed with numbers the tools computed. Each
sub-agent emits ``agent_started``, ``agent_thinking``, a ``tool_executing`` /
``tool_completed`` pair around every tool call, and ``agent_completed``. The
supervisor opens the run (``agent_started``, ``agent_thinking`` with its plan),
routes on triage's classification, and always ends the run with exactly one
terminal event:

* ``agent_completed`` with ``final: true``, ``summary``, ``response`` (markdown) and
  ``result`` — status ``completed``;
* ``agent_error`` (``code``, ``message``, ``retryable``) — status ``cancelled``
  (``RunCancelled``), ``timed_out`` (``RunTimedOut``) or ``failed`` (a tool's
  :class:`~apex_core.errors.ApexError`, a storage ``BackendError`` a retry cannot
  fix included: see :mod:`apex_core.google_errors`).

Each step hands what its tools found to the next as arguments (see
:mod:`functions.agent_tools`); there is no run state on the side.

``checkpoint`` runs before every agent and every tool call: it raises
``RunCancelled``/``RunTimedOut`` (and ``RunAlreadyFinished``). Storage failures
(:class:`~apex_core.errors.Unavailable`) and bugs propagate: the delivery fails
and Pub/Sub redelivers the request, whose replay is deterministic.

``result``: for an analysis it is the ``apex analyze --json`` document of the
user's usage; for an off-topic message it is ``{"intent": "off_topic",
"capabilities": [...]}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar

from apex_core.cost import Analysis, Recommendation
from apex_core.errors import ApexError, RunCancelled, RunTimedOut, Unavailable
from functions import agent_tools as tools
from functions.agent_tools import DEMO_DAYS, ToolCall, ToolContext, demo_seed, period_days
from functions.emitter import RunEmitter, TerminalOutcome
from functions.errors import RunAlreadyFinished
from functions.narrator import Narrator
from functions.triage import Classification, Focus
from functions.usage_store import UsageOverview

log = logging.getLogger(__name__)

Checkpoint = Callable[[], None]
T = TypeVar("T")

CAPABILITIES: Final = (
    "full cost analysis: spend by model and day, ranked savings",
    "prompt caching: how much a shared prompt prefix would save",
    "model choice: which cheaper model fits part of your traffic",
    "batch processing: what moving latency-insensitive work to batch APIs saves",
)
_INTENT_LABELS: Final = {
    "full_analysis": "a full cost analysis",
    "question": "a question about {focus}",
    "off_topic": "not about AI costs",
}
_FOCUS_LABELS: Final = {
    None: "every saving",
    "caching": "prompt caching",
    "model_choice": "cheaper model choices",
    "batch": "batch processing",
}


class _StepFailed(Exception):
    """A tool raised an ApexError; carries it to the supervisor."""

    def __init__(self, agent: str, tool: str, error: ApexError) -> None:
        super().__init__(error.message)
        self.agent = agent
        self.tool = tool
        self.error = error


class Supervisor:
    """Runs one request's pipeline through an emitter."""

    def __init__(
        self,
        emitter: RunEmitter,
        ctx: ToolContext,
        narrator: Narrator,
        checkpoint: Checkpoint,
    ) -> None:
        self.emitter = emitter
        self.ctx = ctx
        self.narrator = narrator
        self.checkpoint = checkpoint
        self._calls = 0

    # ------------------------------------------------------------ entry

    def run(self) -> None:
        """Run the pipeline to its terminal event (or find it already finished)."""
        try:
            self._pipeline()
        except RunAlreadyFinished as exc:
            log.info("run already finished elsewhere: %s", exc.message)
        except RunCancelled as exc:
            self._fail("cancelled", exc)
        except RunTimedOut as exc:
            self._fail("timed_out", exc)
        except _StepFailed as exc:
            log.warning("tool %s of agent %s failed: %s", exc.tool, exc.agent, exc.error.message)
            self._fail("failed", exc.error)

    def _fail(self, status: Any, error: ApexError) -> None:
        payload = {"code": error.code, "message": error.message, "retryable": error.retryable}
        self.emitter.finish(
            "supervisor",
            "agent_error",
            TerminalOutcome(status=status, message_text=error.message, error=payload),
            **payload,
        )

    # ------------------------------------------------------------ steps

    def _say(self, agent: str, step: Any, **facts: Any) -> None:
        self.emitter.emit(agent, "agent_thinking", text=self.narrator.narrate(step, facts))

    def _tool(self, agent: str, call: ToolCall[T]) -> T:
        """Run one tool call between its ``tool_executing`` and ``tool_completed``
        events; what it found."""
        self.checkpoint()
        self._calls += 1
        call_id = f"call-{self._calls}"
        self.emitter.emit(
            agent, "tool_executing", tool=call.name, tool_call_id=call_id, args=dict(call.args)
        )
        started = time.monotonic()

        def completed(*, ok: bool, summary: str) -> None:
            self.emitter.emit(
                agent,
                "tool_completed",
                tool=call.name,
                tool_call_id=call_id,
                ok=ok,
                summary=summary,
                duration_ms=round((time.monotonic() - started) * 1000),
            )

        try:
            found = call.run()
        except (Unavailable, RunCancelled, RunTimedOut, RunAlreadyFinished):
            raise
        except ApexError as exc:
            completed(ok=False, summary=exc.message)
            raise _StepFailed(agent, call.name, exc) from exc
        completed(ok=True, summary=found.summary)
        return found.value

    def _start(self, agent: str) -> None:
        self.checkpoint()
        self.emitter.emit(agent, "agent_started")

    def _complete(self, agent: str, step: Any, **facts: Any) -> None:
        self.emitter.emit(agent, "agent_completed", summary=self.narrator.narrate(step, facts))

    # ------------------------------------------------------------ pipeline

    def _pipeline(self) -> None:
        self._start("supervisor")
        self._say("supervisor", "supervisor.plan")
        c, overview = self._triage()
        intent_label = _INTENT_LABELS[c.intent].format(focus=_FOCUS_LABELS[c.focus])
        if c.intent == "off_topic":
            self._say("supervisor", "supervisor.route", intent_label=intent_label, agents="none")
            self._finish_off_topic()
            return
        with_data = not overview.empty or self.ctx.is_demo_user
        agents = "data, optimization, reporting" if with_data else "data"
        self._say("supervisor", "supervisor.route", intent_label=intent_label, agents=agents)
        analysis = self._data(overview)
        savings: list[Recommendation] = []
        report: str | None = None
        if with_data:
            savings = self._optimization(analysis, c.focus)
            report = self._reporting(analysis, savings)
        self._finish_analysis(analysis, savings, report)

    def _triage(self) -> tuple[Classification, UsageOverview]:
        self._start("triage")
        self._say("triage", "triage.thinking", words=len(self.ctx.request.text.split()))
        c = self._tool("triage", tools.classify_request(self.ctx.request.text))
        overview = self._tool("triage", tools.inspect_usage(self.ctx))
        self._complete(
            "triage",
            "triage.summary",
            intent_label=_INTENT_LABELS[c.intent].format(focus=_FOCUS_LABELS[c.focus]).capitalize(),
            **overview.to_json(),
        )
        return c, overview

    def _data(self, overview: UsageOverview) -> Analysis:
        self._start("data")
        if overview.empty and self.ctx.is_demo_user:
            self._say("data", "data.thinking_demo", demo_days=DEMO_DAYS)
            overview = self._tool(
                "data",
                tools.load_demo_dataset(
                    self.ctx, seed=demo_seed(self.ctx.request.user_id), days=DEMO_DAYS
                ),
            )
        elif overview.empty:
            self._say("data", "data.thinking_no_usage")
        else:
            self._say("data", "data.thinking", **overview.to_json())
        analysis = self._tool("data", tools.cost_breakdown(self.ctx, overview))
        if analysis.by_model:
            top = analysis.by_model[0]
            total = float(analysis.total_cost_usd)
            self._complete(
                "data",
                "data.summary",
                total_usd=total,
                days=period_days(analysis),
                models=len(analysis.by_model),
                top_model=top["model"],
                top_share=top["cost_usd"] / total if total else 0.0,
            )
        else:
            self._complete("data", "supervisor.summary_no_usage")
        return analysis

    def _optimization(self, analysis: Analysis, focus: Focus | None) -> list[Recommendation]:
        self._start("optimization")
        self._say(
            "optimization",
            "optimization.thinking",
            focus_label=_FOCUS_LABELS[focus],
            models=len(analysis.by_model),
            total_usd=analysis.total_cost_usd,
        )
        savings = self._tool("optimization", tools.find_savings(analysis, focus))
        if savings:
            top = savings[0]
            self._complete(
                "optimization",
                "optimization.summary",
                count=len(savings),
                savings_usd=sum((r.estimated_monthly_savings_usd for r in savings), Decimal(0)),
                top_title=top.title,
                top_savings_usd=top.estimated_monthly_savings_usd,
            )
        else:
            self._complete("optimization", "optimization.summary_none")
        return savings

    def _reporting(self, analysis: Analysis, savings: list[Recommendation]) -> str:
        self._start("reporting")
        self._say(
            "reporting",
            "reporting.thinking",
            models=len(analysis.by_model),
            recommendations=len(savings),
        )
        report = self._tool("reporting", tools.render_report(analysis, savings))
        self._complete("reporting", "reporting.summary", lines=len(report.splitlines()))
        return report

    # ------------------------------------------------------------ the end

    def _finish_off_topic(self) -> None:
        response = self.narrator.narrate("supervisor.off_topic_reply", {})
        summary = self.narrator.narrate("supervisor.off_topic_summary", {})
        result = {"intent": "off_topic", "capabilities": list(CAPABILITIES)}
        self.emitter.finish(
            "supervisor",
            "agent_completed",
            TerminalOutcome(status="completed", message_text=response, result=result),
            summary=summary,
            final=True,
            response=response,
            result=result,
        )

    def _finish_analysis(
        self, analysis: Analysis, savings: list[Recommendation], report: str | None
    ) -> None:
        if report is not None:
            response = report
            summary = self.narrator.narrate(
                "supervisor.summary",
                {
                    "total_usd": analysis.total_cost_usd,
                    "days": period_days(analysis),
                    "models": len(analysis.by_model),
                    "recommendations": len(savings),
                    "savings_usd": sum(
                        (r.estimated_monthly_savings_usd for r in savings), Decimal(0)
                    ),
                },
            )
        else:
            summary = self.narrator.narrate("supervisor.summary_no_usage", {})
            response = summary
        result = analysis.to_json()
        self.emitter.finish(
            "supervisor",
            "agent_completed",
            TerminalOutcome(status="completed", message_text=response, result=result),
            summary=summary,
            final=True,
            response=response,
            result=result,
        )
