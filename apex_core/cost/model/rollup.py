"""``UsageRollup``: the compact, mergeable aggregate the engine analyses (stage 1, accumulate).

Two tables of named cells (:mod:`~apex_core.cost.model.cells`). A :class:`FeatureCell` per
:class:`FeatureKey` (day, provider, model, feature, batch, service tier) holds
the usage of all requests, of the short-output requests, of the duplicate
requests, latency stats and the prompt-cache simulation. A :class:`UserCell`
per :class:`UserKey` (day, provider, model, end user, batch, service tier) holds
the usage of all requests. The full feature x end-user product is not kept:
nothing needs it, and it grows with the data instead of staying bounded. It
serializes to a deterministic JSON-safe dict and to chunks well under
Firestore's 1 MiB document limit (schema ``apex.usage_rollup.v1``: a cell is
``[*key, *counters]`` with the counters in :data:`FEATURE_COUNTERS` /
:data:`USER_COUNTERS` order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from apex_core.cost.errors import BadRollup
from apex_core.cost.model.cells import (
    FEATURE_COUNTERS,
    NO_USAGE,
    USER_COUNTERS,
    FeatureCell,
    FeatureKey,
    PeriodKey,
    Usage,
    UserCell,
    UserKey,
    UserPeriods,
)
from apex_core.cost.model.records import ImportStats, Rejection

SCHEMA: Final = "apex.usage_rollup.v1"
SHORT_OUTPUT_TOKENS: Final = 300
"""A request whose output is at most this many tokens is 'short' (cheaper-model candidate)."""
PREFIX_CACHE_TTL_SECONDS: Final = 300.0
"""A prefix block is a cache hit when last seen at most this long ago (5-minute caches)."""
MIN_CACHEABLE_TOKENS: Final = 1024
"""Providers cache prompts of at least 1024 tokens (OpenAI, Anthropic Sonnet/Opus)."""
DUPLICATE_WINDOW_SECONDS: Final = 86400.0
"""A request is a duplicate when the same fingerprint was seen at most a day before."""
MAX_TRACKED_IDS: Final = 200_000
"""Ids each repeat detector remembers; the least recently seen are forgotten first.
The detectors are working state of one accumulation, not part of the serialized
roll-up: repeats across separately accumulated uploads are not detected."""
MAX_END_USERS: Final = 2000
MAX_FEATURES: Final = 500
OTHER: Final = "(other)"
CHUNK_BYTES: Final = 512 * 1024
MIN_PERIOD_DAYS: Final = Decimal(1) / 24


@dataclass(slots=True)
class UsageRollup:
    """Mergeable aggregate of usage records; see the module docstring for its cells."""

    cells: dict[FeatureKey, FeatureCell] = field(default_factory=dict)
    """Feature cells."""
    user_cells: dict[UserKey, UserCell] = field(default_factory=dict)
    """End-user cells (a separate table keeps the roll-up small: users x features is not)."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    daily_buckets: bool = True
    """True while every record starts at midnight (daily usage exports)."""
    rows: ImportStats = field(default_factory=ImportStats)
    notes: list[str] = field(default_factory=list)
    _users: set[str] = field(default_factory=set)
    _features: set[str] = field(default_factory=set)

    @property
    def usage(self) -> Usage:
        """The usage of every request in the roll-up."""
        total = NO_USAGE
        for cell in self.cells.values():
            total += cell
        return total

    @property
    def first_day(self) -> str | None:
        """The UTC day of the first request (ISO date), ``None`` when empty."""
        return _day(self.first_seen)

    @property
    def last_day(self) -> str | None:
        """The UTC day of the last request (ISO date), ``None`` when empty."""
        return _day(self.last_seen)

    def period_days(self) -> Decimal:
        """Observed period in days: first to last request (+1 day for daily buckets), >= 1 hour."""
        if self.first_seen is None or self.last_seen is None:
            return Decimal(0)
        seconds = Decimal((self.last_seen - self.first_seen).total_seconds())
        days = seconds / 86400 + (1 if self.daily_buckets else 0)
        return max(days, MIN_PERIOD_DAYS)

    @staticmethod
    def _admit(known: set[str], value: str, limit: int) -> str:
        if len(known) >= limit:
            return OTHER
        known.add(value)
        return value

    def merge_user_periods(self, user_periods: UserPeriods) -> None:
        """Sum end-user cells of days with the same prices under the period's first day.

        ``user_periods`` (``PriceBook.price_periods``) says which days price
        alike, so every cost stays exactly what it was while the end-user table
        shrinks from one cell per day to one per price period.
        """
        periods = user_periods({_price_key(key) for key in self.user_cells})
        merged: dict[UserKey, UserCell] = {}
        for key, cell in self.user_cells.items():
            _add_cell(merged, key._replace(day=periods[_price_key(key)]), cell)
        self.user_cells = merged

    def merge(self, other: UsageRollup, *, consume: bool = False) -> UsageRollup:
        """Add ``other`` into this roll-up (in place) and return it.

        ``consume=True`` says ``other`` is not used afterwards: an empty roll-up
        then takes its tables instead of copying them cell by cell.
        """
        if consume and not self.cells and not self.user_cells:
            self.cells, self.user_cells = other.cells, other.user_cells
            other.cells, other.user_cells = {}, {}
            self._features = {key.feature for key in self.cells} - {OTHER}
            self._users = {key.end_user for key in self.user_cells} - {OTHER}
        for key, cell in other.cells.items():
            feature = key.feature
            if feature not in self._features:
                feature = self._admit(self._features, feature, MAX_FEATURES)
            _add_cell(self.cells, key._replace(feature=feature), cell)
        for user_key, user_cell in other.user_cells.items():
            user = user_key.end_user
            if user not in self._users:
                user = self._admit(self._users, user, MAX_END_USERS)
            _add_cell(self.user_cells, user_key._replace(end_user=user), user_cell)
        if other.first_seen is not None and (
            self.first_seen is None or other.first_seen < self.first_seen
        ):
            self.first_seen = other.first_seen
        if other.last_seen is not None and (
            self.last_seen is None or other.last_seen > self.last_seen
        ):
            self.last_seen = other.last_seen
        self.daily_buckets = self.daily_buckets and other.daily_buckets
        self.rows.merge(other.rows)
        for note in other.notes:
            if note not in self.notes and len(self.notes) < 50:
                self.notes.append(note)
        return self

    # ------------------------------------------------------------ serialization

    def _header(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "daily_buckets": self.daily_buckets,
            "rows": self.rows.to_json(),
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        """A deterministic JSON-safe dict (cells sorted by key)."""
        return {
            **self._header(),
            "cells": _rows(self.cells),
            "user_cells": _rows(self.user_cells),
        }

    @classmethod
    def from_json(cls, data: Any) -> UsageRollup:
        """The inverse of :meth:`to_json`; raises :class:`BadRollup` on anything else."""
        rollup = cls()
        _read_header(rollup, data)
        _read_cells(rollup, data)
        return rollup

    def to_chunks(self, max_bytes: int = CHUNK_BYTES) -> list[dict[str, Any]]:
        """Split into dicts each at most ``max_bytes`` as JSON (one Firestore document each).

        Firestore refuses arrays directly inside arrays, so in chunks each cell
        row is a compact JSON string (``to_json`` keeps them as arrays).
        """
        header = self._header()
        empty = {**header, "chunk": 0, "chunks": 0, "cells": [], "user_cells": []}
        budget = max_bytes - len(_compact(empty)) - 64
        if budget < 1024:
            raise BadRollup(f"max_bytes={max_bytes} leaves no room for cells; use at least 64 KiB")
        parts: list[dict[str, list[str]]] = [{"cells": [], "user_cells": []}]
        used = 0
        for table, rows in (("cells", _rows(self.cells)), ("user_cells", _rows(self.user_cells))):
            for row in rows:
                encoded = json.dumps(row, separators=(",", ":"))
                size = len(json.dumps(encoded)) + 2  # ", " between list items
                if used + size > budget and (parts[-1]["cells"] or parts[-1]["user_cells"]):
                    parts.append({"cells": [], "user_cells": []})
                    used = 0
                parts[-1][table].append(encoded)
                used += size
        return [
            {**header, "chunk": index, "chunks": len(parts), **tables}
            for index, tables in enumerate(parts)
        ]

    @classmethod
    def from_chunks(cls, chunks: Iterable[Any]) -> UsageRollup:
        """Reassemble :meth:`to_chunks` output (any order); all chunks must be present."""
        items = sorted(
            chunks, key=lambda chunk: chunk.get("chunk", -1) if isinstance(chunk, dict) else -1
        )
        if not items:
            raise BadRollup("no chunks given; expected the list stored by to_chunks()")
        expected = items[0].get("chunks")
        indexes = [item.get("chunk") for item in items]
        if indexes != list(range(len(items))) or expected != len(items):
            raise BadRollup(
                f"incomplete roll-up: got chunks {indexes}, expected 0..{expected}-1; "
                "store and read every chunk of an upload together"
            )
        rollup = cls()
        _read_header(rollup, items[0])
        for item in items:
            _read_cells(
                rollup, {table: _decoded(item.get(table)) for table in ("cells", "user_cells")}
            )
        return rollup


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).date().isoformat()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _compact(value: Any) -> str:
    # Measured with json.dumps' default separators: a conservative upper bound of the stored size.
    return json.dumps(value, sort_keys=True)


