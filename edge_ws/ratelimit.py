"""Rate limits: pure, the clock (monotonic seconds) is passed in.

* :class:`TokenBucket` holds ``per_minute`` tokens and refills continuously: a
  burst of ``per_minute`` is allowed, then one every ``60 / per_minute`` seconds.
  :meth:`TokenBucket.take` takes tokens only while the bucket holds at least one;
  :meth:`TokenBucket.charge` takes tokens after the fact (a read that turned out
  to touch N documents) and may leave a debt, paid back by the refill.
* :class:`Budgets` keeps one bucket per key (a user id, a client address), shared
  by every socket of that key on this instance, so reconnecting refills nothing.
  A bucket that has refilled completely is the same as a new one, so
  :meth:`Budgets.forget_idle` drops those and memory stays bounded by the keys
  active in the last minute.
* :class:`Strikes` counts refusals in a row on one socket; a client that keeps
  sending while refused is flooding and the connection closes it with 1008.

The budgets are per instance: a user whose sockets land on several instances
has a budget on each (docs/SECURITY.md says why that is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    per_minute: int
    _tokens: float = field(init=False)
    _at: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._tokens = float(self.per_minute)

    def _refill(self, now: float) -> None:
        if self._at is not None:
            elapsed = max(0.0, now - self._at)
            self._tokens = min(
                float(self.per_minute), self._tokens + elapsed * self.per_minute / 60
            )
        self._at = now if self._at is None else max(self._at, now)

    def take(self, cost: int, now: float) -> bool:
        """Take ``cost`` tokens at ``now`` if the bucket holds at least one (the last
        one may go into debt); False (nothing taken) otherwise."""
        self._refill(now)
        if self._tokens < 1:
            return False
        self._tokens -= cost
        return True

    def charge(self, cost: int, now: float) -> None:
        """Take ``cost`` tokens whatever the bucket holds (may leave a debt)."""
        self._refill(now)
        self._tokens -= cost

    def retry_after(self) -> float:
        """Seconds until the bucket holds one token again, as of the last call."""
        return max(0.0, (1 - self._tokens) * 60 / self.per_minute)

    def full(self, now: float) -> bool:
        """True when the bucket would be full at ``now`` (as good as a new one)."""
        if self._at is None:
            return True
        elapsed = max(0.0, now - self._at)
        return self._tokens + elapsed * self.per_minute / 60 >= self.per_minute


class Budgets:
    """One :class:`TokenBucket` per key."""

    def __init__(self, *, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, TokenBucket] = {}
        self._swept_at: float | None = None

    def __contains__(self, key: str) -> bool:
        return key in self._buckets

    def _bucket(self, key: str, now: float) -> TokenBucket:
        if self._swept_at is None or now - self._swept_at >= 60:
            self.forget_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.per_minute)
        return bucket

    def take(self, key: str, cost: int, now: float) -> float | None:
        """None when ``key`` may go on (``cost`` taken), else seconds to wait."""
        bucket = self._bucket(key, now)
        return None if bucket.take(cost, now) else bucket.retry_after()

    def charge(self, key: str, cost: int, now: float) -> None:
        if cost > 0:
            self._bucket(key, now).charge(cost, now)

    def forget_idle(self, now: float) -> None:
        """Drop the buckets that are full again at ``now``."""
        self._swept_at = now
        for key in [k for k, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[key]


@dataclass(slots=True)
class Strikes:
    """Refusals in a row on one socket."""

    limit: int
    _in_a_row: int = 0

    def allowed(self) -> None:
        self._in_a_row = 0

    def refused(self) -> bool:
        """Count one refusal; True when the socket has now been refused ``limit`` times
        in a row and must be closed."""
        self._in_a_row += 1
        return self._in_a_row >= self.limit
