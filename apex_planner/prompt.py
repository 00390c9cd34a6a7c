"""What the planner sends: the instructions, the user's names, and the thread's previous query."""

from __future__ import annotations

import json
from typing import Any, Final

from apex_core.query.codec import query_to_json
from apex_core.query.model import Query
from apex_core.query.tool_schema import QUERY_TOOL, TOOL_NAME
from apex_core.query.vocabulary import NAME_DIMENSIONS, Vocabulary

MAX_NAMES: Final = 50
"""Names per dimension put in the prompt (most spend first); the validator knows them all."""

INSTRUCTIONS: Final = (
    "You turn a question about a team's LLM usage and spend into one call of the "
    f"{TOOL_NAME} tool. Use only the names listed (they are the user's own); write periods "
    "as dates or a relative name counted back from the data's last day; a follow-up refines "
    "the previous query given, so repeat what it keeps. Never answer with numbers: the engine "
    "computes every figure."
)


def request_body(
    text: str, vocabulary: Vocabulary, *, model: str, previous: Query | None
) -> dict[str, Any]:
    """The ``/chat/completions`` body: forced call of the query tool, deterministic sampling."""
    context: dict[str, Any] = {
        dimension: list(vocabulary.names(dimension)[:MAX_NAMES]) for dimension in NAME_DIMENSIONS
    }
    context["first_day"] = vocabulary.first_day.isoformat() if vocabulary.first_day else None
    context["last_day"] = vocabulary.last_day.isoformat() if vocabulary.last_day else None
    if previous is not None:
        context["previous_query"] = query_to_json(previous)
    return {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {
                "role": "system",
                "content": "The user's data: " + json.dumps(context, sort_keys=True),
            },
            {"role": "user", "content": text},
        ],
        "tools": [QUERY_TOOL],
        "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
    }
