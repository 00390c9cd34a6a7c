"""Bounded detectors of repeated prompt prefixes (prompt caching) and duplicate requests.

Both keep a least-recently-used map per (provider, model) of id -> last time
seen, capped at a fixed number of entries so memory stays bounded however
long the stream is. They are working state of one accumulation, not part of
the serialized roll-up: repeats across separately accumulated uploads are not
detected (docs/COST_ENGINE.md).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

PREFIX_CACHE_TTL_SECONDS: Final = 300.0
"""A prefix block is a cache hit when last seen at most this long ago (5-minute caches)."""
MIN_CACHEABLE_TOKENS: Final = 1024
"""Providers cache prompts of at least 1024 tokens (OpenAI, Anthropic Sonnet/Opus)."""
DUPLICATE_WINDOW_SECONDS: Final = 86400.0
"""A request is a duplicate when the same fingerprint was seen at most a day before."""
MAX_TRACKED_IDS: Final = 200_000
"""Entries kept per detector; the least recently seen are forgotten first."""


class RecentIds:
    """An LRU map of id -> last seen (seconds), bounded to ``capacity`` entries."""

    __slots__ = ("_capacity", "_seen")

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def touch(self, key: tuple[str, str, str], now: float, window: float) -> bool:
        """Record ``key`` as seen at ``now``; True when it was seen within ``window`` before."""
        seen = self._seen
        last = seen.get(key)
        seen[key] = now
        if last is None:
            if len(seen) > self._capacity:
                seen.popitem(last=False)
            return False
        seen.move_to_end(key)
        return abs(now - last) <= window


class PrefixCache:
    """Simulates a provider prompt cache over prefix blocks: how many tokens would hit."""

    __slots__ = ("_blocks",)

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._blocks = RecentIds(capacity)

    def observe(
        self,
        provider: str,
        model: str,
        blocks: tuple[str, ...],
        *,
        block_tokens: int,
        input_tokens: int,
        now: float,
    ) -> tuple[int, int]:
        """``(hit_tokens, write_tokens)`` for one request with these leading prefix blocks.

        A hit is the run of leading blocks all seen within the TTL (a prefix
        cache matches from the start). Write tokens are the rest of the blocks,
        which a cache would store. Prompts under the providers' minimum are not
        cacheable at all.
        """
        hits = 0
        leading = True
        touch = self._blocks.touch
        for block in blocks:
            hit = touch((provider, model, block), now, PREFIX_CACHE_TTL_SECONDS)
            if leading and hit:
                hits += 1
            else:
                leading = False
        prefix_tokens = min(len(blocks) * block_tokens, input_tokens)
        if prefix_tokens < MIN_CACHEABLE_TOKENS:
            return 0, 0
        hit_tokens = min(hits * block_tokens, prefix_tokens)
        if hit_tokens < MIN_CACHEABLE_TOKENS:
            hit_tokens = 0
        return hit_tokens, prefix_tokens - hit_tokens
