"""The repeat detectors of :mod:`repeats`, vectorised over canonical tables in stream order.

Same rules as :class:`repeats.RecentIds` and :class:`repeats.PrefixCache`: a
request is a duplicate when its (provider, model, fingerprint) was last seen
at most a day before or after it in stream order; a prefix block is a cache
hit when its (provider, model, block) was last seen at most five minutes
away; a request's hit is the run of leading blocks that hit. Within a batch,
the previous sighting of every id is found by sorting (id, order); across
batches, a map of id -> last seen carries it, at most ``capacity`` ids, the
least recently seen forgotten first. The only difference from the record
path: ids are forgotten at the end of a batch rather than at the moment the
map overflows, so with more than ``capacity`` live ids the two may differ by
up to one batch of memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apex_core.cost.repeats import (
    DUPLICATE_WINDOW_SECONDS,
    MAX_TRACKED_IDS,
    MIN_CACHEABLE_TOKENS,
    PREFIX_CACHE_TTL_SECONDS,
)

_MICROS: Final = 1_000_000
_SEP: Final = "\x1f"
_NEVER: Final = np.iinfo(np.int64).max


@dataclass(slots=True, frozen=True)
class Repeats:
    """Per row of the observed table (in its order): duplicate flag and prefix-cache effect."""

    duplicate: np.ndarray[Any, np.dtype[np.bool_]]
    prefix_request: np.ndarray[Any, np.dtype[np.bool_]]
    """The row fed the prompt-cache simulation (it has blocks and is not a duplicate)."""
    hit_tokens: np.ndarray[Any, np.dtype[np.int64]]
    write_tokens: np.ndarray[Any, np.dtype[np.int64]]


class LastSeen:
    """id -> last seen (UTC microseconds) of at most ``capacity`` ids, the most recent kept.

    Held as columns (ids, moments, recency) sorted by recency, so a batch is
    matched against it with one sort instead of a lookup per id.
    """

    __slots__ = ("_capacity", "_ids", "_moments", "_recency", "_touches")

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._capacity = capacity
        self._ids: pa.Array = pa.array([], pa.string())
        self._moments = np.zeros(0, dtype=np.int64)
        self._recency = np.zeros(0, dtype=np.int64)
        self._touches = 0

    def __len__(self) -> int:
        return len(self._ids)

    def hits(
        self, ids: pa.Array, moments: np.ndarray[Any, np.dtype[np.int64]], window: int
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """For ids in stream order: was each seen at most ``window`` µs away before? Records them."""
        count = len(ids)
        known = len(self._ids)
        if not count:
            return np.zeros(0, dtype=np.bool_)
        every = pa.concat_arrays([self._ids, ids.cast(pa.string())])
        codes = pc.dictionary_encode(every).indices.to_numpy()
        when = np.concatenate((self._moments, moments))
        recency = np.concatenate((self._recency, self._touches + np.arange(count)))
        self._touches += count
        # The remembered ids come first, in recency order, then the batch in stream order:
        # a stable sort by id lists each id's sightings oldest first.
        by_id = np.argsort(codes, kind="stable")
        sorted_codes = codes[by_id]
        sorted_when = when[by_id]
        repeat = np.zeros(len(every), dtype=np.bool_)
        repeat[1:] = sorted_codes[1:] == sorted_codes[:-1]
        near = np.zeros(len(every), dtype=np.bool_)
        near[1:] = np.abs(sorted_when[1:] - sorted_when[:-1]) <= window
        found = np.empty(len(every), dtype=np.bool_)
        found[by_id] = repeat & near
        latest = by_id[np.append(~repeat[1:], True)]
        latest = latest[np.argsort(recency[latest], kind="stable")][-self._capacity :]
        self._ids = every.take(pa.array(latest))
        self._moments = when[latest]
        self._recency = recency[latest]
        return found[known:]


class RepeatColumns:
    """Both detectors, fed canonical tables in stream order."""

    __slots__ = ("_blocks", "_fingerprints")

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._fingerprints = LastSeen(capacity)
        self._blocks = LastSeen(capacity)

    def observe(self, ordered: pa.Table) -> Repeats:
        """Detect repeats in ``ordered``: rows in stream order, after every row observed before."""
        rows = ordered.num_rows
        moments = ordered.column("ts").to_numpy()
        duplicate = np.zeros(rows, dtype=np.bool_)
        has_fingerprint = _present(ordered, "prompt_fingerprint")
        if has_fingerprint.any():
            keyed = ordered.filter(has_fingerprint)
            ids = _ids(keyed, keyed.column("prompt_fingerprint"))
            duplicate[has_fingerprint] = self._fingerprints.hits(
                ids, moments[has_fingerprint], int(DUPLICATE_WINDOW_SECONDS * _MICROS)
            )
        prefixed = _present(ordered, "prefix_blocks") & ~duplicate
        hit_tokens = np.zeros(rows, dtype=np.int64)
        write_tokens = np.zeros(rows, dtype=np.int64)
        if prefixed.any():
            hit, write = self._prefix(ordered.filter(prefixed), moments[prefixed])
            hit_tokens[prefixed] = hit
            write_tokens[prefixed] = write
        return Repeats(duplicate, prefixed, hit_tokens, write_tokens)

    def _prefix(
        self, table: pa.Table, moments: np.ndarray[Any, np.dtype[np.int64]]
    ) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
        lists = pc.split_pattern(table.column("prefix_blocks"), " ").combine_chunks()
        lengths = pc.list_value_length(lists).to_numpy().astype(np.int64)
        owner = pc.list_parent_indices(lists).to_numpy()
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        position = np.arange(len(owner), dtype=np.int64) - starts[owner]
        blocks = pc.list_flatten(lists)
        scope = pc.binary_join_element_wise(
            table.column("provider"), table.column("model"), _SEP
        ).combine_chunks()
        ids = pc.binary_join_element_wise(pc.take(scope, pa.array(owner)), blocks, _SEP)
        hit = self._blocks.hits(ids, moments[owner], int(PREFIX_CACHE_TTL_SECONDS * _MICROS))
        first_miss = np.minimum.reduceat(np.where(hit, _NEVER, position), starts)
        leading = np.minimum(first_miss, lengths)
        size = table.column("block_tokens").to_numpy()
        prefix = np.minimum(lengths * size, table.column("input_tokens").to_numpy())
        cacheable = prefix >= MIN_CACHEABLE_TOKENS
        hits = np.minimum(leading * size, prefix)
        hits = np.where(cacheable & (hits >= MIN_CACHEABLE_TOKENS), hits, 0)
        return hits, np.where(cacheable, prefix - hits, 0)


def _ids(table: pa.Table, name: pa.ChunkedArray) -> pa.Array:
    return pc.binary_join_element_wise(
        table.column("provider"), table.column("model"), name, _SEP
    ).combine_chunks()


def _present(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    mask: np.ndarray[Any, np.dtype[np.bool_]] = pc.is_valid(table.column(name)).to_numpy(
        zero_copy_only=False
    )
    return mask
