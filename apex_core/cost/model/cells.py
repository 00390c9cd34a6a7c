"""The roll-up's cells, by name: keys, the usage a cell sums, and the counters of one cell.

A feature cell sums the requests of one (day, provider, model, feature, batch,
service tier); an end-user cell those of one (day, provider, model, end user,
batch, service tier). A cell *is* the :class:`Usage` of all its requests
(``cell.requests``, ``cell.cached_input_tokens`` …), so it is priced as it is;
a feature cell also holds the usage of its short-output and duplicate requests,
latency and the prompt-cache simulation. :data:`FEATURE_COUNTERS` and
:data:`USER_COUNTERS` name every counter in one fixed order: the columns of the
columnar sums and the stored ``apex.usage_rollup.v1`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Final, NamedTuple


@dataclass(frozen=True, slots=True)
class Usage:
    """Seven counts of some requests. ``input_tokens`` is the whole prompt, cache reads and
    writes included; ``output_tokens`` includes reasoning (docs/COST_ENGINE.md)."""

    requests: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    """Tokens written to the prompt cache (all TTLs)."""
    cache_write_1h_tokens: int = 0
    """The part of ``cache_write_tokens`` written with a one-hour TTL."""
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        """The usage of both (of any two cells or usages: a plain :class:`Usage`)."""
        return Usage(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    @property
    def usage(self) -> Usage:
        """Just the seven counts (of a cell: the usage of all its requests)."""
        return Usage(
            self.requests, self.input_tokens, self.cached_input_tokens, self.cache_write_tokens,
            self.cache_write_1h_tokens, self.output_tokens, self.reasoning_tokens,
        )  # fmt: skip

    @property
    def empty(self) -> bool:
        """Every count is 0."""
        return not any(getattr(self, name) for name in USAGE_FIELDS)


NO_USAGE: Final = Usage()
USAGE_FIELDS: Final = tuple(f.name for f in fields(Usage))
"""The seven counts, in the order a usage block is stored."""


@dataclass(frozen=True, slots=True)
class FeatureCell(Usage):
    """A feature cell: the usage of all its requests (inherited) and what analysis needs more."""

    short: Usage = NO_USAGE
    """Requests with at most ``SHORT_OUTPUT_TOKENS`` output tokens each (cheaper-model candidates)."""
    duplicate: Usage = NO_USAGE
    """Requests repeating a prompt fingerprint seen within the duplicate window."""
    latency_count: int = 0
    latency_sum_ms: int = 0
    latency_max_ms: int = 0
    prefix_requests: int = 0
    """Requests that fed the prompt-cache simulation (prefix blocks, not duplicates)."""
    prefix_hit_tokens: int = 0
    """Input tokens a prompt cache would have served (repeated leading prefix blocks)."""
    prefix_write_tokens: int = 0
    """The rest of those requests' prefixes, which a cache would write."""
    records: int = 0
    """Rows (records) summed into the cell."""

    def merged(self, other: FeatureCell) -> FeatureCell:
        """Both cells' requests in one cell (latency max by max, the rest summed)."""
        return FeatureCell.from_counters([
            max(a, b) if name == "latency_max_ms" else a + b
            for name, a, b in zip(FEATURE_COUNTERS, self.counters(), other.counters(), strict=True)
        ])  # fmt: skip

    def counters(self) -> tuple[int, ...]:
        """Every counter, in :data:`FEATURE_COUNTERS` order."""
        return (
            *_counts(self), *_counts(self.short), *_counts(self.duplicate), self.latency_count,
            self.latency_sum_ms, self.latency_max_ms, self.prefix_requests,
            self.prefix_hit_tokens, self.prefix_write_tokens, self.records,
        )  # fmt: skip

    @classmethod
    def from_counters(cls, values: Sequence[int]) -> FeatureCell:
        """The cell of counters in :data:`FEATURE_COUNTERS` order."""
        every = _usage(values[0:7])
        named = dict(zip(FEATURE_COUNTERS[21:], values[21:], strict=True))
        return cls(
            requests=every.requests,
            input_tokens=every.input_tokens,
            cached_input_tokens=every.cached_input_tokens,
            cache_write_tokens=every.cache_write_tokens,
            cache_write_1h_tokens=every.cache_write_1h_tokens,
            output_tokens=every.output_tokens,
            reasoning_tokens=every.reasoning_tokens,
            short=_usage(values[7:14]),
            duplicate=_usage(values[14:21]),
            latency_count=named["latency_count"],
            latency_sum_ms=named["latency_sum_ms"],
            latency_max_ms=named["latency_max_ms"],
            prefix_requests=named["prefix_requests"],
            prefix_hit_tokens=named["prefix_hit_tokens"],
            prefix_write_tokens=named["prefix_write_tokens"],
            records=named["records"],
        )


