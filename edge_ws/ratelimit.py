"""A per-connection rate limit on ``user_message``: pure, the clock is passed in.

A token bucket of ``per_minute`` tokens that refills continuously: a burst of
``per_minute`` messages is allowed, then one every ``60 / per_minute`` seconds.
Refusals in a row are counted as strikes; a client that keeps sending while
refused ``strikes`` times in a row is flooding, and the connection closes it
with 1008.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"
    CLOSE = "close"


@dataclass(slots=True)
class MessageRateLimit:
    per_minute: int
    strikes: int
    _tokens: float = field(init=False)
    _at: float | None = field(init=False, default=None)
    _refused_in_a_row: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._tokens = float(self.per_minute)

    def check(self, now: float) -> Verdict:
        """Take one token at monotonic time ``now`` if there is one."""
        if self._at is not None:
            elapsed = max(0.0, now - self._at)
            self._tokens = min(
                float(self.per_minute), self._tokens + elapsed * self.per_minute / 60
            )
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._refused_in_a_row = 0
            return Verdict.ALLOW
        self._refused_in_a_row += 1
        return Verdict.CLOSE if self._refused_in_a_row >= self.strikes else Verdict.REFUSE

    def retry_after(self) -> float:
        """Seconds until the next token, as of the last check."""
        return max(0.0, (1 - self._tokens) * 60 / self.per_minute)
