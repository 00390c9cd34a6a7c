"""The exception tree shared by every Netra Apex package.

``ApexError`` is the root. Each subclass carries a protocol error ``code`` and
whether the client may retry, so the top of a task can turn any of them into a
protocol ``error`` frame or a terminal ``agent_error`` event without guessing.
Library errors (google-api-core, pydantic, pyjwt, websockets) are translated
into these at the adapter that calls the library.
"""

from __future__ import annotations


class ApexError(Exception):
    """Root of every error Netra Apex raises on purpose."""

    code: str = "internal"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class InvalidFrame(ApexError):
    """A client frame is not JSON, not an object, or does not match its type's schema."""

    code = "invalid_frame"


class UnknownFrameType(InvalidFrame):
    """A client frame's ``type`` is not one of the protocol's client types."""

    code = "unknown_type"


class AuthenticationError(ApexError):
    """Credentials are missing where required, malformed, expired or not trusted."""

    code = "unauthenticated"


class NotFound(ApexError):
    """A thread or run does not exist *for this user* (other users' ids look the same)."""

    code = "not_found"


class Unavailable(ApexError):
    """A backing service (Pub/Sub, Firestore) failed; the same request may succeed later."""

    code = "unavailable"
    retryable = True


class RunCancelled(ApexError):
    """The run's owner asked to cancel it."""

    code = "cancelled"


class RunTimedOut(ApexError):
    """The run exceeded its deadline."""

    code = "timed_out"
    retryable = True


class ImportFailed(ApexError):
    """A usage file cannot be imported at all (unknown format, unreadable)."""

    code = "import_failed"


class PricingError(ApexError):
    """A price could not be computed for reasons other than an unknown model."""

    code = "pricing_error"
