"""The agents of a run: supervisor → triage → data → optimization → reporting.

The agents are deterministic code (no LLM call yet); their prose comes from a
:class:`~functions.narrator.Narrator` fed with numbers the tools computed. Each
sub-agent emits ``agent_started``, ``agent_thinking``, a ``tool_executing`` /
``tool_completed`` pair around every tool call, and ``agent_completed``. The
supervisor opens the run (``agent_started``, ``agent_thinking`` with its plan),
routes on triage's reading of the message (a typed query, see
:mod:`functions.triage`), and always ends the run with exactly one terminal event:

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

Routes: a full analysis ("Analyze my AI costs", or any question while no usage
is stored) runs data (``cost_breakdown``), optimization (``find_savings``) and
reporting (``render_report``); a question runs data (``run_query``),
optimization only for a what-if (``price_what_if``) and reporting
(``write_answer``); a message not understood is answered by the supervisor
with what was understood and questions to ask instead.

``result``: for an analysis it is the ``apex analyze --json`` document of the
user's usage plus ``query``; for a question the answer's result (figures,
table, chart, assumptions, see :mod:`apex_core.answers.execute`) plus
``parsed``; for a message not understood ``{"intent": "off_topic" |
"not_understood", "capabilities", "parsed"}``. The run's query is stored with
the thread (``last_query``) for the next follow-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar

from apex_core.answers.compose import Answer
from apex_core.answers.what_if import Repricing
from apex_core.cost import Analysis, Recommendation
from apex_core.errors import ApexError, RunCancelled, RunTimedOut, Unavailable
from apex_core.query.codec import query_to_json
from apex_core.query.describe import thinking
from apex_core.query.model import Query
from apex_core.query.parser import NotUnderstood
from functions import agent_tools as tools
from functions import question_tools as questions
from functions.agent_tools import DEMO_DAYS, ToolCall, ToolContext, demo_seed, period_days
from functions.emitter import RunEmitter, TerminalOutcome
from functions.errors import RunAlreadyFinished
from functions.narrator import Narrator, Step
from functions.triage import Reading
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
        reading, overview = self._triage()
        query = reading.query
        if reading.off_topic or (query is None and not overview.empty):
            self._say("supervisor", "supervisor.route", intent_label=reading.label(), agents="none")
            self._finish_not_understood(reading)
            return
        if query is None or query.kind == "full_analysis" or overview.empty:
            self._analysis(reading, overview, query)
            return
        agents = "data, optimization, reporting" if query.kind == "what_if" else "data, reporting"
        self._say("supervisor", "supervisor.route", intent_label=reading.label(), agents=agents)
        findings = self._question_data(reading, query)
        repricing = None
        if query.kind == "what_if" and findings.result is not None:
            repricing = self._question_what_if(reading, query)
        answer = self._question_reporting(query, findings, repricing)
        self._finish_answer(reading, query, answer)

    def _analysis(self, reading: Reading, overview: UsageOverview, query: Query | None) -> None:
        with_data = not overview.empty
        agents = "data, optimization, reporting" if with_data else "data"
        label = reading.label() if query is not None else "a full cost analysis"
        self._say("supervisor", "supervisor.route", intent_label=label, agents=agents)
        analysis = self._data(overview)
        savings: list[Recommendation] = []
        report: str | None = None
        if with_data:
            savings = self._optimization(analysis)
            report = self._reporting(analysis, savings)
        self._finish_analysis(analysis, savings, report, query)

    def _triage(self) -> tuple[Reading, UsageOverview]:
        self._start("triage")
        self._say("triage", "triage.thinking", words=len(self.ctx.request.text.split()))
        overview = self._tool("triage", tools.inspect_usage(self.ctx))
        if overview.empty and self.ctx.is_demo_user:
            self._say("triage", "triage.thinking_demo", demo_days=DEMO_DAYS)
            overview = self._tool(
                "triage",
                tools.load_demo_dataset(
                    self.ctx, seed=demo_seed(self.ctx.request.user_id), days=DEMO_DAYS
                ),
            )
        reading = self._tool("triage", questions.read_question_tool(self.ctx, overview))
        self._complete(
            "triage",
            "triage.summary",
            intent_label=reading.label().capitalize(),
            **overview.to_json(),
        )
        return reading, overview

    # ------------------------------------------------------------ a question

    def _question_data(self, reading: Reading, query: Query) -> questions.Findings:
        self._start("data")
        self.emitter.emit("data", "agent_thinking", text=thinking(query) + ".")
        findings = self._tool("data", questions.run_query(reading, query))
        summary = (
            findings.refusal
            if findings.result is None
            else f"{len(findings.result.rows) or 1} row(s) computed from your usage"
        )
        self._complete("data", "data.query_summary", summary=summary)
        return findings

    def _question_what_if(self, reading: Reading, query: Query) -> Repricing | None:
        self._start("optimization")
        self.emitter.emit("optimization", "agent_thinking", text=thinking(query) + ".")
        repricing = self._tool("optimization", questions.price_what_if(reading, query))
        self._complete(
            "optimization",
            "optimization.what_if_summary",
            summary="repriced" if repricing is not None else "could not reprice",
        )
        return repricing

    def _question_reporting(
        self, query: Query, findings: questions.Findings, repricing: Repricing | None
    ) -> Answer:
        self._start("reporting")
        self._say("reporting", "reporting.answer_thinking")
        answer = self._tool("reporting", questions.write_answer(findings, repricing))
        self._complete("reporting", "reporting.answer_summary", sentence=answer.sentence)
        return answer

    def _data(self, overview: UsageOverview) -> Analysis:
        self._start("data")
        if overview.empty:
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

    def _optimization(self, analysis: Analysis) -> list[Recommendation]:
        self._start("optimization")
        self._say(
            "optimization",
            "optimization.thinking",
            models=len(analysis.by_model),
            total_usd=analysis.total_cost_usd,
        )
        savings = self._tool("optimization", tools.find_savings(analysis))
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

    def _finish_not_understood(self, reading: Reading) -> None:
        parsed = reading.parsed
        assert isinstance(parsed, NotUnderstood)
        response = parsed.reply()
        intent = "off_topic" if reading.off_topic else "not_understood"
        step: Step = (
            "supervisor.off_topic_summary"
            if reading.off_topic
            else "supervisor.not_understood_summary"
        )
        summary = self.narrator.narrate(step, {})
        result = {"intent": intent, "capabilities": list(CAPABILITIES), "parsed": parsed.to_json()}
        self.emitter.finish(
            "supervisor",
            "agent_completed",
            TerminalOutcome(status="completed", message_text=response, result=result),
            summary=summary,
            final=True,
            response=response,
            result=result,
        )

    def _finish_answer(self, reading: Reading, query: Query, answer: Answer) -> None:
        parsed = reading.parsed
        result = {**answer.result, "parsed": parsed.to_json()}
        stored = query_to_json(query)
        self.emitter.finish(
            "supervisor",
            "agent_completed",
            TerminalOutcome(
                status="completed", message_text=answer.markdown, result=result, thread_query=stored
            ),
            summary=answer.sentence,
            final=True,
            response=answer.markdown,
            result=result,
        )

    def _finish_analysis(
        self,
        analysis: Analysis,
        savings: list[Recommendation],
        report: str | None,
        query: Query | None,
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
        stored = None if query is None else query_to_json(query)
        result = {**analysis.to_json(), "query": stored}
        self.emitter.finish(
            "supervisor",
            "agent_completed",
            TerminalOutcome(
                status="completed", message_text=response, result=result, thread_query=stored
            ),
            summary=summary,
            final=True,
            response=response,
            result=result,
        )
