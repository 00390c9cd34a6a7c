"""Parsing of single field values, shared by every importer.

Each parser raises :class:`~apex_core.cost.model.records.RowRejected` with a reason
that names the field, what arrived and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from apex_core.cost.model.records import RowRejected

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f", ""})


def parse_count(value: object, name: str, *, required: bool = True) -> int:
    """A non-negative integer token or request count (``"12"``, ``12``, ``"12.0"``)."""
    if value is None or value == "":
        if required:
            raise RowRejected(f"missing {name}", f"expected a whole number in '{name}'")
        return 0
    if isinstance(value, bool):
        raise RowRejected(f"bad number in {name}", f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            try:
                as_float = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise RowRejected(
                    f"bad number in {name}", f"expected a whole number, got {str(value)[:40]!r}"
                ) from None
            if not as_float.is_integer():
                raise RowRejected(
                    f"bad number in {name}", f"expected a whole number, got {str(value)[:40]!r}"
                ) from None
            number = int(as_float)
    if number < 0:
        raise RowRejected(f"negative {name}", f"expected a count >= 0, got {number}")
    return number


def parse_optional_float(value: object, name: str) -> float | None:
    """A non-negative number or nothing (empty string / null)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowRejected(
            f"bad number in {name}", f"expected a number, got {str(value)[:40]!r}"
        ) from None
    if not math.isfinite(number):
        raise RowRejected(
            f"bad number in {name}", f"expected a finite number >= 0, got {str(value)[:40]!r}"
        )
    if number < 0:
        raise RowRejected(f"negative {name}", f"expected a number >= 0, got {value!r}")
    return number


def parse_bool(value: object, name: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, empty = false, JSON booleans, null = false)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowRejected(f"bad boolean in {name}", f"expected true or false, got {str(value)[:40]!r}")


def parse_timestamp(value: object, name: str = "timestamp") -> datetime:
    """ISO 8601 (``Z`` or offset; naive means UTC) or Unix seconds, as aware UTC."""
    if value is None or value == "":
        raise RowRejected(f"missing {name}", "expected an ISO 8601 time or Unix seconds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return unix_seconds(float(value), name)
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return unix_seconds(float(text), name)
        except (ValueError, RowRejected):
            raise RowRejected(
                f"bad timestamp in {name}",
                f"expected ISO 8601 (2025-03-01T12:00:00Z) or Unix seconds, got {text[:40]!r}",
            ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def unix_seconds(seconds: float, name: str = "timestamp") -> datetime:
    """Unix seconds as aware UTC; rejects values outside 1970-2200."""
    if not 0 <= seconds < 7_258_118_400:
        raise RowRejected(f"bad timestamp in {name}", f"Unix seconds out of range: {seconds}")
    return datetime.fromtimestamp(seconds, UTC)


def text_or_empty(value: object) -> str:
    """A label field: ``None`` becomes ``""``, everything else its stripped string."""
    if value is None:
        return ""
    return str(value).strip()


def is_empty_bucket(values: Mapping[str, object], time_fields: Iterable[str]) -> bool:
    """True for a bucket row whose only filled fields are its times (and a JSON ``object``).

    Bucketed exports (OpenAI, Anthropic) write such a row for a period with no
    usage: it is zero usage, not a malformed row. A row with no time is not one.
    """
    times = frozenset(time_fields) | {"object"}
    if not any(text_or_empty(values.get(name)) for name in times - {"object"}):
        return False
    return not any(text_or_empty(value) for name, value in values.items() if name not in times)
