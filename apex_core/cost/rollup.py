"""``UsageRollup``: the compact, mergeable aggregate the engine analyses (stage 1, accumulate).

Two tables of integer counters. A feature cell per (day, provider, model,
feature, batch, service tier) holds the usage of all requests, of the
short-output requests, of the duplicate requests, latency stats and the
prompt-cache simulation (layout below). An end-user cell per (day, provider,
model, end user, batch, service tier) holds the usage of all requests. The
full feature x end-user product is not kept: nothing needs it, and it grows
with the data instead of staying bounded. It serializes to a deterministic JSON-safe dict and
to chunks well under Firestore's 1 MiB document limit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from apex_core.cost.errors import BadRollup
from apex_core.cost.importing import ImportResult, ImportStats
from apex_core.cost.records import Rejection, UsageRecord
from apex_core.cost.repeats import DUPLICATE_WINDOW_SECONDS, PrefixCache, RecentIds

SCHEMA: Final = "apex.usage_rollup.v1"
SHORT_OUTPUT_TOKENS: Final = 300
"""A request whose output is at most this many tokens is 'short' (cheaper-model candidate)."""
MAX_END_USERS: Final = 2000
MAX_FEATURES: Final = 500
OTHER: Final = "(other)"
CHUNK_BYTES: Final = 512 * 1024
PROGRESS_EVERY_ROWS: Final = 20_000

# Counter layout. A usage block is 7 counters; ALL, SHORT and DUP are offsets of blocks.
USAGE_FIELDS: Final = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
ALL, SHORT, DUP = 0, 7, 14
LATENCY_COUNT, LATENCY_SUM_MS, LATENCY_MAX_MS = 21, 22, 23
PREFIX_REQUESTS, PREFIX_HIT_TOKENS, PREFIX_WRITE_TOKENS = 24, 25, 26
RECORDS: Final = 27
WIDTH: Final = 28

USER_WIDTH: Final = 8
"""End-user cells: the 7 usage counters of all requests, then the record count."""

PeriodKey = tuple[str, str, str, bool, str]
"""(day, provider, model, batch, service_tier): what an end-user cell's price depends on."""
UserPeriods = Callable[[Iterable[PeriodKey]], dict[PeriodKey, str]]
"""Maps price keys to the first day of their run of days with the same prices
(``PriceBook.price_periods``)."""
CellKey = tuple[str, str, str, str, bool, str]
"""(day, provider, model, feature, batch, service_tier) of a feature cell, or
(day, provider, model, end_user, batch, service_tier) of an end-user cell."""
_DAYS: dict[int, str] = {}