@dataclass(frozen=True, slots=True)
class UserCell(Usage):
    """An end-user cell: the usage of all its requests (inherited) and its record count."""

    records: int = 0

    def merged(self, other: UserCell) -> UserCell:
        """Both cells' requests in one cell."""
        return UserCell.from_counters(
            [a + b for a, b in zip(self.counters(), other.counters(), strict=True)]
        )

    def counters(self) -> tuple[int, ...]:
        """Every counter, in :data:`USER_COUNTERS` order."""
        return (*_counts(self), self.records)

    @classmethod
    def from_counters(cls, values: Sequence[int]) -> UserCell:
        """The cell of counters in :data:`USER_COUNTERS` order."""
        every = _usage(values[0:7])
        return cls(
            requests=every.requests,
            input_tokens=every.input_tokens,
            cached_input_tokens=every.cached_input_tokens,
            cache_write_tokens=every.cache_write_tokens,
            cache_write_1h_tokens=every.cache_write_1h_tokens,
            output_tokens=every.output_tokens,
            reasoning_tokens=every.reasoning_tokens,
            records=values[7],
        )


def _usage(values: Sequence[int]) -> Usage:
    """Seven counts in :data:`USAGE_FIELDS` order."""
    (requests, input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
     output_tokens, reasoning_tokens) = values  # fmt: skip
    return Usage(
        requests=requests, input_tokens=input_tokens, cached_input_tokens=cached_input_tokens,
        cache_write_tokens=cache_write_tokens, cache_write_1h_tokens=cache_write_1h_tokens,
        output_tokens=output_tokens, reasoning_tokens=reasoning_tokens,
    )  # fmt: skip


def _counts(usage: Usage) -> tuple[int, ...]:
    return (
        usage.requests, usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens,
        usage.cache_write_1h_tokens, usage.output_tokens, usage.reasoning_tokens,
    )  # fmt: skip


FEATURE_COUNTERS: Final = (
    *USAGE_FIELDS,
    *(f"short_{name}" for name in USAGE_FIELDS),
    *(f"duplicate_{name}" for name in USAGE_FIELDS),
    "latency_count",
    "latency_sum_ms",
    "latency_max_ms",
    "prefix_requests",
    "prefix_hit_tokens",
    "prefix_write_tokens",
    "records",
)
"""A feature cell's counters by name, in the stored order (``apex.usage_rollup.v1``)."""
USER_COUNTERS: Final = (*USAGE_FIELDS, "records")
"""An end-user cell's counters by name, in the stored order."""


class FeatureKey(NamedTuple):
    """What a feature cell sums over; keys sort by day first."""

    day: str
    """ISO date, UTC (or the first day of a price period, see ``merge_user_periods``)."""
    provider: str
    model: str
    feature: str
    batch: bool
    service_tier: str


class UserKey(NamedTuple):
    """What an end-user cell sums over; keys sort by day first."""

    day: str
    provider: str
    model: str
    end_user: str
    batch: bool
    service_tier: str


class PeriodKey(NamedTuple):
    """What a cell's price depends on (``PriceBook.price_periods``' keys)."""

    day: str
    provider: str
    model: str
    batch: bool
    service_tier: str


UserPeriods = Callable[[Iterable[PeriodKey]], dict[PeriodKey, str]]
"""Maps price keys to the first day of their run of days with the same prices
(``PriceBook.price_periods``)."""
