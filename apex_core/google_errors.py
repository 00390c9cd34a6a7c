"""Google client-library errors (Pub/Sub, Firestore) → the :mod:`apex_core.errors` tree.

One policy for every adapter that calls those libraries (``edge_ws.store``,
``edge_ws.bus``, ``functions.run_store``, ``functions.usage_store``):

* **transient** — the same call may succeed later — becomes
  :class:`~apex_core.errors.Unavailable` (``retryable``): a timeout
  (``TimeoutError``, ``DeadlineExceeded``), the library giving up after its own
  retries (``RetryError``), and the gRPC codes Google's client libraries
  themselves retry: ``UNAVAILABLE``, ``ABORTED`` (a contended transaction),
  ``INTERNAL``, ``UNKNOWN``, ``RESOURCE_EXHAUSTED``/HTTP 429 and ``CANCELLED``;
* **anything else** (``PERMISSION_DENIED``, ``INVALID_ARGUMENT``, ``NOT_FOUND``,
  ``FAILED_PRECONDITION``, ``UNAUTHENTICATED`` …) — a retry cannot fix it —
  becomes :class:`BackendError` (not retryable).

What that means at each call site: on the edge, ``retryable`` in the ``error``
frame tells the client whether sending again can help. In the functions, an
``Unavailable`` fails the delivery so that Pub/Sub redelivers the request (or the
upload answers 503); a ``BackendError`` inside a tool ends the run at once with a
non-retryable ``agent_error`` (an upload answers 500), instead of spending every
redelivery on a call that cannot succeed; outside a tool it fails the delivery too.
Calls that expect a specific error (``AlreadyExists`` on a ``create()``,
``NotFound`` on a delete) catch it inside the block, before this mapping.

No I/O here; ``google.api_core`` is a dependency of both clients and is light.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from google.api_core import exceptions as gexc

from apex_core.errors import ApexError, Unavailable

TRANSIENT: Final[tuple[type[Exception], ...]] = (
    TimeoutError,
    gexc.RetryError,
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.Aborted,
    gexc.InternalServerError,
    gexc.Unknown,
    gexc.TooManyRequests,
    gexc.ResourceExhausted,
    gexc.Cancelled,
)
"""Errors after which the same call may succeed."""


class BackendError(ApexError):
    """Pub/Sub or Firestore refused a call for a reason a retry will not fix."""

    code = "internal"


def is_transient(error: BaseException) -> bool:
    """Whether the same call may succeed if made again (see the module's policy)."""
    return isinstance(error, TRANSIENT)


def as_apex_error(what: str, error: Exception) -> Unavailable | BackendError:
    """The :mod:`apex_core.errors` form of a library ``error`` raised while doing
    ``what`` (``"reading the thread"``). The message names the error's type, never
    its text (which may quote documents or paths)."""
    kind = type(error).__name__
    if isinstance(error, TimeoutError | gexc.DeadlineExceeded):
        return Unavailable(f"{what} timed out ({kind}); try again")
    if isinstance(error, gexc.RetryError):
        return Unavailable(f"{what} failed after retries ({kind}); try again")
    if is_transient(error):
        return Unavailable(f"{what} failed ({kind}); try again")
    return BackendError(f"{what} failed ({kind}); retrying will not help")


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise a library error raised inside the block as :func:`as_apex_error` says;
    :class:`~apex_core.errors.ApexError` passes through unchanged."""
    try:
        yield
    except ApexError:
        raise
    except (TimeoutError, gexc.GoogleAPIError) as exc:
        raise as_apex_error(what, exc) from exc
