"""Reading fields of untrusted JSON (a stored query, a planner's tool call) with errors that
say where, what was expected and what arrived. One home for both readers."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from apex_core.query.errors import InvalidQuery


def json_object(data: object, where: str, keys: frozenset[str]) -> dict[str, Any]:
    """``data`` as a dict with no keys but ``keys``."""
    if not isinstance(data, dict):
        raise InvalidQuery(f"{where}: expected a JSON object, got {type(data).__name__}")
    if unknown := sorted(set(data) - keys):
        raise InvalidQuery(f"{where}: unknown keys {unknown}; expected only {sorted(keys)}")
    return cast(dict[str, Any], data)


def json_list(data: object, where: str) -> list[object]:
    """``data`` as a list."""
    if not isinstance(data, list):
        raise InvalidQuery(f"{where}: expected a list, got {type(data).__name__}")
    return data


def json_text(data: object, where: str) -> str:
    """``data`` as a string."""
    if not isinstance(data, str):
        raise InvalidQuery(f"{where}: expected a string, got {data!r}")
    return data


def json_optional_text(data: object, where: str) -> str | None:
    """``data`` as a string, or ``None``."""
    return None if data is None else json_text(data, where)


def json_choice(data: object, where: str, choices: tuple[str, ...]) -> str:
    """``data`` as one of ``choices``."""
    text = json_text(data, where)
    if text not in choices:
        raise InvalidQuery(f"{where}: expected one of {list(choices)}, got {text!r}")
    return text


def json_int(data: object, where: str) -> int:
    """``data`` as an integer (not a bool)."""
    if not isinstance(data, int) or isinstance(data, bool):
        raise InvalidQuery(f"{where}: expected an integer, got {data!r}")
    return data


def json_date(data: object, where: str) -> date | None:
    """``data`` as an ISO date ``YYYY-MM-DD``, or ``None``."""
    if data is None:
        return None
    text = json_text(data, where)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as error:
        raise InvalidQuery(f"{where}: expected a date YYYY-MM-DD, got {data!r}") from error
