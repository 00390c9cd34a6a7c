"""The agents' tools: named, real computations over the user's stored usage.

A tool is a function that returns a :class:`ToolCall`: its name and JSON ``args``
(what the ``tool_executing`` event shows) and the work, which the supervisor runs
between the two events of the pair. The work returns :class:`Found`: the typed
value the next step needs (a ``UsageOverview``, an
``Analysis`` …) and a one-line summary for ``tool_completed``. What one tool
found reaches the next one as an argument; nothing is kept on the side. Every
number a tool reports is computed here from stored data, read through the
request's :class:`ToolContext` (the request and the user's :class:`StoredUsage`).
A tool signals an expected failure with an :class:`~apex_core.errors.ApexError`
(the supervisor decides what it means for the run);
:class:`~apex_core.errors.Unavailable` means storage failed and the whole
delivery is retried.

=====================  ============  ==================================================
tool                   agent         what it does
=====================  ============  ==================================================
``inspect_usage``      triage        lists the user's stored uploads: requests, days
``load_demo_dataset``  data          generates and stores a demo dataset (demo users only)
``cost_breakdown``     data          merges the stored roll-ups and prices them
``find_savings``       optimization  ranks the priced recommendations
``render_report``      reporting     the markdown report
=====================  ============  ==================================================

The tools of a narrow question are in :mod:`functions.question_tools`.

Cost engine: :mod:`apex_core.cost` (``UsageRollup``, ``analyze``,
``render_markdown``, ``demo_records``); ``result`` of a run is
``Analysis.to_json()``, the ``apex analyze --json`` object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Generic, Protocol, TypeVar

from apex_core import names
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
from apex_core.query.model import Query
from functions.usage_store import UploadInfo, UsageOverview

DEMO_DAYS: Final = 30

T = TypeVar("T")


class StoredUsage(Protocol):
    """What the tools need from storage (``functions.usage_store.UsageStore``)."""

    def overview(self) -> UsageOverview: ...

    def load_rollup(self, overview: UsageOverview | None = None) -> UsageRollup: ...

    def ensure_demo(self, make_rollup: Callable[[], UsageRollup]) -> tuple[UploadInfo, bool]: ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What every tool of a run may use: the request and the user's stored usage."""

    request: RunRequest
    usage: StoredUsage
    previous_query: Query | None = None
    """The thread's last answered query (``threads/{id}.last_query``), for follow-ups."""

    @property
    def is_demo_user(self) -> bool:
        return names.is_demo_user_id(self.request.user_id)


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """What a tool found: the value the next step needs, and a one-line summary."""

    value: T
    summary: str


@dataclass(frozen=True, slots=True)
class ToolCall(Generic[T]):
    """One call of a tool: its name, its JSON ``args`` as the events show them, the work."""

    name: str
    args: Mapping[str, Any]
    run: Callable[[], Found[T]]


class ToolFailed(ApexError):
    """A tool could not do its work (its input is wrong)."""

    code = "tool_failed"


def _usd(value: Decimal | float) -> str:
    return format_usd(value)


def _count(number: int, word: str) -> str:
    """``1 day``, ``2 days``, ``1,234 requests``."""
    return f"{number:,} {word if number == 1 else word + 's'}"


def demo_seed(user_id: str) -> str:
    """The demo dataset's seed: the user id, so a demo user always gets the same data."""
    return user_id


def period_days(analysis: Analysis) -> float:
    """The analysed period in days, to a tenth."""
    return round(float(analysis.period.get("days") or 0), 1)


# ---------------------------------------------------------------- the tools


def inspect_usage(ctx: ToolContext) -> ToolCall[UsageOverview]:
    def run() -> Found[UsageOverview]:
        overview = ctx.usage.overview()
        if overview.empty:
            return Found(overview, "no usage stored")
        return Found(
            overview,
            f"{_count(len(overview.uploads), 'upload')}, {_count(overview.requests, 'request')} "
            f"from {overview.first_day} to {overview.last_day} ({_count(overview.days, 'day')})",
        )

    return ToolCall("inspect_usage", {}, run)


def load_demo_dataset(ctx: ToolContext, *, seed: str, days: int) -> ToolCall[UsageOverview]:
    """Store the demo dataset (once); finds the user's usage overview with it."""

    def run() -> Found[UsageOverview]:
        if not ctx.is_demo_user:
            raise ToolFailed(
                "the demo dataset is only for demo users; upload your own usage export instead"
            )
        # The request's submission time fixes the dataset's dates, so a redelivery
        # regenerates the very same data.
        now = datetime.fromisoformat(ctx.request.submitted_at.replace("Z", "+00:00"))
        info, created = ctx.usage.ensure_demo(
            lambda: accumulate(demo_records(seed, now=now, days=days))
        )
        verb = "generated and stored" if created else "found stored"
        return Found(
            ctx.usage.overview(),
            f"{verb} a demo dataset: {info.requests:,} requests from {info.first_day} to "
            f"{info.last_day}, {info.cells} roll-up cells",
        )

    return ToolCall("load_demo_dataset", {"seed": seed, "days": days}, run)


def cost_breakdown(ctx: ToolContext, overview: UsageOverview) -> ToolCall[Analysis]:
    def run() -> Found[Analysis]:
        rollup = ctx.usage.load_rollup(overview)
        analysis = analyze(rollup)
        unpriced = f", {len(analysis.unpriced)} models unpriced" if analysis.unpriced else ""
        if not analysis.by_model:
            return Found(analysis, f"no priced usage{unpriced}")
        top = analysis.by_model[0]
        total = float(analysis.total_cost_usd)
        share = top["cost_usd"] / total if total else 0.0
        return Found(
            analysis,
            f"{_usd(analysis.total_cost_usd)} over {period_days(analysis):g} days on "
            f"{len(analysis.by_model)} models{unpriced}; top: {top['model']} "
            f"{_usd(top['cost_usd'])} ({share:.1%})",
        )

    return ToolCall("cost_breakdown", {}, run)


def find_savings(analysis: Analysis) -> ToolCall[list[Recommendation]]:
    """The recommendations, largest saving first."""

    def run() -> Found[list[Recommendation]]:
        recs = list(analysis.recommendations)
        recs.sort(key=lambda r: (-r.estimated_monthly_savings_usd, r.kind, r.title))
        if not recs:
            return Found(recs, "no change saves at least $1 a month")
        total = sum((r.estimated_monthly_savings_usd for r in recs), Decimal(0))
        return Found(
            recs,
            f"{len(recs)} recommendations, up to {_usd(total)}/month; largest: {recs[0].title} "
            f"({_usd(recs[0].estimated_monthly_savings_usd)}/month)",
        )

    return ToolCall("find_savings", {}, run)


def render_report(analysis: Analysis, savings: list[Recommendation]) -> ToolCall[str]:
    """The markdown report of ``analysis`` with the ``savings`` found."""

    def run() -> Found[str]:
        focused = dataclasses.replace(analysis, recommendations=list(savings))
        report = render_markdown(focused)
        return Found(
            report,
            f"{len(report.splitlines())} lines of markdown, {len(focused.recommendations)} "
            "recommendations",
        )

    return ToolCall("render_report", {}, run)