def _read_header(rollup: UsageRollup, data: Any) -> None:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BadRollup(f"expected a roll-up with schema {SCHEMA!r}, got {found!r}")
    try:
        first, last = data.get("first_seen"), data.get("last_seen")
        rollup.first_seen = None if first is None else datetime.fromisoformat(first)
        rollup.last_seen = None if last is None else datetime.fromisoformat(last)
        rollup.daily_buckets = bool(data.get("daily_buckets", True))
        rows = data.get("rows") or {}
        stats = rollup.rows
        stats.read, stats.imported, stats.rejected, stats.empty_buckets = (
            int(rows.get(name, 0)) for name in ("read", "imported", "rejected", "empty_buckets")
        )
        stats.reasons.update({str(k): int(v) for k, v in (rows.get("reasons") or {}).items()})
        stats.examples.extend(
            Rejection(**{k: item[k] for k in ("source", "line", "reason", "detail", "where")})
            for item in rows.get("examples") or []
        )
        rollup.notes.extend(str(note) for note in data.get("notes") or [])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadRollup(f"malformed roll-up header: {exc}") from exc


def _decoded(rows: Any) -> list[Any]:
    if not isinstance(rows, list) or not all(isinstance(row, str) for row in rows):
        raise BadRollup("malformed roll-up chunk: cell rows must be JSON strings")
    try:
        return [json.loads(row) for row in rows]
    except json.JSONDecodeError as exc:
        raise BadRollup(f"malformed roll-up chunk: a cell row is not JSON ({exc.msg})") from exc


