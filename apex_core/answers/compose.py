"""``compose``: a query's findings -> the answer sent to the user and the run's ``result``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apex_core.answers.execute import Result
from apex_core.answers.render import (
    answer_markdown,
    headline,
    table_markdown,
    what_if_sentence,
    why_sentence,
)
from apex_core.answers.what_if import Repricing
from apex_core.answers.why import Explanation


@dataclass(frozen=True, slots=True)
class Answer:
    """The direct sentence, the markdown reply, and the structured result."""

    sentence: str
    markdown: str
    result: dict[str, Any]


def compose(
    result: Result, *, why: Explanation | None = None, repricing: Repricing | None = None
) -> Answer:
    """Sentence first (the why's or what-if's when there is one), then table and assumptions."""
    query = result.query
    assumptions = result.assumptions
    payload = result.to_json()
    if why is not None:
        sentence = why_sentence(query, why)
        payload.update(why.to_json())
        if why.scale != 1:
            assumptions += (
                "the baseline is the comparison period's spend scaled to the same number of days",
            )
        assumptions += (
            "volume effect: the change in requests at the baseline's cost per request; price "
            "effect: the rest (a dearer mix of tokens or models per request)",
        )
    elif repricing is not None:
        sentence = what_if_sentence(query, repricing)
        payload.update(repricing.to_json())
        assumptions = repricing.assumptions + assumptions
    else:
        sentence = headline(result)
    table = None if why is not None or repricing is not None else table_markdown(result)
    payload["answer"] = sentence
    payload["assumptions"] = list(assumptions)
    return Answer(sentence, answer_markdown(sentence, table, assumptions), payload)
