"""The JSON form of a :class:`Query`: stored with the thread, shown in triage's event.

``{"schema": "apex.query.v1", "kind": ..., "measures": [...], "breakdown": ...,
"filters": [{"dimension", "values"}], "period": {"start", "end", "label",
"relative_to"}, "ranking": {"direction", "n"} | null, "comparison": period |
null, "what_if": {"lever", "target_model"} | null}``; dates are ISO
``YYYY-MM-DD``, ``null`` start/end is the whole data. ``query_from_json``
accepts exactly what ``query_to_json`` writes (unknown keys and other schema
versions are refused) and raises :class:`InvalidQuery` saying what was wrong.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, cast

from apex_core.query.errors import InvalidQuery
from apex_core.query.json_fields import (
    json_date,
    json_int,
    json_list,
    json_object,
    json_optional_text,
    json_text,
)
from apex_core.query.model import Filter, Query, Ranking, WhatIf
from apex_core.query.periods import Period

SCHEMA: Final = "apex.query.v1"
_QUERY_KEYS: Final = frozenset(
    {
        "schema",
        "kind",
        "measures",
        "breakdown",
        "filters",
        "period",
        "ranking",
        "comparison",
        "what_if",
    }
)


def query_to_json(query: Query) -> dict[str, Any]:
    """JSON-safe dict of ``query`` (deterministic: same query, same dict)."""
    return {
        "schema": SCHEMA,
        "kind": query.kind,
        "measures": list(query.measures),
        "breakdown": query.breakdown,
        "filters": [{"dimension": f.dimension, "values": list(f.values)} for f in query.filters],
        "period": period_to_json(query.period),
        "ranking": None
        if query.ranking is None
        else {"direction": query.ranking.direction, "n": query.ranking.n},
        "comparison": None if query.comparison is None else period_to_json(query.comparison),
        "what_if": None
        if query.what_if is None
        else {"lever": query.what_if.lever, "target_model": query.what_if.target_model},
    }


def period_to_json(period: Period) -> dict[str, Any]:
    """JSON-safe dict of ``period``."""
    return {
        "start": _iso(period.start),
        "end": _iso(period.end),
        "label": period.label,
        "relative_to": _iso(period.relative_to),
    }


def query_from_json(data: object) -> Query:
    """The query ``data`` describes; :class:`InvalidQuery` if it is not one."""
    raw = json_object(data, "query", _QUERY_KEYS)
    if raw.get("schema") != SCHEMA:
        raise InvalidQuery(
            f"query.schema: expected {SCHEMA!r}, got {raw.get('schema')!r}; "
            "a query stored by another version cannot be followed up, ask the question again"
        )
    try:
        return Query(
            kind=cast(Any, json_text(raw.get("kind"), "query.kind")),
            measures=tuple(
                cast(Any, json_text(m, "query.measures[]"))
                for m in json_list(raw.get("measures"), "query.measures")
            ),
            breakdown=cast(Any, json_optional_text(raw.get("breakdown"), "query.breakdown")),
            filters=tuple(_filter(item) for item in json_list(raw.get("filters"), "query.filters")),
            period=period_from_json(raw.get("period"), "query.period"),
            ranking=None if raw.get("ranking") is None else _ranking(raw["ranking"]),
            comparison=None
            if raw.get("comparison") is None
            else period_from_json(raw["comparison"], "query.comparison"),
            what_if=None if raw.get("what_if") is None else _what_if(raw["what_if"]),
        )
    except ValueError as error:
        raise InvalidQuery(f"query: {error}") from error


def period_from_json(data: object, where: str = "period") -> Period:
    """The period ``data`` describes; :class:`InvalidQuery` if it is not one."""
    raw = json_object(data, where, frozenset({"start", "end", "label", "relative_to"}))
    try:
        return Period(
            start=json_date(raw.get("start"), f"{where}.start"),
            end=json_date(raw.get("end"), f"{where}.end"),
            label=json_text(raw.get("label"), f"{where}.label"),
            relative_to=json_date(raw.get("relative_to"), f"{where}.relative_to"),
        )
    except ValueError as error:
        raise InvalidQuery(f"{where}: {error}") from error


def _filter(data: object) -> Filter:
    raw = json_object(data, "query.filters[]", frozenset({"dimension", "values"}))
    values = tuple(
        json_text(v, "query.filters[].values[]")
        for v in json_list(raw.get("values"), "query.filters[].values")
    )
    return Filter(cast(Any, json_text(raw.get("dimension"), "query.filters[].dimension")), values)


def _ranking(data: object) -> Ranking:
    raw = json_object(data, "query.ranking", frozenset({"direction", "n"}))
    n = json_int(raw.get("n"), "query.ranking.n")
    return Ranking(cast(Any, json_text(raw.get("direction"), "query.ranking.direction")), n)


def _what_if(data: object) -> WhatIf:
    raw = json_object(data, "query.what_if", frozenset({"lever", "target_model"}))
    return WhatIf(
        cast(Any, json_text(raw.get("lever"), "query.what_if.lever")),
        json_optional_text(raw.get("target_model"), "query.what_if.target_model"),
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
