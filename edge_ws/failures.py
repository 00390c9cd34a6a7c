"""Translating Google client-library errors into the :mod:`apex_core.errors` tree.

The adapters (``store``, ``bus``) wrap every library call in :func:`translated`
so that a frame handler only ever sees an :class:`~apex_core.errors.ApexError`:
transient failures become :class:`~apex_core.errors.Unavailable` (retryable),
anything else a non-retryable :class:`BackendError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.api_core import exceptions as gexc

from apex_core.errors import ApexError, Unavailable

_TRANSIENT = (
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.Aborted,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.ResourceExhausted,
    gexc.Unknown,
)


class BackendError(ApexError):
    """Pub/Sub or Firestore refused a call for a reason a retry will not fix."""

    code = "internal"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise library errors raised inside the block as ApexErrors; ``what``
    says what was being done (``"reading the thread"``)."""
    try:
        yield
    except ApexError:
        raise
    except TimeoutError as exc:
        raise Unavailable(f"{what} timed out; try again") from exc
    except gexc.RetryError as exc:
        raise Unavailable(f"{what} failed after retries; try again") from exc
    except _TRANSIENT as exc:
        raise Unavailable(f"{what} failed ({type(exc).__name__}); try again") from exc
    except gexc.GoogleAPIError as exc:
        raise BackendError(f"{what} failed ({type(exc).__name__})") from exc


class RateLimited(ApexError):
    """A user spent a budget (``budget``: ``frames`` or ``messages``) faster than it refills."""

    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: float, budget: str) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.budget = budget
