"""The one policy for Google client-library errors (apex_core.google_errors):
what a retry may fix is Unavailable (retryable), anything else a BackendError (not)."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

from apex_core.errors import ApexError, NotFound, Unavailable
from apex_core.google_errors import BackendError, as_apex_error, is_transient, translated


def google(kind: type[Exception], *args: object) -> Exception:
    """A google-api-core error (its constructors carry no type hints)."""
    return kind(*args)


TRANSIENT = [
    TimeoutError(),
    google(gexc.RetryError, "gave up", google(gexc.ServiceUnavailable, "down")),
    google(gexc.DeadlineExceeded, "slow"),
    google(gexc.ServiceUnavailable, "down"),
    google(gexc.Aborted, "contention"),
    google(gexc.InternalServerError, "oops"),
    google(gexc.Unknown, "?"),
    google(gexc.TooManyRequests, "429"),
    google(gexc.ResourceExhausted, "quota"),
    google(gexc.Cancelled, "cancelled"),
]
PERMANENT = [
    google(gexc.PermissionDenied, "no"),
    google(gexc.InvalidArgument, "bad"),
    google(gexc.NotFound, "gone"),
    google(gexc.FailedPrecondition, "needs an index"),
    google(gexc.Unauthenticated, "who"),
    google(gexc.AlreadyExists, "twice"),
    google(gexc.BadRequest, "400"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_what_a_retry_may_fix_is_unavailable_and_retryable(error: Exception) -> None:
    assert is_transient(error)
    translated_error = as_apex_error("reading the thread", error)
    assert isinstance(translated_error, Unavailable)
    assert translated_error.retryable is True
    assert translated_error.code == "unavailable"
    assert translated_error.message.startswith("reading the thread ")
    assert type(error).__name__ in translated_error.message


@pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
def test_what_a_retry_cannot_fix_is_a_backend_error_and_not_retryable(error: Exception) -> None:
    assert not is_transient(error)
    translated_error = as_apex_error("storing the message", error)
    assert isinstance(translated_error, BackendError)
    assert translated_error.retryable is False
    assert translated_error.code == "internal"
    assert translated_error.message == (
        f"storing the message failed ({type(error).__name__}); retrying will not help"
    )


def test_the_message_never_carries_the_library_text() -> None:
    error = google(gexc.PermissionDenied, "projects/p/databases/(default)/documents/users/u-secret")
    assert "u-secret" not in as_apex_error("reading", error).message


def test_translated_raises_the_apex_form_chained_to_the_cause() -> None:
    cause = google(gexc.ServiceUnavailable, "down")
    with pytest.raises(Unavailable) as raised, translated("listing the threads"):
        raise cause
    assert raised.value.__cause__ is cause
    with pytest.raises(BackendError), translated("listing the threads"):
        raise google(gexc.PermissionDenied, "no")


def test_translated_lets_apex_errors_and_other_exceptions_through() -> None:
    mine = NotFound("thread t not found")
    with pytest.raises(NotFound) as raised, translated("reading the thread"):
        raise mine
    assert raised.value is mine
    with pytest.raises(KeyError), translated("reading the thread"):
        raise KeyError("a bug stays a bug")


def test_an_expected_error_is_caught_inside_the_block_before_the_mapping() -> None:
    with translated("creating the subscription"):
        try:
            raise google(gexc.AlreadyExists, "exists")
        except gexc.AlreadyExists:
            pass


def test_backend_error_is_an_apex_error() -> None:
    assert issubclass(BackendError, ApexError)
