"""Errors of the agent functions, all under :class:`apex_core.errors.ApexError`."""

from __future__ import annotations

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
