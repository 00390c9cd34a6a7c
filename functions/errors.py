"""Errors of the agent functions, all under :class:`apex_core.errors.ApexError`."""

from __future__ import annotations

from typing import Any

from apex_core.errors import ApexError


class MalformedRequest(ApexError):
    """A Pub/Sub message is not a valid ``RunRequest``; redelivering it can never succeed."""

    code = "invalid_request"


class RunNotOwned(ApexError):
    """The request's ``user_id`` (or ``thread_id``) differs from the stored run's or thread's."""

    code = "not_found"


class RunBusy(ApexError):
    """Another delivery holds a live lease on the run; Pub/Sub should try again later."""

    code = "busy"
    retryable = True


class RunAlreadyFinished(ApexError):
    """The run reached a terminal status elsewhere (another delivery, the dead-letter handler)."""

    code = "already_finished"


class TooLarge(ApexError):
    """The upload is larger than ``INGEST_MAX_BYTES``."""

    code = "too_large"


class UnsupportedMediaType(ApexError):
    """The request body is neither a raw file nor multipart/form-data."""

    code = "unsupported_media_type"


class BadUpload(ApexError):
    """The request is malformed (no file part, empty body, bad parameter)."""

    code = "invalid_request"


class NothingImported(ApexError):
    """Every row of the file was rejected (or it has none): nothing is stored."""

    code = "no_usable_rows"

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary
