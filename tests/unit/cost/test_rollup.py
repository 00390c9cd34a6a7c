"""Roll-ups merge, serialize deterministically and split into Firestore-sized chunks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apex_core.cost import BadRollup, UsageRecord, UsageRollup, accumulate, demo_records
from apex_core.cost.model.cells import FeatureKey, Usage, UserKey
from apex_core.cost.model.rollup import MAX_END_USERS, OTHER

NOW = datetime(2025, 4, 1, tzinfo=UTC)


def _plain_records(count: int) -> list[UsageRecord]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    return [
        UsageRecord(start + timedelta(minutes=17 * i), "openai", ("gpt-4o", "gpt-4o-mini")[i % 2],
                    1000 + i, 10 + i % 500, cached_input_tokens=i % 7, feature=f"f{i % 3}",
                    end_user=f"u{i % 5}", latency_ms=float(100 + i % 50))
        for i in range(count)
    ]  # fmt: skip


def test_merge_of_halves_equals_accumulating_everything() -> None:
    records = _plain_records(3000)
    whole = accumulate(records)
    left, right = accumulate(records[:1234]), accumulate(records[1234:])
    assert left.merge(right).to_json() == whole.to_json()
    assert whole.rows.read == whole.rows.imported == 3000


def test_json_round_trip_is_exact_and_deterministic() -> None:
    rollup = accumulate(demo_records("seed-a", now=NOW))
    data = rollup.to_json()
    again = UsageRollup.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data
    assert json.dumps(accumulate(demo_records("seed-a", now=NOW)).to_json()) == json.dumps(data)


def test_chunks_stay_under_the_limit_and_reassemble_in_any_order() -> None:
    rollup = accumulate(demo_records("seed-b", now=NOW))
    limit = 64 * 1024
    chunks = rollup.to_chunks(max_bytes=limit)
    assert len(chunks) > 1
    assert all(len(json.dumps(chunk)) <= limit for chunk in chunks)
    assert UsageRollup.from_chunks(reversed(chunks)).to_json() == rollup.to_json()
    with pytest.raises(BadRollup, match="incomplete roll-up"):
        UsageRollup.from_chunks(chunks[1:])


def test_default_chunks_fit_a_firestore_document() -> None:
    rollup = accumulate(_plain_records(20000))
    chunks = rollup.to_chunks()
    assert all(len(json.dumps(chunk)) < 1024 * 1024 for chunk in chunks)
    # Firestore refuses an array directly inside an array
    for chunk in chunks:
        for value in chunk.values():
            if isinstance(value, list):
                assert not any(isinstance(item, list) for item in value)


def test_malformed_json_is_refused() -> None:
    with pytest.raises(BadRollup, match="schema"):
        UsageRollup.from_json({"schema": "something-else"})
    data = accumulate(_plain_records(3)).to_json()
    data["cells"][0][-1] = "many"
    with pytest.raises(BadRollup, match="counters must be integers"):
        UsageRollup.from_json(data)


def test_end_users_are_bounded_and_totals_conserved() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    records = [
        UsageRecord(start, "openai", "gpt-4o", 10, 1, end_user=f"user-{i}")
        for i in range(MAX_END_USERS + 500)
    ]
    rollup = accumulate(records)
    users = {key.end_user for key in rollup.user_cells}
    assert len(users) == MAX_END_USERS + 1
    assert OTHER in users
    assert rollup.usage.input_tokens == 10 * len(records)


STORED_V1_CHUNK = {
    "schema": "apex.usage_rollup.v1", "first_seen": "2025-03-01T12:00:00+00:00",
    "last_seen": "2025-03-01T13:00:00+00:00", "daily_buckets": False,
    "rows": {"read": 2, "imported": 2, "rejected": 0, "reasons": {}, "examples": []},
    "notes": [], "chunk": 0, "chunks": 1,
    "cells": ['["2025-03-01","openai","gpt-4o","chat",false,"",2,2400,200,300,50,600,20,1,1200,'
              '200,300,50,100,20,1,1200,0,0,0,500,0,2,950,700,0,0,0,2]'],
    "user_cells": ['["2025-03-01","openai","gpt-4o","ann",false,"",1,1200,200,300,50,100,20,1]',
                   '["2025-03-01","openai","gpt-4o","bob",false,"",1,1200,0,0,0,500,0,1]'],
}  # fmt: skip
"""A chunk as the engine stored it before cells had names (two gpt-4o requests, the
second a duplicate of the first): stored roll-ups must stay readable."""


def test_a_stored_v1_chunk_reads_into_named_cells_and_is_written_back_the_same() -> None:
    rollup = UsageRollup.from_chunks([STORED_V1_CHUNK])
    key = FeatureKey("2025-03-01", "openai", "gpt-4o", "chat", False, "")
    cell = rollup.cells[key]
    assert (cell.requests, cell.input_tokens, cell.cached_input_tokens) == (2, 2400, 200)
    assert (cell.cache_write_tokens, cell.cache_write_1h_tokens) == (300, 50)
    assert (cell.output_tokens, cell.reasoning_tokens, cell.records) == (600, 20, 2)
    assert cell.short == Usage(1, 1200, 200, 300, 50, 100, 20)
    assert cell.duplicate == Usage(requests=1, input_tokens=1200, output_tokens=500)
    assert (cell.latency_count, cell.latency_sum_ms, cell.latency_max_ms) == (2, 950, 700)
    bob = rollup.user_cells[UserKey("2025-03-01", "openai", "gpt-4o", "bob", False, "")]
    assert (bob.requests, bob.output_tokens, bob.records) == (1, 500, 1)
    assert rollup.usage == Usage(2, 2400, 200, 300, 50, 600, 20)
    assert (rollup.first_day, rollup.last_day) == ("2025-03-01", "2025-03-01")
    # written back the same, plus the empty-bucket count (0) that v1 chunks did not store yet
    rows = {
        "read": 2,
        "imported": 2,
        "rejected": 0,
        "empty_buckets": 0,
        "reasons": {},
        "examples": [],
    }
    assert rollup.to_chunks() == [{**STORED_V1_CHUNK, "rows": rows}]
