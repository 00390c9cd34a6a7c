"""Firestore storage schema (DESIGN.md, "Storage"): document paths, ids and document shapes.

Who writes what:

* the **edge**, before it publishes a request: ``threads/{thread_id}`` (created on
  the thread's first message; ``updated_at``/``last_run_id`` on every message),
  the user's message ``threads/{thread_id}/messages/{run_id}-user`` and the run
  ``runs/{run_id}`` with status ``queued`` — all in one transaction; on
  ``cancel`` it sets ``cancel_requested`` on the run;
* the **run_agent function**: moves the run to ``running`` (with a lease),
  creates each event at ``runs/{run_id}/events/{seq}`` together with the run's
  ``last_seq`` (one batch, ``create()`` so a redelivery cannot write a seq
  twice), and at the end the assistant message
  ``threads/{thread_id}/messages/{run_id}-assistant`` and the run's terminal
  status, ``result`` or ``error``, and the thread's ``last_query`` (:data:`LAST_QUERY`,
  the answered query for the next follow-up; an addition to DESIGN.md's thread fields);
* the **dead-letter function**: a terminal ``agent_error`` and status ``failed``
  for a run whose request could not be processed.

Every document that belongs to a user carries ``user_id``; every read checks it.
Timestamps are Firestore timestamps (``datetime`` in UTC).

What a reader gets back of a thread (``StoredMessage``, ``StoredRun``,
``ThreadHistory``, ``ThreadListing``) is plain data: the wire frames that show
them to a client are made by :mod:`apex_core.protocol`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from apex_core import names

# Run ids derived from a client_message_id are stable: the same user re-sending
# the same client_message_id gets the same run (and so starts nothing new).
_RUN_NAMESPACE: Final = uuid.UUID("6f1c8f0e-8a4e-4c1b-9d5e-3b7a8f0c2d11")
TITLE_MAX_CHARS: Final = 80
LAST_QUERY: Final = "last_query"
"""Thread field: the query (``apex.query.v1``) of the thread's last answered run, which a
follow-up ("and the week before?") refines; written with the run's terminal transition."""


def thread_path(thread_id: str) -> str:
    return f"{names.THREADS}/{thread_id}"


def message_path(thread_id: str, message_id: str) -> str:
    return f"{names.THREADS}/{thread_id}/{names.MESSAGES}/{message_id}"


def run_path(run_id: str) -> str:
    return f"{names.RUNS}/{run_id}"


def event_path(run_id: str, seq: int) -> str:
    return f"{names.RUNS}/{run_id}/{names.EVENTS}/{seq}"


def user_message_id(run_id: str) -> str:
    return f"{run_id}-user"


def assistant_message_id(run_id: str) -> str:
    return f"{run_id}-assistant"


def new_thread_id() -> str:
    return f"t-{uuid.uuid4().hex}"


def run_id_for(user_id: str, client_message_id: str | None) -> str:
    """The run id for a new user message: derived when the client named the message."""
    if client_message_id is None:
        return f"r-{uuid.uuid4().hex}"
    key = "\x00".join(("run", user_id, client_message_id))
    return f"r-{uuid.uuid5(_RUN_NAMESPACE, key).hex}"


def thread_id_for(user_id: str, client_message_id: str | None) -> str:
    """The id of a new thread opened by a message; stable for a named message, like runs."""
    if client_message_id is None:
        return new_thread_id()
    key = "\x00".join(("thread", user_id, client_message_id))
    return f"t-{uuid.uuid5(_RUN_NAMESPACE, key).hex}"


def thread_title(text: str) -> str:
    """A thread's title: its first message, on one line, cut at a word boundary."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] or line[: TITLE_MAX_CHARS - 1]
    return cut + "…"


def new_thread_doc(*, user_id: str, text: str, run_id: str, now: datetime) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "title": thread_title(text),
        "created_at": now,
        "updated_at": now,
        "last_run_id": run_id,
    }


def message_doc(
    *, user_id: str, role: str, text: str, run_id: str, now: datetime
) -> dict[str, Any]:
    return {"user_id": user_id, "role": role, "text": text, "run_id": run_id, "created_at": now}


def queued_run_doc(
    *, user_id: str, thread_id: str, client_message_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "thread_id": thread_id,
        "client_message_id": client_message_id,
        "status": "queued",
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
        "last_seq": 0,
        "result": None,
        "error": None,
        "cancel_requested": False,
    }


# ---------------------------------------------------------------- read back
# Field values are as stored (a document written by hand may hold anything);
# a timestamp that is not a ``datetime`` reads as ``None``.


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message of a thread, ``threads/{thread_id}/messages/{message_id}``."""

    message_id: str
    role: Any
    text: Any
    run_id: Any
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One run of a thread, ``runs/{run_id}``, as a thread lists it."""

    run_id: str
    status: Any
    created_at: datetime | None
    last_seq: int


@dataclass(frozen=True, slots=True)
class ThreadHistory:
    """A thread with its messages and runs, oldest first."""

    thread_id: str
    title: Any
    messages: tuple[StoredMessage, ...]
    runs: tuple[StoredRun, ...]
    # Paging (``get_thread``): the cursor this page starts after, and the next one.
    cursor: str | None = None
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadListing:
    """One thread in the list of a user's threads."""

    thread_id: str
    title: Any
    updated_at: datetime | None
    last_run_id: Any


def timestamp(value: object) -> datetime | None:
    """A stored timestamp, or ``None`` when the field holds something else."""
    return value if isinstance(value, datetime) else None
