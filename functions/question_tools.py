"""The tools of a question (not the full analysis): read it, run it, price a what-if, answer.

=====================  ============  ==================================================
tool                   agent         what it does
=====================  ============  ==================================================
``read_question``      triage        the message as a typed query over the user's names
``run_query``          data          the query's figures, rows and chart (``why``: the change)
``price_what_if``      optimization  the usage in scope repriced under the user's change
``write_answer``       reporting     the figure first, then the table, then the assumptions
=====================  ============  ==================================================

Each is a :class:`~functions.agent_tools.ToolCall` like the analysis tools.
A question the stored usage cannot answer (features and end users together)
is not a failure of the run: ``run_query`` finds a refusal and the answer says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from apex_core.answers.compose import Answer, compose
from apex_core.answers.errors import CannotAnswer
from apex_core.answers.execute import Result, execute
from apex_core.answers.render import money
from apex_core.answers.what_if import Repricing, reprice
from apex_core.answers.why import Explanation, explain
from apex_core.query.codec import query_to_json
from apex_core.query.model import Query
from functions.agent_tools import Found, ToolCall, ToolContext
from functions.triage import Reading, read_question
from functions.usage_store import UsageOverview


@dataclass(frozen=True, slots=True)
class Findings:
    """What ``run_query`` found: the result (and the why), or why the data cannot say."""

    query: Query
    result: Result | None = None
    why: Explanation | None = None
    refusal: str | None = None


def read_question_tool(ctx: ToolContext, overview: UsageOverview) -> ToolCall[Reading]:
    previous = ctx.previous_query
    args = {
        "text": ctx.request.text,
        "previous_query": None if previous is None else query_to_json(previous),
    }

    def run() -> Found[Reading]:
        reading = read_question(
            ctx.request.text, ctx.usage.load_rollup(overview), previous=previous
        )
        return Found(reading, reading.summary())

    return ToolCall("read_question", args, run)


def run_query(reading: Reading, query: Query) -> ToolCall[Findings]:
    def run() -> Found[Findings]:
        try:
            result = execute(query, reading.rollup, prices=reading.prices)
            why = explain(query, reading.rollup, reading.prices) if query.kind == "why" else None
        except CannotAnswer as exc:
            return Found(Findings(query, refusal=exc.message), f"cannot answer: {exc.message}")
        summary = f"{money(result.total.cost)} in scope, {result.total.usage.requests:,} requests"
        if result.rows:
            summary += f", {len(result.rows)} of {result.groups} groups"
        if why is not None:
            summary += f"; baseline {money(why.baseline)}"
        return Found(Findings(query, result, why), summary)

    return ToolCall("run_query", {"query": query_to_json(query)}, run)


def price_what_if(reading: Reading, query: Query) -> ToolCall[Repricing | None]:
    def run() -> Found[Repricing | None]:
        try:
            repricing = reprice(query, reading.rollup, reading.prices)
        except CannotAnswer as exc:
            return Found(None, f"cannot price: {exc.message}")
        return Found(
            repricing,
            f"{money(repricing.current)} now, {money(repricing.changed)} under the change: "
            f"{money(repricing.saving)} less ({money(repricing.monthly_saving)} a month)",
        )

    what = query.what_if
    args = {
        "lever": what.lever if what else None,
        "target_model": what.target_model if what else None,
    }
    return ToolCall("price_what_if", args, run)


def write_answer(findings: Findings, repricing: Repricing | None) -> ToolCall[Answer]:
    def run() -> Found[Answer]:
        if findings.result is None:
            text = f"I can't answer that from your stored usage: {findings.refusal}."
            answer = Answer(
                text,
                text,
                {
                    "kind": findings.query.kind,
                    "query": query_to_json(findings.query),
                    "answer": text,
                },
            )
        else:
            answer = compose(findings.result, why=findings.why, repricing=repricing)
        return Found(answer, answer.sentence)

    return ToolCall("write_answer", {}, run)
