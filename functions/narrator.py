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

from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol

Step = Literal[
    "supervisor.plan",
    "supervisor.route",
    "supervisor.summary",
    "supervisor.summary_no_usage",
    "supervisor.off_topic_summary",
    "supervisor.off_topic_reply",
    "triage.thinking",
    "triage.summary",
    "data.thinking",
    "data.thinking_demo",
    "data.thinking_no_usage",
    "data.summary",
    "optimization.thinking",
    "optimization.summary",
    "optimization.summary_none",
    "reporting.thinking",
    "reporting.summary",
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
        "Analysed ${total_usd:,.2f} of AI spend over {days:g} days on {models} models; "
        "{recommendations} changes save up to ${savings_usd:,.2f} a month."
    ),
    "supervisor.summary_no_usage": (
        "No usage is stored for you yet, so there is nothing to price; upload a usage export "
        "and ask again."
    ),
    "supervisor.off_topic_summary": "Answered directly: the message is not about AI costs.",
    "supervisor.off_topic_reply": (
        "Hi! I analyse your team's AI (LLM API) spend and show which changes save how many "
        "dollars a month.\n\n"
        "Try one of these:\n\n"
        "- **Analyze my AI costs** — spend by model and day, and ranked savings\n"
        "- **Would prompt caching save us money?**\n"
        "- **Which cheaper model could we switch to?**\n"
    ),
    "triage.thinking": (
        "Reading your message ({words} words) to tell a full cost analysis from a specific "
        "question or small talk, then checking which usage you have stored."
    ),
    "triage.summary": (
        "{intent_label}; stored usage: {uploads} uploads, {requests:,} requests over {days} days."
    ),
    "data.thinking": (
        "Loading {requests:,} requests over {days} days from {uploads} uploads and pricing each "
        "model and day with dated list prices."
    ),
    "data.thinking_demo": (
        "You have no usage stored yet, so I'm generating a {demo_days}-day demo dataset for you, "
        "storing it, then pricing each model and day with dated list prices."
    ),
    "data.thinking_no_usage": (
        "You have no usage stored yet; loading what there is so the report says so."
    ),
    "data.summary": (
        "${total_usd:,.2f} over {days:g} days on {models} priced models; the most expensive is "
        "{top_model} at {top_share:.1%} of spend."
    ),
    "optimization.thinking": (
        "Looking for {focus_label} across {models} models and ${total_usd:,.2f} of spend; every "
        "saving is priced on your own tokens."
    ),
    "optimization.summary": (
        "{count} changes save up to ${savings_usd:,.2f} a month; the largest is "
        "'{top_title}' at ${top_savings_usd:,.2f} a month."
    ),
    "optimization.summary_none": "No change saves at least $1 a month on this usage.",
    "reporting.thinking": (
        "Writing the report: spend by model for {models} models and {recommendations} "
        "recommendations with their assumptions and evidence."
    ),
    "reporting.summary": "Report ready: {lines} lines of markdown.",
}


class TemplateNarrator:
    """Deterministic narrator: one format string per step, filled with the facts."""

    def __init__(self, templates: Mapping[Step, str] = TEMPLATES) -> None:
        self._templates = templates

    def narrate(self, step: Step, facts: Mapping[str, Any]) -> str:
        try:
            return self._templates[step].format_map(facts)
        except KeyError as exc:
            raise LookupError(
                f"narration step {step!r} needs fact {exc.args[0]!r}; got {sorted(facts)}"
            ) from exc
