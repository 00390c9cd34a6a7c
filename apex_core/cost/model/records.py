"""The normalized usage record every importer produces, and the rejection of a bad row.

Token rule (see docs/COST_ENGINE.md): ``input_tokens`` is the *total* prompt
size, including ``cached_input_tokens`` (cache reads) and ``cache_write_tokens``
(cache creation). OpenAI reports input that way already; Anthropic reports
uncached input separately, so its importers add the three together.
``output_tokens`` includes ``reasoning_tokens``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

PREFIX_BLOCK_TOKENS: Final = 512
"""Default size of one prefix block (Mooncake's trace uses 512-token blocks)."""
MAX_KEPT_REJECTIONS: Final = 50


class RowRejected(ValueError):
    """Raised by a row parser: the row is malformed.

    ``reason`` is a short, stable category (counted in ``rows.reasons``);
    ``detail`` says what arrived and what was expected.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True, frozen=True)
class Rejection:
    """A row that could not be imported: where it is and why.

    ``line`` is the 1-based line of the row in line-based files (CSV, JSONL);
    in a whole JSON document it is 0 and ``where`` holds the JSON path.
    """

    source: str
    line: int
    reason: str
    detail: str = ""
    where: str = ""

    def describe(self) -> str:
        """``file:line: reason: detail``, the form an editor can jump to."""
        place = f"{self.source}:{self.line}" if self.line else f"{self.source} {self.where}"
        text = f"{self.reason}: {self.detail}" if self.detail else self.reason
        return f"{place}: {text}"

    def to_json(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {
            "source": self.source,
            "line": self.line,
            "where": self.where,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(slots=True, frozen=True)
class EmptyBucket:
    """A row of a bucketed export that reports no usage at all (a day nobody used the API).

    Zero usage, not an error: counted in ``ImportStats.empty_buckets``, never rejected.
    """

    source: str
    line: int
    where: str = ""


@dataclass(slots=True)
class ImportStats:
    """Row accounting of one or more imports: read = imported + empty_buckets + rejected."""

    read: int = 0
    imported: int = 0
    rejected: int = 0
    empty_buckets: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)

    def add_rejection(self, rejection: Rejection) -> None:
        """Count a rejected row; keep the first few in full for the report."""
        self.rejected += 1
        self.reasons[rejection.reason] += 1
        if len(self.examples) < MAX_KEPT_REJECTIONS:
            self.examples.append(rejection)

    def merge(self, other: ImportStats) -> None:
        """Add another import's counts to these."""
        self.read += other.read
        self.imported += other.imported
        self.rejected += other.rejected
        self.empty_buckets += other.empty_buckets
        self.reasons.update(other.reasons)
        room = MAX_KEPT_REJECTIONS - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    def to_json(self) -> dict[str, object]:
        """``{read, imported, rejected, empty_buckets, reasons: {reason: count}, examples}``."""
        return {
            "read": self.read,
            "imported": self.imported,
            "rejected": self.rejected,
            "empty_buckets": self.empty_buckets,
            "reasons": dict(sorted(self.reasons.items())),
            "examples": [rejection.to_json() for rejection in self.examples],
        }


@dataclass(slots=True)
class UsageRecord:
    """One request (or one pre-aggregated bucket of ``requests`` requests) of LLM usage."""

    timestamp: datetime
    """When the request (or the bucket) started, timezone-aware UTC."""
    provider: str
    """genai-prices provider id, lower case: ``openai``, ``anthropic``, ``google`` …"""
    model: str
    input_tokens: int
    """All prompt tokens, including cached reads and cache writes."""
    output_tokens: int
    """All completion tokens, including reasoning tokens."""
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    """Tokens written to the prompt cache (all TTLs)."""
    cache_write_1h_tokens: int = 0
    """The part of ``cache_write_tokens`` written with a one-hour TTL (Anthropic)."""
    reasoning_tokens: int = 0
    requests: int = 1
    batch: bool = False
    service_tier: str = ""
    feature: str = ""
    """Feature, project or tag the usage is attributed to."""
    end_user: str = ""
    latency_ms: float | None = None
    prompt_fingerprint: str | None = None
    """Hash of the whole request: equal fingerprints are duplicate requests."""
    prefix_blocks: tuple[str, ...] = ()
    """Ids of the prompt's prefix blocks; equal leading ids are a shared (cacheable) prefix."""
    block_tokens: int = PREFIX_BLOCK_TOKENS
    source: str = ""
    line: int = 0


COUNT_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "requests",
)
"""The record's counts, in the order a row is checked (each must be >= 0)."""


@dataclass(frozen=True, slots=True)
class Invariant:
    """A rule every record's counts obey, with the rejection reason when one does not.

    ``holds`` reads the counts by name, so it takes a record (one bool) or columns
    of counts (NumPy arrays: a mask): the record check and the columnar reader's
    check of a whole block are the same rules.
    """

    reason: str
    holds: Callable[[Any], Any]
    explain: Callable[[UsageRecord], str]


INVARIANTS: Final = (
    Invariant(
        "cached tokens exceed input_tokens",
        lambda c: c.cached_input_tokens + c.cache_write_tokens <= c.input_tokens,
        lambda r: (
            f"cached_input_tokens ({r.cached_input_tokens}) + cache_write_tokens "
            f"({r.cache_write_tokens}) exceed input_tokens ({r.input_tokens}); "
            "input_tokens must be the total prompt size including cached tokens"
        ),
    ),
    Invariant(
        "cache_write_1h_tokens exceed cache_write_tokens",
        lambda c: c.cache_write_1h_tokens <= c.cache_write_tokens,
        lambda r: (
            f"cache_write_1h_tokens ({r.cache_write_1h_tokens}) > cache_write_tokens "
            f"({r.cache_write_tokens})"
        ),
    ),
    Invariant(
        "reasoning_tokens exceed output_tokens",
        lambda c: c.reasoning_tokens <= c.output_tokens,
        lambda r: (
            f"reasoning_tokens ({r.reasoning_tokens}) > output_tokens "
            f"({r.output_tokens}); output_tokens must include reasoning tokens"
        ),
    ),
)
"""How a record's counts relate, besides each being >= 0 (:data:`COUNT_FIELDS`)."""


def counts_hold(counts: Any) -> Any:
    """Every count >= 0 and every :data:`INVARIANTS` rule holds: for a record a bool, for
    columns of counts (NumPy arrays, by name) the mask of rows where they do."""
    holds = counts.input_tokens >= 0
    for name in COUNT_FIELDS[1:]:
        holds = holds & (getattr(counts, name) >= 0)
    for invariant in INVARIANTS:
        holds = holds & invariant.holds(counts)
    return holds


def check_token_invariants(record: UsageRecord) -> None:
    """Raise :class:`RowRejected` when the token counts contradict each other."""
    for name in COUNT_FIELDS:
        value = getattr(record, name)
        if value < 0:
            raise RowRejected(f"negative {name}", f"expected a count >= 0, got {value}")
    for invariant in INVARIANTS:
        if not invariant.holds(record):
            raise RowRejected(invariant.reason, invariant.explain(record))
    if record.timestamp.tzinfo is None:
        raise RowRejected("timestamp without timezone", "expected UTC, e.g. 2025-03-01T12:00:00Z")
