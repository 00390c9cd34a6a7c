"""The edge's own errors.

Google client-library errors are translated by the adapters (``store``, ``bus``)
with :func:`apex_core.google_errors.translated`, so that a frame handler only ever
sees an :class:`~apex_core.errors.ApexError`.
"""

from __future__ import annotations

from apex_core.errors import ApexError


class RateLimited(ApexError):
    """A user spent a budget (``budget``: ``frames`` or ``messages``) faster than it refills."""

    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: float, budget: str) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.budget = budget
