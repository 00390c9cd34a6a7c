"""The agents' tools: named, real computations over the user's stored usage.

Each tool takes a :class:`ToolContext` (the request, the user's
:class:`UsageSource`, the run's working :class:`RunState`) and its JSON
``args``, does its work, records what it found in the state and returns a
:class:`ToolResult` with a one-line summary for the ``tool_completed`` event.
Every number a tool reports is computed here from stored data. A tool signals an
expected failure with an :class:`~apex_core.errors.ApexError` (the supervisor
decides what it means for the run); :class:`~apex_core.errors.Unavailable`
means storage failed and the whole delivery is retried.

=====================  ============  ==================================================
tool                   agent         what it does
=====================  ============  ==================================================
``classify_request``   triage        rule-based intent of the message (``functions.triage``)
``inspect_usage``      triage        lists the user's stored uploads: requests, days
``load_demo_dataset``  data          generates and stores a demo dataset (demo users only)
``cost_breakdown``     data          merges the stored roll-ups and prices them
``find_savings``       optimization  ranks the priced recommendations, for a focus
``render_report``      reporting     the markdown report
=====================  ============  ==================================================

Cost engine: :mod:`apex_core.cost` (``UsageRollup``, ``analyze``,
``render_markdown``, ``demo_records``); ``result`` of a run is
``Analysis.to_json()``, the ``apex analyze --json`` object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Protocol

from apex_core.cost import (
    Analysis,
    Recommendation,
    UsageRollup,
    accumulate,
    analyze,
    demo_records,
    render_markdown,
)
from apex_core.cost.analysis.report import format_usd
from apex_core.errors import ApexError
from apex_core.protocol import RunRequest
from functions.triage import FOCUS_KINDS, Classification, classify
from functions.usage_store import UploadInfo, UsageOverview

DEMO_USER_PREFIX: Final = "demo-user-"
DEMO_DAYS: Final = 30


class UsageSource(Protocol):
    """What the tools need from storage (``functions.usage_store.UsageStore``)."""

    def overview(self) -> UsageOverview: ...

    def load_rollup(self, overview: UsageOverview | None = None) -> UsageRollup: ...

    def ensure_demo(self, make_rollup: Callable[[], UsageRollup]) -> tuple[UploadInfo, bool]: ...


@dataclass
class RunState:
    """What the run has found so far; each tool fills in its part."""

    classification: Classification | None = None
    overview: UsageOverview | None = None
    demo_created: bool | None = None
    analysis: Analysis | None = None
    savings: list[Recommendation] = field(default_factory=list)
    report: str | None = None


@dataclass
class ToolContext:
    request: RunRequest
    usage: UsageSource
    state: RunState = field(default_factory=RunState)

    @property
    def is_demo_user(self) -> bool:
        return self.request.user_id.startswith(DEMO_USER_PREFIX)


@dataclass(frozen=True, slots=True)
class ToolResult:
    summary: str


class ToolFailed(ApexError):
    """A tool could not do its work (its precondition is missing, its input is wrong)."""

    code = "tool_failed"


ToolFunction = Callable[[ToolContext, Mapping[str, Any]], ToolResult]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    agent: str
    description: str
    run: ToolFunction


def _usd(value: Decimal | float) -> str:
    return format_usd(value)


def demo_seed(user_id: str) -> str:
    """The demo dataset's seed: the user id, so a demo user always gets the same data."""
    return user_id


def _require_analysis(ctx: ToolContext) -> Analysis:
    if ctx.state.analysis is None:
        raise ToolFailed("no priced usage yet: cost_breakdown must run before this tool")
    return ctx.state.analysis


# ---------------------------------------------------------------- the tools


