"""The LLM planner's seam: a function-calling tool whose arguments describe a query, and
the validator that turns a model's tool-call arguments into the same :class:`Query`
the deterministic parser makes.

:data:`QUERY_TOOL` is an OpenAI-compatible ``tools`` entry (OpenAI, vLLM,
Ollama, LiteLLM, Gemini's OpenAI endpoint). Its arguments use the user's
words for names and periods: names are matched against the vocabulary exactly
as the parser matches them (case, spacing, snapshot suffixes), relative
periods resolve against the data's last day. :func:`query_from_tool_arguments`
raises :class:`InvalidQuery` saying which argument was wrong; the caller then
falls back to the deterministic parser.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Final, cast

from apex_core.query.errors import InvalidQuery
from apex_core.query.followups import DEFAULT_QUERY, CannotRefine, Refinement, refine
from apex_core.query.json_fields import (
    json_choice,
    json_date,
    json_int,
    json_list,
    json_object,
    json_optional_text,
    json_text,
)
from apex_core.query.model import (
    BATCH_VALUES,
    DIMENSIONS,
    FILTER_DIMENSIONS,
    KINDS,
    LEVERS,
    MAX_RANK,
    MEASURES,
    Filter,
    Query,
    Ranking,
    WhatIf,
)
from apex_core.query.name_index import match_phrase
from apex_core.query.periods import RELATIVE_NAMES, Period, absolute, relative
from apex_core.query.vocabulary import Vocabulary

TOOL_NAME: Final = "query_usage"
BEFORE_UNITS: Final = ("day", "week", "month", "period")
_DAY: Final = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
_SPAN: Final = {
    "type": "object",
    "properties": {"start": _DAY, "end": _DAY},
    "required": ["start", "end"],
    "additionalProperties": False,
}
_RELATIVE: Final = {
    "type": "object",
    "properties": {
        "relative": {"type": "string", "enum": list(RELATIVE_NAMES)},
        "n": {"type": "integer", "minimum": 1, "maximum": 366},
    },
    "required": ["relative"],
    "additionalProperties": False,
}
QUERY_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "kind": {
            "type": "string",
            "enum": list(KINDS),
            "description": "measure: figures (optionally broken down); why: what drove the change "
            "from compare_with to period; what_if: a change the user named; full_analysis: "
            "the whole report with savings ('analyze my costs').",
        },
        "measures": {
            "type": "array",
            "items": {"type": "string", "enum": list(MEASURES)},
            "minItems": 1,
        },
        "breakdown": {"type": ["string", "null"], "enum": [*DIMENSIONS, None]},
        "filters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "dimension": {"type": "string", "enum": list(FILTER_DIMENSIONS)},
                    "values": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
                "required": ["dimension", "values"],
                "additionalProperties": False,
            },
            "description": "Names as the user wrote them; batch values are 'true' or 'false'.",
        },
        "period": {
            "anyOf": [_SPAN, _RELATIVE, {"type": "null"}],
            "description": "Inclusive days, or a relative name counted back from the data's last "
            "day (n for last_days/last_weeks/last_months); null for all the data.",
        },
        "ranking": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "direction": {"type": "string", "enum": ["top", "bottom"]},
                        "n": {"type": "integer", "minimum": 1, "maximum": MAX_RANK},
                    },
                    "required": ["direction", "n"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ]
        },
        "compare_with": {
            "anyOf": [
                _SPAN,
                {
                    "type": "object",
                    "properties": {"before": {"type": "string", "enum": list(BEFORE_UNITS)}},
                    "required": ["before"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
            "description": "The other period: explicit days, or the day/week/month/same-length "
            "period just before 'period'.",
        },
        "what_if": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "lever": {"type": "string", "enum": list(LEVERS)},
                        "target_model": {"type": ["string", "null"]},
                    },
                    "required": ["lever"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ]
        },
    },
    "required": ["kind"],
    "additionalProperties": False,
}
QUERY_TOOL: Final[dict[str, Any]] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Ask one question about the user's LLM usage and spend. The engine "
        "computes every figure; never state numbers yourself.",
        "parameters": QUERY_PARAMETERS,
    },
}
_KEYS: Final = frozenset(QUERY_PARAMETERS["properties"])


def query_from_tool_arguments(
    arguments: str | dict[str, Any],
    vocabulary: Vocabulary,
    *,
    spike_day: date | None = None,
) -> Query:
    """The query a planner's ``query_usage`` call describes (``arguments`` as the JSON text
    the API returns, or parsed); :class:`InvalidQuery` saying what is wrong otherwise."""
    decoded: object = arguments
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise InvalidQuery(
                f"arguments: expected JSON, got {arguments[:80]!r} ({error})"
            ) from error
    raw = json_object(decoded, "arguments", _KEYS)
    kind = json_choice(raw.get("kind"), "arguments.kind", KINDS)
    measures = tuple(
        json_choice(m, "arguments.measures[]", MEASURES)
        for m in json_list(raw.get("measures", ["cost"]), "arguments.measures")
    )
    breakdown = raw.get("breakdown")
    if breakdown is not None:
        json_choice(breakdown, "arguments.breakdown", DIMENSIONS)
    period = _period(raw.get("period"), vocabulary, "arguments.period")
    comparison, before = _compare(raw.get("compare_with"), vocabulary)
    change = Refinement(
        kind=cast(Any, kind),
        measures=cast(Any, measures),
        breakdown=cast(Any, breakdown),
        ranking=_ranking(raw.get("ranking")),
        filters=tuple(
            _filter(item, i, vocabulary)
            for i, item in enumerate(json_list(raw.get("filters", []), "arguments.filters"))
        ),
        period=period,
        comparison=comparison,
        before=cast(Any, before),
        what_if=_what_if(raw.get("what_if"), kind),
    )
    try:
        return refine(DEFAULT_QUERY, change, last_day=vocabulary.last_day, spike_day=spike_day)
    except (CannotRefine, ValueError) as error:
        raise InvalidQuery(f"arguments: {error}") from error


def _period(data: object, vocabulary: Vocabulary, where: str) -> Period | None:
    if data is None:
        return None
    raw = json_object(data, where, frozenset({"start", "end", "relative", "n"}))
    if "relative" in raw:
        name = json_choice(raw["relative"], f"{where}.relative", RELATIVE_NAMES)
        if vocabulary.last_day is None:
            raise InvalidQuery(f"{where}: '{name}' needs usage data to count back from")
        return relative(name, vocabulary.last_day, n=json_int(raw.get("n", 1), f"{where}.n"))
    start = json_date(raw.get("start"), f"{where}.start")
    end = json_date(raw.get("end"), f"{where}.end")
    if start is None or end is None or start > end:
        raise InvalidQuery(
            f"{where}: expected start <= end, both YYYY-MM-DD, got {start} and {end}"
        )
    return absolute(start, end)


def _compare(data: object, vocabulary: Vocabulary) -> tuple[Period | None, str | None]:
    if isinstance(data, dict) and "before" in data:
        raw = json_object(data, "arguments.compare_with", frozenset({"before"}))
        return None, json_choice(raw["before"], "arguments.compare_with.before", BEFORE_UNITS)
    return _period(data, vocabulary, "arguments.compare_with"), None


def _ranking(data: object) -> Ranking | None:
    if data is None:
        return None
    raw = json_object(data, "arguments.ranking", frozenset({"direction", "n"}))
    direction = json_choice(raw.get("direction"), "arguments.ranking.direction", ("top", "bottom"))
    n = json_int(raw.get("n"), "arguments.ranking.n")
    if not 1 <= n <= MAX_RANK:
        raise InvalidQuery(f"arguments.ranking.n: expected 1..{MAX_RANK}, got {n}")
    return Ranking("top" if direction == "top" else "bottom", n)


def _filter(data: object, index: int, vocabulary: Vocabulary) -> Filter:
    where = f"arguments.filters[{index}]"
    raw = json_object(data, where, frozenset({"dimension", "values"}))
    dimension = json_choice(raw.get("dimension"), f"{where}.dimension", FILTER_DIMENSIONS)
    values: set[str] = set()
    for position, value in enumerate(json_list(raw.get("values"), f"{where}.values")):
        text = json_text(value, f"{where}.values[{position}]")
        if dimension == "batch":
            values.add(json_choice(text.lower(), f"{where}.values[{position}]", BATCH_VALUES))
            continue
        names = vocabulary.names(cast(Any, dimension))
        found = match_phrase(text, vocabulary.index(cast(Any, dimension)), fuzzy=False)
        if found is None:
            listed = ", ".join(names[:10]) or "none"
            raise InvalidQuery(
                f"{where}.values[{position}]: {text!r} is not a {dimension} in the usage (its {dimension}s: {listed})"
            )
        values.update(found[0])
    if not values:
        raise InvalidQuery(f"{where}.values: expected at least one name")
    return Filter(cast(Any, dimension), tuple(sorted(values)))


def _what_if(data: object, kind: str) -> WhatIf | None:
    if data is None:
        if kind == "what_if":
            raise InvalidQuery("arguments.what_if: a what_if query needs its lever")
        return None
    raw = json_object(data, "arguments.what_if", frozenset({"lever", "target_model"}))
    lever = json_choice(raw.get("lever"), "arguments.what_if.lever", LEVERS)
    target = json_optional_text(raw.get("target_model"), "arguments.what_if.target_model")
    try:
        return WhatIf(cast(Any, lever), target or None)
    except ValueError as error:
        raise InvalidQuery(f"arguments.what_if: {error}") from error
