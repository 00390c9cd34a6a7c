"""The repeat detectors, vectorised over canonical tables in stream order.

A request is a duplicate when its (provider, model, fingerprint) was last seen
at most a day before or after it in stream order; a prefix block is a cache
hit when its (provider, model, block) was last seen at most five minutes
away; a request's hit is the run of leading blocks that hit. The previous
sighting of every id is found by one sort of (id, order) over the batch and
what :class:`LastSeen` remembers from earlier batches: at most ``capacity``
ids, the least recently seen forgotten first (at the end of a batch, so with
more than ``capacity`` live ids one batch more may be remembered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apex_core.cost.model.rollup import (
    DUPLICATE_WINDOW_SECONDS,
    MAX_TRACKED_IDS,
    MIN_CACHEABLE_TOKENS,
    PREFIX_CACHE_TTL_SECONDS,
)

_MICROS: Final = 1_000_000
_NEVER: Final = np.iinfo(np.int64).max
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Ints = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(slots=True, frozen=True)
class Repeats:
    """Per row of the observed table (in its order): duplicate flag and prefix-cache effect."""

    duplicate: Bools
    prefix_request: Bools
    """The row fed the prompt-cache simulation (it has blocks and is not a duplicate)."""
    hit_tokens: Ints
    write_tokens: Ints


class LastSeen:
    """(scope, id) -> last seen (UTC microseconds) of at most ``capacity`` ids, the most recent
    kept. Held as columns in recency order, so a batch is matched against it with one sort
    instead of a lookup per id.

    While the stream's timestamps never go back, the columns are also in time order and
    an id last seen more than ``window`` before a batch can never match again: only the
    recent tail takes part in the sort, so a batch costs what it holds, not what is
    remembered. The first step back in time folds the columns to one entry per id and
    every later batch is matched against all of them.
    """

    __slots__ = (
        "_capacity", "_moments", "_names", "_ordered", "_recency", "_scopes", "_touches",
    )  # fmt: skip

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._capacity = capacity
        self._names: pa.Array = pa.array([], pa.string())
        self._scopes = np.zeros(0, dtype=np.int64)
        self._moments = np.zeros(0, dtype=np.int64)
        self._recency = np.zeros(0, dtype=np.int64)
        self._touches = 0
        self._ordered = True
        """No timestamp so far was earlier than one before it."""

    def __len__(self) -> int:
        return len(self._names)

    def hits(self, scopes: Ints, names: pa.Array, moments: Ints, window: int) -> Bools:
        """For ids in stream order (``scopes``: small ints, ``names``: strings): was each seen
        at most ``window`` µs away before? Records them."""
        count = len(names)
        if not count:
            return np.zeros(0, dtype=np.bool_)
        if self._ordered and not _in_order(self._moments, moments):
            self._ordered = False
            self._fold()
        # In time order, entries before `start` are older than the window: they only wait
        # to be forgotten (an id seen again leaves one there, which the fold removes).
        start = int(np.searchsorted(self._moments, moments[0] - window)) if self._ordered else 0
        known = len(self._names) - start
        every = pa.concat_arrays([self._names[start:], names])
        codes = pc.dictionary_encode(every).indices.to_numpy().astype(np.int64)
        scope = np.concatenate((self._scopes[start:], scopes))
        key = codes * (int(scope.max()) + 1) + scope
        when = np.concatenate((self._moments[start:], moments))
        recency = np.concatenate((self._recency[start:], self._touches + np.arange(count)))
        self._touches += count
        # Remembered ids first, in recency order, then the batch in stream order: a stable
        # sort by key lists each id's sightings oldest first.
        by_key = np.argsort(key, kind="stable")
        sorted_key = key[by_key]
        sorted_when = when[by_key]
        repeat = np.zeros(len(key), dtype=np.bool_)
        repeat[1:] = sorted_key[1:] == sorted_key[:-1]
        near = np.zeros(len(key), dtype=np.bool_)
        near[1:] = np.abs(sorted_when[1:] - sorted_when[:-1]) <= window
        found = np.empty(len(key), dtype=np.bool_)
        found[by_key] = repeat & near
        latest = by_key[np.append(~repeat[1:], True)]
        latest = latest[np.argsort(recency[latest], kind="stable")]
        self._keep(
            pa.concat_arrays([self._names[:start], every.take(pa.array(latest))]),
            np.concatenate((self._scopes[:start], scope[latest])),
            np.concatenate((self._moments[:start], when[latest])),
            np.concatenate((self._recency[:start], recency[latest])),
        )
        return found[known:]

    def _keep(self, names: pa.Array, scopes: Ints, moments: Ints, recency: Ints) -> None:
        """Remember these columns (in recency order), the most recent ``capacity`` of them."""
        drop = max(len(names) - self._capacity, 0)
        self._names = names.slice(drop)
        self._scopes = scopes[drop:]
        self._moments = moments[drop:]
        self._recency = recency[drop:]

    def _fold(self) -> None:
        """One entry per id, its most recent (time order no longer tells what is stale)."""
        if not len(self._names):
            return
        codes = pc.dictionary_encode(self._names).indices.to_numpy().astype(np.int64)
        key = codes * (int(self._scopes.max()) + 1) + self._scopes
        by_key = np.argsort(key, kind="stable")
        last = by_key[np.append(key[by_key][1:] != key[by_key][:-1], True)]
        last.sort()
        self._keep(
            self._names.take(pa.array(last)), self._scopes[last], self._moments[last],
            self._recency[last],
        )  # fmt: skip


def _in_order(before: Ints, moments: Ints) -> bool:
    """``moments`` never go back in time, nor before the last of ``before``."""
    ordered = bool((moments[1:] >= moments[:-1]).all())
    return ordered and (not len(before) or bool(moments[0] >= before[-1]))


class RepeatColumns:
    """Both detectors, fed canonical tables in stream order."""

    __slots__ = ("_blocks", "_fingerprints", "_scopes")

    def __init__(self, capacity: int = MAX_TRACKED_IDS) -> None:
        self._fingerprints = LastSeen(capacity)
        self._blocks = LastSeen(capacity)
        self._scopes: dict[tuple[str, str], int] = {}
        """(provider, model) -> a small id, stable for the whole stream."""

    def observe(self, ordered: pa.Table) -> Repeats:
        """Detect repeats in ``ordered``: rows in stream order, after every row observed before."""
        rows = ordered.num_rows
        moments = ordered.column("ts").to_numpy()
        scopes = self._scope_ids(ordered)
        duplicate = np.zeros(rows, dtype=np.bool_)
        has_fingerprint = _present(ordered, "prompt_fingerprint")
        if has_fingerprint.any():
            names = ordered.column("prompt_fingerprint").filter(has_fingerprint).combine_chunks()
            duplicate[has_fingerprint] = self._fingerprints.hits(
                scopes[has_fingerprint], names, moments[has_fingerprint],
                int(DUPLICATE_WINDOW_SECONDS * _MICROS),
            )  # fmt: skip
        prefixed = _present(ordered, "prefix_blocks") & ~duplicate
        hit_tokens = np.zeros(rows, dtype=np.int64)
        write_tokens = np.zeros(rows, dtype=np.int64)
        if prefixed.any():
            hit, write = self._prefix(ordered.filter(prefixed), scopes[prefixed], moments[prefixed])
            hit_tokens[prefixed] = hit
            write_tokens[prefixed] = write
        return Repeats(duplicate, prefixed, hit_tokens, write_tokens)

    def _scope_ids(self, table: pa.Table) -> Ints:
        """Each row's (provider, model) as this stream's small id for it."""
        providers = pc.dictionary_encode(table.column("provider")).combine_chunks()
        models = pc.dictionary_encode(table.column("model")).combine_chunks()
        provider_codes = providers.indices.to_numpy().astype(np.int64)
        model_codes = models.indices.to_numpy().astype(np.int64)
        pairs = provider_codes * len(models.dictionary) + model_codes
        distinct, inverse = np.unique(pairs, return_inverse=True)
        provider_names = providers.dictionary.to_pylist()
        model_names = models.dictionary.to_pylist()
        width = len(model_names)
        ids = np.array(
            [
                self._scopes.setdefault(
                    (provider_names[pair // width], model_names[pair % width]), len(self._scopes)
                )
                for pair in distinct.tolist()
            ],
            dtype=np.int64,
        )
        scoped: Ints = ids[inverse.reshape(-1)]
        return scoped

    def _prefix(self, table: pa.Table, scopes: Ints, moments: Ints) -> tuple[Ints, Ints]:
        lists = pc.split_pattern(table.column("prefix_blocks"), " ").combine_chunks()
        lengths = pc.list_value_length(lists).to_numpy().astype(np.int64)
        owner = pc.list_parent_indices(lists).to_numpy()
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        position = np.arange(len(owner), dtype=np.int64) - starts[owner]
        hit = self._blocks.hits(
            scopes[owner], pc.list_flatten(lists), moments[owner],
            int(PREFIX_CACHE_TTL_SECONDS * _MICROS),
        )  # fmt: skip
        first_miss = np.minimum.reduceat(np.where(hit, _NEVER, position), starts)
        leading = np.minimum(first_miss, lengths)
        size = table.column("block_tokens").to_numpy()
        prefix = np.minimum(lengths * size, table.column("input_tokens").to_numpy())
        cacheable = prefix >= MIN_CACHEABLE_TOKENS
        hits = np.minimum(leading * size, prefix)
        hits = np.where(cacheable & (hits >= MIN_CACHEABLE_TOKENS), hits, 0)
        return hits, np.where(cacheable, prefix - hits, 0)


def _present(table: pa.Table, name: str) -> Bools:
    mask: Bools = pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False)
    return mask