def _rows(table: dict[FeatureKey, FeatureCell] | dict[UserKey, UserCell]) -> list[list[Any]]:
    items: list[tuple[FeatureKey | UserKey, FeatureCell | UserCell]] = sorted(table.items())
    return [[*key, *cell.counters()] for key, cell in items]


def _price_key(key: UserKey) -> PeriodKey:
    return PeriodKey(key.day, key.provider, key.model, key.batch, key.service_tier)


def _add_cell(table: dict[Any, Any], key: Any, cell: FeatureCell | UserCell) -> None:
    known = table.get(key)
    table[key] = cell if known is None else known.merged(cell)


def _read_cells(rollup: UsageRollup, data: dict[str, Any]) -> None:
    single = UsageRollup()
    for table, width in (("cells", len(FEATURE_COUNTERS)), ("user_cells", len(USER_COUNTERS))):
        rows = data.get(table)
        if not isinstance(rows, list):
            raise BadRollup(f"malformed roll-up: '{table}' must be a list of cell rows")
        for row in rows:
            if not isinstance(row, list) or len(row) != 6 + width:
                raise BadRollup(f"malformed roll-up {table} row: expected {6 + width} values")
            day, provider, model, label, batch, tier = row[:6]
            counters = row[6:]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in counters):
                raise BadRollup(f"malformed roll-up cell {row[:6]}: counters must be integers")
            if not all(isinstance(v, str) for v in (day, provider, model, label, tier)) or (
                not isinstance(batch, bool)
            ):
                raise BadRollup(f"malformed roll-up cell key {row[:6]}")
            if table == "cells":
                key = FeatureKey(day, provider, model, label, batch, tier)
                _add_cell(single.cells, key, FeatureCell.from_counters(counters))
            else:
                user_key = UserKey(day, provider, model, label, batch, tier)
                _add_cell(single.user_cells, user_key, UserCell.from_counters(counters))
    rollup.merge(single)