def classify_request(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    result = classify(str(args.get("text", ctx.request.text)))
    ctx.state.classification = result
    why = f" (matched: {', '.join(result.matched)})" if result.matched else ""
    focus = f", focus {result.focus}" if result.focus else ""
    return ToolResult(f"intent {result.intent}{focus}{why}")


def inspect_usage(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    overview = ctx.usage.overview()
    ctx.state.overview = overview
    if overview.empty:
        return ToolResult("no usage stored")
    return ToolResult(
        f"{_count(len(overview.uploads), 'upload')}, {_count(overview.requests, 'request')} "
        f"from {overview.first_day} to {overview.last_day} ({_count(overview.days, 'day')})"
    )


def load_demo_dataset(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    if not ctx.is_demo_user:
        raise ToolFailed(
            "the demo dataset is only for demo users; upload your own usage export instead"
        )
    seed = str(args["seed"])
    days = int(args.get("days", DEMO_DAYS))
    # The request's submission time fixes the dataset's dates, so a redelivery regenerates
    # the very same data.
    now = datetime.fromisoformat(ctx.request.submitted_at.replace("Z", "+00:00"))
    info, created = ctx.usage.ensure_demo(
        lambda: accumulate(demo_records(seed, now=now, days=days))
    )
    ctx.state.demo_created = created
    ctx.state.overview = ctx.usage.overview()
    verb = "generated and stored" if created else "found stored"
    return ToolResult(
        f"{verb} a demo dataset: {info.requests:,} requests from {info.first_day} to "
        f"{info.last_day}, {info.cells} roll-up cells"
    )


def _count(number: int, word: str) -> str:
    """``1 day``, ``2 days``, ``1,234 requests``."""
    return f"{number:,} {word if number == 1 else word + 's'}"


def period_days(analysis: Analysis) -> float:
    """The analysed period in days, to a tenth."""
    return round(float(analysis.period.get("days") or 0), 1)


def cost_breakdown(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    rollup = ctx.usage.load_rollup(ctx.state.overview)
    analysis = analyze(rollup)
    ctx.state.analysis = analysis
    unpriced = f", {len(analysis.unpriced)} models unpriced" if analysis.unpriced else ""
    if not analysis.by_model:
        return ToolResult(f"no priced usage{unpriced}")
    top = analysis.by_model[0]
    total = float(analysis.total_cost_usd)
    share = top["cost_usd"] / total if total else 0.0
    return ToolResult(
        f"{_usd(analysis.total_cost_usd)} over {period_days(analysis):g} days on "
        f"{len(analysis.by_model)} models{unpriced}; top: {top['model']} "
        f"{_usd(top['cost_usd'])} ({share:.1%})"
    )


def find_savings(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    analysis = _require_analysis(ctx)
    focus = args.get("focus")
    kinds = FOCUS_KINDS.get(focus) if isinstance(focus, str) else None
    recs = [r for r in analysis.recommendations if kinds is None or r.kind in kinds]
    recs.sort(key=lambda r: (-r.estimated_monthly_savings_usd, r.kind, r.title))
    ctx.state.savings = recs
    if not recs:
        return ToolResult("no change saves at least $1 a month")
    total = sum((r.estimated_monthly_savings_usd for r in recs), Decimal(0))
    return ToolResult(
        f"{len(recs)} recommendations, up to {_usd(total)}/month; largest: {recs[0].title} "
        f"({_usd(recs[0].estimated_monthly_savings_usd)}/month)"
    )


def render_report(ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    analysis = _require_analysis(ctx)
    focused = dataclasses.replace(analysis, recommendations=list(ctx.state.savings))
    report = render_markdown(focused)
    ctx.state.report = report
    return ToolResult(
        f"{len(report.splitlines())} lines of markdown, {len(focused.recommendations)} "
        "recommendations"
    )


TOOLS: Final[Mapping[str, Tool]] = MappingProxyType(
    {
        tool.name: tool
        for tool in (
            Tool("classify_request", "triage", "classify the user's message", classify_request),
            Tool("inspect_usage", "triage", "list the user's stored usage", inspect_usage),
            Tool("load_demo_dataset", "data", "store a demo dataset", load_demo_dataset),
            Tool("cost_breakdown", "data", "price the stored usage", cost_breakdown),
            Tool("find_savings", "optimization", "rank the savings", find_savings),
            Tool("render_report", "reporting", "write the markdown report", render_report),
        )
    }
)


def run_tool(name: str, ctx: ToolContext, args: Mapping[str, Any]) -> ToolResult:
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolFailed(f"unknown tool {name!r}; expected one of {sorted(TOOLS)}")
    return tool.run(ctx, args)
