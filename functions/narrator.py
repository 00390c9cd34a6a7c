"""The seam where the agents' prose is written: :class:`Narrator`.

The agents compute every number with code and hand them to a narrator as
``facts``; the narrator only turns facts into sentences. :class:`TemplateNarrator`
is the deterministic implementation used today (no LLM call in the product
yet). An LLM-backed narrator can implement the same protocol later, and tests
can pass a fake one.

Determinism matters: after a redelivery the pipeline regenerates its events and
the stored ones win, so a non-deterministic narrator is allowed but only the
first delivery's text is ever shown.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from apex_core.cost.analysis.report import format_usd

Step = Literal[
    "supervisor.plan",
    "supervisor.route",
    "supervisor.summary",
    "supervisor.summary_no_usage",
    "supervisor.off_topic_summary",
    "supervisor.not_understood_summary",
    "triage.thinking",
    "triage.thinking_demo",
    "triage.summary",
    "data.thinking",
    "data.thinking_no_usage",
    "data.summary",
    "data.query_summary",
    "optimization.thinking",
    "optimization.summary",
    "optimization.summary_none",
    "optimization.what_if_summary",
    "reporting.thinking",
    "reporting.summary",
    "reporting.answer_thinking",
    "reporting.answer_summary",
]


class Narrator(Protocol):
    """Turns computed facts into text for one step of a run."""

    def narrate(self, step: Step, facts: Mapping[str, Any]) -> str: ...


TEMPLATES: Final[Mapping[Step, str]] = {
    "supervisor.plan": (
        "I'll have triage read your request and check which usage you have stored, then "
        "decide who works on it: data prices the usage, optimization looks for savings and "
        "reporting writes the report."
    ),
    "supervisor.route": "Triage says: {intent_label}. Next: {agents}.",
    "supervisor.summary": (
        "Analysed {total_usd:usd} of AI spend over {days:n day} on {models:n model}; "
        "{recommendations:n change} save up to {savings_usd:usd} a month."
    ),
    "supervisor.summary_no_usage": (
        "No usage is stored for you yet, so there is nothing to price; upload a usage export "
        "and ask again."
    ),
    "supervisor.off_topic_summary": "Answered directly: the message is not about AI costs.",
    "supervisor.not_understood_summary": (
        "Answered directly: said what was understood and which questions I can answer."
    ),
    "triage.thinking": (
        "Checking which usage you have stored, then reading your message ({words} words) as a "
        "question over your own models, features and end users."
    ),
    "triage.thinking_demo": (
        "You have no usage stored yet, so I'm generating a {demo_days}-day demo dataset for you "
        "and storing it; your question is read over its names."
    ),
    "triage.summary": (
        "{intent_label}; stored usage: {uploads:n upload}, {requests:n request} over {days:n day}."
    ),
    "data.thinking": (
        "Loading {requests:n request} over {days:n day} from {uploads:n upload} and pricing each "
        "model and day with dated list prices."
    ),
    "data.thinking_no_usage": (
        "You have no usage stored yet; loading what there is so the report says so."
    ),
    "data.summary": (
        "{total_usd:usd} over {days:n day} on {models:n priced model}; the most expensive is "
        "{top_model} at {top_share:.1%} of spend."
    ),
    "optimization.thinking": (
        "Looking for every saving across {models:n model} and {total_usd:usd} of spend; every "
        "saving is priced on your own tokens."
    ),
    "optimization.summary": (
        "{count:n change} save{count:s} up to {savings_usd:usd} a month; the largest is "
        "'{top_title}' at {top_savings_usd:usd} a month."
    ),
    "optimization.summary_none": "No change saves at least $1 a month on this usage.",
    "reporting.thinking": (
        "Writing the report: spend by model for {models:n model} and "
        "{recommendations:n recommendation} with their assumptions and evidence."
    ),
    "reporting.summary": "Report ready: {lines} lines of markdown.",
    "data.query_summary": "{summary}.",
    "optimization.what_if_summary": "The usage in scope, {summary}.",
    "reporting.answer_thinking": (
        "Writing the answer: the figure first, then the table behind it and the assumptions."
    ),
    "reporting.answer_summary": "{sentence}",
}


class _CountingFormatter(string.Formatter):
    """``str.format`` plus two specs for counts: ``{n:n request}`` gives "1 request" or
    "1,234 requests" (floats as ``:g``), and ``{n:s}`` gives "s" when ``n`` is 1 (for a
    verb after a counted subject: "1 change saves", "2 changes save")."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith("n ") and isinstance(value, int | float | Decimal):
            word = format_spec[2:]
            number = f"{value:,}" if isinstance(value, int) else f"{value:g}"
            return f"{number} {word if value == 1 else word + 's'}"
        if format_spec == "usd" and isinstance(value, int | float | Decimal):
            return format_usd(value)
        if format_spec == "s" and isinstance(value, int | float | Decimal):
            return "s" if value == 1 else ""
        formatted: str = super().format_field(value, format_spec)
        return formatted


_FORMATTER: Final = _CountingFormatter()


class TemplateNarrator:
    """Deterministic narrator: one format string per step, filled with the facts."""

    def __init__(self, templates: Mapping[Step, str] = TEMPLATES) -> None:
        self._templates = templates

    def narrate(self, step: Step, facts: Mapping[str, Any]) -> str:
        try:
            return _FORMATTER.vformat(self._templates[step], (), facts)
        except KeyError as exc:
            raise LookupError(
                f"narration step {step!r} needs fact {exc.args[0]!r}; got {sorted(facts)}"
            ) from exc
