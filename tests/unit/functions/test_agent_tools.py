"""The agents' tools on their own: each returns what the next step needs, typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apex_core.cost import accumulate, demo_records
from functions import agent_tools as tools
from functions import question_tools as questions
from tests.unit.functions.fakes import MemoryUsage, run_request

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_a_tool_call_shows_its_json_args_and_returns_a_typed_value() -> None:
    ctx = tools.ToolContext(
        request=run_request("How much did we spend on gpt-4o?", user_id="u-1"),
        usage=MemoryUsage({"u": accumulate(demo_records("seed", now=NOW))}),
    )
    overview = tools.inspect_usage(ctx).run().value
    call = questions.read_question_tool(ctx, overview)
    assert (call.name, dict(call.args)) == (
        "read_question",
        {"text": "How much did we spend on gpt-4o?", "previous_query": None},
    )
    found = call.run()
    assert found.value.query is not None
    assert [(f.dimension, f.values) for f in found.value.query.filters] == [("model", ("gpt-4o",))]
    assert found.summary.startswith("understood: cost; model gpt-4o; all your data; query: {")


def test_each_step_feeds_the_next_without_shared_state() -> None:
    ctx = tools.ToolContext(
        request=run_request(user_id="u-1"),
        usage=MemoryUsage({"u": accumulate(demo_records("seed", now=NOW))}),
    )
    overview = tools.inspect_usage(ctx).run().value
    assert overview.requests > 0
    analysis = tools.cost_breakdown(ctx, overview).run().value
    every = tools.find_savings(analysis).run().value
    caching = [r for r in every if r.kind == "prompt_caching"]
    assert caching, "the demo data has a caching saving"
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
