"""``demo_records``: a realistic, deterministic month of usage for a demo user.

Built so every kind of recommendation has real evidence: a long repeated
system prompt with no caching (``support-chat``, ``code-review``), a premium
model answering with a few tokens (``ticket-classifier``), latency-insensitive
work done interactively (``nightly-report``), and duplicate questions
(``faq-bot``). Same ``seed`` and ``now`` give the same records.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apex_core.cost.model.records import PREFIX_BLOCK_TOKENS, UsageRecord

SOURCE = "demo"


@dataclass(slots=True, frozen=True)
class _Workload:
    feature: str
    provider: str
    model: str
    per_day: int
    input_range: tuple[int, int]
    output_range: tuple[int, int]
    latency_ms: tuple[int, int]
    system_blocks: int = 0
    """Leading prefix blocks shared by every request (a long system prompt)."""
    session: int = 1
    """Requests per burst: bursts repeat the prefix within the cache TTL."""
    duplicate_pool: int = 0
    """When > 0, prompts come from this many distinct questions (duplicates)."""


_WORKLOADS = (
    _Workload("support-chat", "openai", "gpt-4o", 60, (3500, 6000), (150, 600), (900, 4000),
              system_blocks=6, session=6),
    _Workload("ticket-classifier", "openai", "gpt-4o", 50, (600, 1500), (3, 40), (300, 1200)),
    _Workload("code-review", "anthropic", "claude-3-5-sonnet-20241022", 25, (4000, 9000),
              (300, 1200), (3000, 12000), system_blocks=5, session=4),
    _Workload("nightly-report", "anthropic", "claude-3-5-sonnet-20241022", 12, (8000, 20000),
              (800, 2500), (8000, 30000)),
    _Workload("faq-bot", "openai", "gpt-4o-mini", 40, (300, 900), (60, 250), (400, 1500),
              duplicate_pool=25),
    _Workload("doc-search", "google", "gemini-1.5-flash", 20, (2000, 6000), (100, 400),
              (500, 2500)),
)  # fmt: skip


def demo_records(seed: str, *, now: datetime, days: int = 30) -> Iterator[UsageRecord]:
    """Yield ``days`` days of usage ending at ``now`` (UTC), in time order, deterministically."""
    seed_bytes = hashlib.sha256(f"{seed}|{now.isoformat()}|{days}".encode()).digest()
    rng = random.Random(seed_bytes)  # noqa: S311 - reproducible demo data, not secrets
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    spike_day = rng.randrange(days)
    users = [f"user-{index:02d}" for index in range(1, 41)]
    line = 0
    for day_index in range(days):
        day_start = end - timedelta(days=days - day_index)
        weekend = day_start.weekday() >= 5
        day_records: list[UsageRecord] = []
        for load in _WORKLOADS:
            volume = load.per_day // 2 if weekend else load.per_day
            if day_index == spike_day and load.feature == "support-chat":
                volume *= 8
            day_records += _workload_day(rng, load, day_start, volume, users)
        day_records.sort(key=lambda record: (record.timestamp, record.feature))
        for record in day_records:
            line += 1
            record.line = line
            yield record


def _workload_day(
    rng: random.Random, load: _Workload, day_start: datetime, volume: int, users: list[str]
) -> list[UsageRecord]:
    records = []
    made = 0
    while made < volume:
        if load.feature == "nightly-report":
            burst_start = day_start + timedelta(hours=2, seconds=rng.randrange(3600))
        else:
            burst_start = day_start + timedelta(seconds=rng.randrange(7 * 3600, 22 * 3600))
        user = rng.choice(users)
        conversation = rng.getrandbits(40)
        for turn in range(min(load.session, volume - made)):
            moment = burst_start + timedelta(seconds=turn * rng.randrange(20, 90))
            input_tokens = rng.randrange(*load.input_range)
            fingerprint = None
            if load.duplicate_pool:
                question = rng.randrange(load.duplicate_pool)
                fingerprint = f"{load.feature}-q{question}"
                input_tokens = load.input_range[0] + question * 23
            blocks: tuple[str, ...] = ()
            if load.system_blocks:
                own = max(input_tokens // PREFIX_BLOCK_TOKENS - load.system_blocks, 0)
                blocks = tuple(f"{load.feature}-sys-{i}" for i in range(load.system_blocks)) + tuple(
                    f"{conversation}-{i}" for i in range(min(own, turn + 1))
                )  # fmt: skip
            records.append(
                UsageRecord(
                    timestamp=moment,
                    provider=load.provider,
                    model=load.model,
                    input_tokens=input_tokens,
                    output_tokens=rng.randrange(*load.output_range),
                    feature=load.feature,
                    end_user=user,
                    latency_ms=float(rng.randrange(*load.latency_ms)),
                    prompt_fingerprint=fingerprint,
                    prefix_blocks=blocks,
                    source=SOURCE,
                )
            )
            made += 1
    return records
