"""The agents' tools on their own: each returns what the next step needs, typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apex_core.cost import accumulate, demo_records
from functions import agent_tools as tools
from functions.triage import FOCUS_KINDS
from tests.unit.functions.fakes import MemoryUsage, run_request

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_a_tool_call_shows_its_json_args_and_returns_a_typed_value() -> None:
    call = tools.classify_request("How much would prompt caching save?")
    assert (call.name, dict(call.args)) == (
        "classify_request",
        {"text": "How much would prompt caching save?"},
    )
    found = call.run()
    assert (found.value.intent, found.value.focus) == ("question", "caching")
    assert found.summary.startswith("intent question, focus caching")


def test_each_step_feeds_the_next_without_shared_state() -> None:
    ctx = tools.ToolContext(
        request=run_request(user_id="u-1"),
        usage=MemoryUsage({"u": accumulate(demo_records("seed", now=NOW))}),
    )
    overview = tools.inspect_usage(ctx).run().value
    assert overview.requests > 0
    analysis = tools.cost_breakdown(ctx, overview).run().value
    every = tools.find_savings(analysis, None).run().value
    caching = tools.find_savings(analysis, "caching").run().value
    assert caching, "the demo data has a caching saving"
    assert caching == [r for r in every if r.kind in FOCUS_KINDS["caching"]]
    assert len(caching) < len(every)
    savings = [r.estimated_monthly_savings_usd for r in every]
    assert savings == sorted(savings, reverse=True)
    report = tools.render_report(analysis, caching).run()
    assert report.value.startswith("# AI cost analysis")
    assert report.summary.endswith(f"{len(caching)} recommendations")


def test_the_demo_dataset_is_for_demo_users_only() -> None:
    ctx = tools.ToolContext(request=run_request(user_id="u-1"), usage=MemoryUsage())
    call = tools.load_demo_dataset(ctx, seed="u-1", days=tools.DEMO_DAYS)
    assert dict(call.args) == {"seed": "u-1", "days": tools.DEMO_DAYS}
    with pytest.raises(tools.ToolFailed, match="only for demo users"):
        call.run()
    demo = tools.ToolContext(request=run_request(), usage=MemoryUsage())
    first = tools.load_demo_dataset(demo, seed="s", days=3).run()
    assert first.value.requests > 0
    assert first.summary.startswith("generated and stored a demo dataset")
    again = tools.load_demo_dataset(demo, seed="s", days=3).run()
    assert again.summary.startswith("found stored a demo dataset")
    assert again.value == first.value