@dataclass(slots=True)
class UsageRollup:
    """Mergeable aggregate of usage records; see the module docstring for its cells."""

    cells: dict[CellKey, list[int]] = field(default_factory=dict)
    """Feature cells: every counter of the layout above."""
    user_cells: dict[CellKey, list[int]] = field(default_factory=dict)
    """End-user cells (a separate table keeps the roll-up small: users x features is not)."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    daily_buckets: bool = True
    """True while every record starts at midnight (daily usage exports)."""
    rows: ImportStats = field(default_factory=ImportStats)
    notes: list[str] = field(default_factory=list)
    _users: set[str] = field(default_factory=set)
    _features: set[str] = field(default_factory=set)
    _prefixes: PrefixCache = field(default_factory=PrefixCache)
    _fingerprints: RecentIds = field(default_factory=RecentIds)

    def add(self, record: UsageRecord) -> None:  # noqa: PLR0915 - one flat hot path, kept inline
        """Add one record (the hot path of an import)."""
        ts = record.timestamp
        ordinal = ts.toordinal()
        day = _DAYS.get(ordinal)
        if day is None:
            day = _DAYS[ordinal] = ts.date().isoformat()
        provider = record.provider
        model = record.model
        batch = record.batch
        tier = record.service_tier
        feature = record.feature
        if feature not in self._features:
            feature = self._admit(self._features, feature, MAX_FEATURES)
        key = (day, provider, model, feature, batch, tier)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0] * WIDTH
        requests = record.requests
        total_in = record.input_tokens
        cached = record.cached_input_tokens
        write = record.cache_write_tokens
        write_1h = record.cache_write_1h_tokens
        output = record.output_tokens
        reasoning = record.reasoning_tokens
        cell[0] += requests
        cell[1] += total_in
        cell[2] += cached
        cell[3] += write
        cell[4] += write_1h
        cell[5] += output
        cell[6] += reasoning
        cell[RECORDS] += 1
        if requests and output <= SHORT_OUTPUT_TOKENS * requests:
            cell[7] += requests
            cell[8] += total_in
            cell[9] += cached
            cell[10] += write
            cell[11] += write_1h
            cell[12] += output
            cell[13] += reasoning
        latency = record.latency_ms
        if latency is not None:
            cell[LATENCY_COUNT] += 1
            rounded = round(latency)
            cell[LATENCY_SUM_MS] += rounded
            cell[LATENCY_MAX_MS] = max(cell[LATENCY_MAX_MS], rounded)
        user = record.end_user
        if user not in self._users:
            user = self._admit(self._users, user, MAX_END_USERS)
        user_key = (day, provider, model, user, batch, tier)
        user_cell = self.user_cells.get(user_key)
        if user_cell is None:
            user_cell = self.user_cells[user_key] = [0] * USER_WIDTH
        user_cell[0] += requests
        user_cell[1] += total_in
        user_cell[2] += cached
        user_cell[3] += write
        user_cell[4] += write_1h
        user_cell[5] += output
        user_cell[6] += reasoning
        user_cell[7] += 1
        first = self.first_seen
        if first is None or ts < first:
            self.first_seen = ts
        last = self.last_seen
        if last is None or ts > last:
            self.last_seen = ts
        if self.daily_buckets and (ts.hour or ts.minute or ts.second or ts.microsecond):
            self.daily_buckets = False
        fingerprint = record.prompt_fingerprint
        if fingerprint is not None:
            seen = self._fingerprints.touch(
                (provider, model, fingerprint), ts.timestamp(), DUPLICATE_WINDOW_SECONDS
            )
            if seen:
                cell[14] += requests
                cell[15] += total_in
                cell[16] += cached
                cell[17] += write
                cell[18] += write_1h
                cell[19] += output
                cell[20] += reasoning
                return  # served by a response cache: no prompt-cache effect
        if record.prefix_blocks:
            hit, write_tokens = self._prefixes.observe(
                provider,
                model,
                record.prefix_blocks,
                block_tokens=record.block_tokens,
                input_tokens=total_in,
                now=ts.timestamp(),
            )
            cell[PREFIX_REQUESTS] += requests
            cell[PREFIX_HIT_TOKENS] += hit
            cell[PREFIX_WRITE_TOKENS] += write_tokens

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
        periods = user_periods(
            {(day, provider, model, batch, tier)
             for day, provider, model, _, batch, tier in self.user_cells}
        )  # fmt: skip
        merged: dict[CellKey, list[int]] = {}
        for (day, provider, model, user, batch, tier), counters in self.user_cells.items():
            period = periods[(day, provider, model, batch, tier)]
            _add_counters(merged, (period, provider, model, user, batch, tier), counters)
        self.user_cells = merged

    def merge(self, other: UsageRollup, *, consume: bool = False) -> UsageRollup:
        """Add ``other`` into this roll-up (in place) and return it.

        ``consume=True`` says ``other`` is not used afterwards: an empty roll-up
        then takes its tables instead of copying them cell by cell.
        """
        if consume and not self.cells and not self.user_cells:
            self.cells, self.user_cells = other.cells, other.user_cells
            other.cells, other.user_cells = {}, {}
            self._features = {key[3] for key in self.cells} - {OTHER}
            self._users = {key[3] for key in self.user_cells} - {OTHER}
        for key, counters in other.cells.items():
            feature = key[3]
            if feature not in self._features:
                feature = self._admit(self._features, feature, MAX_FEATURES)
            _add_counters(self.cells, (*key[:3], feature, *key[4:]), counters)
        for key, counters in other.user_cells.items():
            user = key[3]
            if user not in self._users:
                user = self._admit(self._users, user, MAX_END_USERS)
            _add_counters(self.user_cells, (*key[:3], user, *key[4:]), counters)
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


def accumulate(
    records: Iterable[UsageRecord],
    rollup: UsageRollup | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
    threads: int | None = None,
    user_periods: UserPeriods | None = None,
) -> UsageRollup:
    """Stream ``records`` into ``rollup`` (a new one by default) and return it.

    Given an :class:`~apex_core.cost.importing.ImportResult`, its row counts
    (rejections included) and notes are added to ``rollup.rows`` / ``notes``;
    given plain records, each counts as one row read and imported.
    ``on_progress`` gets an import's bytes read so far, now and then.
    A native CSV import is read in blocks on ``threads`` threads (default: the
    cores this process may use) by :mod:`columnar_sums`. ``user_periods``
    (``PriceBook.price_periods``) merges the end-user cells of days with the
    same prices (:meth:`UsageRollup.merge_user_periods`).
    """
    target = UsageRollup() if rollup is None else rollup
    add = target.add
    if isinstance(records, ImportResult):
        if records.native_csv:
            # columnar_sums builds on this module, so it is imported where it is used
            from apex_core.cost.columnar_sums import accumulate_native_csv  # noqa: PLC0415

            binary, context = records.take_binary()
            try:
                part = accumulate_native_csv(
                    binary, context, records.stats, on_progress=on_progress,
                    threads=threads or len(os.sched_getaffinity(0)), user_periods=user_periods,
                )  # fmt: skip
            finally:
                records.close()
            target.merge(part, consume=True)
        else:
            for count, record in enumerate(records, start=1):
                add(record)
                if on_progress is not None and count % PROGRESS_EVERY_ROWS == 0:
                    on_progress(records.bytes_read())
            if user_periods is not None:
                target.merge_user_periods(user_periods)
        target.rows.merge(records.stats)
        for note in records.notes:
            if note not in target.notes:
                target.notes.append(note)
        return target
    count = 0
    for record in records:
        add(record)
        count += 1
    if user_periods is not None:
        target.merge_user_periods(user_periods)
    target.rows.read += count
    target.rows.imported += count
    return target


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
        stats.read, stats.imported, stats.rejected = (
            int(rows.get(name, 0)) for name in ("read", "imported", "rejected")
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


def _rows(table: dict[CellKey, list[int]]) -> list[list[Any]]:
    return [[*key, *counters] for key, counters in sorted(table.items())]


def _add_counters(table: dict[CellKey, list[int]], key: CellKey, counters: list[int]) -> None:
    cell = table.get(key)
    if cell is None:
        table[key] = list(counters)
        return
    for index, value in enumerate(counters):
        if index == LATENCY_MAX_MS and len(counters) == WIDTH:
            cell[index] = max(cell[index], value)
        else:
            cell[index] += value


def _read_cells(rollup: UsageRollup, data: dict[str, Any]) -> None:
    single = UsageRollup()
    for table, width in (("cells", WIDTH), ("user_cells", USER_WIDTH)):
        rows = data.get(table)
        if not isinstance(rows, list):
            raise BadRollup(f"malformed roll-up: '{table}' must be a list of cell rows")
        target = single.cells if table == "cells" else single.user_cells
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
            _add_counters(target, (day, provider, model, label, batch, tier), counters)
    rollup.merge(single)
