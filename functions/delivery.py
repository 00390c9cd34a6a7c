"""One Pub/Sub delivery of a run request: decode, claim, run the agents, or fail it for good.

:func:`handle_run_request` is what ``run_agent`` does with a valid request;
:func:`handle_dead_letter_request` is what ``handle_dead_letter`` does. Both
are idempotent on ``run_id`` (see ``docs/AGENTS.md``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient
from pydantic import ValidationError

from apex_core import names
from apex_core.env import Env
from apex_core.errors import RunCancelled, RunTimedOut
from apex_core.google_errors import translated
from apex_core.logs import fields
from apex_core.protocol import TERMINAL_STATUSES, RunRequest, validation_problems
from apex_core.query.codec import query_from_json
from apex_core.query.errors import InvalidQuery
from apex_core.query.model import Query
from functions.agent_tools import ToolContext
from functions.agents import Supervisor
from functions.emitter import RunEmitter, TerminalOutcome
from functions.errors import MalformedRequest, RunAlreadyFinished, RunBusy
from functions.narrator import Narrator, TemplateNarrator
from functions.run_store import Claim, EventSinkOnFirestore, RunStore
from functions.usage_store import UsageStore

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_SECONDS: Final = 120.0
DEFAULT_LEASE_SECONDS: Final = 60.0
DEAD_LETTER_COUNT_ATTRIBUTE: Final = "CloudPubSubDeadLetterSourceDeliveryCount"
# Claim this long after a dead delivery's lease expired, so clocks need not agree exactly.
LEASE_MARGIN_SECONDS: Final = 0.5


@dataclass(frozen=True, slots=True)
class Settings:
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    """``RUN_DEADLINE_SECONDS``: how long one delivery may work on a run."""
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    """``RUN_LEASE_SECONDS``: how long a claim stays live without a new event."""
    step_delay_seconds: float = 0.0
    """``AGENT_STEP_DELAY_MS``: a pause before every agent and tool call, to watch a run
    (demos, and the integration tests that cancel a run mid-way); 0 in production."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Raises :class:`~apex_core.env.SettingsError` for a value that cannot be used."""
        env = Env(os.environ if environ is None else environ)
        return cls(
            deadline_seconds=env.seconds("RUN_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
            lease_seconds=env.seconds("RUN_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
            step_delay_seconds=env.number(
                "AGENT_STEP_DELAY_MS", 0.0, unit="milliseconds", allow_zero=True
            )
            / 1000,
        )


def decode_run_request(data: Any) -> RunRequest:
    """The ``RunRequest`` in a push CloudEvent's ``data`` (``{"message": {"data": base64}}``).

    Raises :class:`MalformedRequest` saying what is wrong.
    """
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise MalformedRequest(
            f"expected a Pub/Sub push body with a 'message' object, got {type(data).__name__}"
        )
    encoded = message.get("data")
    if not isinstance(encoded, str) or not encoded:
        raise MalformedRequest("the Pub/Sub message has no data; expected a JSON RunRequest")
    try:
        raw = base64.b64decode(encoded, validate=True)
        body = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest(
            f"the message data is not base64-encoded JSON ({exc}); expected a RunRequest object"
        ) from exc
    try:
        return RunRequest.model_validate(body)
    except ValidationError as exc:
        problems = validation_problems(exc, whole="body")
        raise MalformedRequest(f"the message is not a valid RunRequest: {problems}") from exc


def delivery_count(data: Any, *, default: int = names.MAX_DELIVERY_ATTEMPTS) -> int:
    """How often the dead-lettered message was delivered (its Pub/Sub attribute), or ``default``."""
    message = data.get("message") if isinstance(data, dict) else None
    attributes = message.get("attributes") if isinstance(message, dict) else None
    raw = attributes.get(DEAD_LETTER_COUNT_ATTRIBUTE) if isinstance(attributes, dict) else None
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


Outcome = Literal["completed", "finished", "already_finished", "failed"]


def _republish_terminal(store: RunStore, sink: EventSinkOnFirestore, last_seq: int) -> None:
    """A terminal run whose terminal event's publish was never confirmed: publish it again."""
    event = store.read(last_seq)
    if event is not None:
        sink.publish(event)
        sink.flush()
    store.mark_terminal_published()


def _claim_after_dead_lease(store: RunStore, settings: Settings) -> Claim:
    """Claim the run; if another delivery's lease is live, wait once for it to expire
    (at most one lease period) and claim again.

    A lease outlives its delivery only when the process died (a delivery that fails
    releases it). Nacking at once would spend the request's few delivery attempts
    while the lease runs out (the local emulator retries every few seconds) and
    dead-letter a run that only needed to wait. A holder that is alive renews its
    lease with every event, so the second claim is ``busy`` and the request is
    nacked as before.
    """
    claim = store.claim()
    if claim.action != "busy" or claim.lease_expires_at is None:
        return claim
    wait = (claim.lease_expires_at - datetime.now(UTC)).total_seconds() + LEASE_MARGIN_SECONDS
    if wait > settings.lease_seconds + LEASE_MARGIN_SECONDS:
        return claim
    log.info(
        "another delivery holds run %s until %s; waiting %.1f s for its lease",
        store.request.run_id,
        claim.lease_expires_at,
        wait,
        extra=fields(run_id=store.request.run_id, user_id=store.request.user_id),
    )
    time.sleep(max(0.0, wait))
    return store.claim()


def handle_run_request(
    request: RunRequest,
    *,
    db: firestore.Client,
    publisher: PublisherClient,
    topic: str,
    settings: Settings,
    narrator: Narrator | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Claim the run and run its agents to the terminal event.

    Raises :class:`RunBusy` when another delivery holds a live lease, and lets
    storage failures and bugs propagate (the caller fails the delivery so Pub/Sub
    redelivers it); on any exception this delivery's lease is released first.
    """
    store = RunStore(
        db, request, lease_owner=f"run-{uuid.uuid4().hex}", lease_seconds=settings.lease_seconds
    )
    claim = _claim_after_dead_lease(store, settings)
    sink = EventSinkOnFirestore(store, publisher, topic)
    sink.resume()
    if claim.action == "busy":
        raise RunBusy(
            f"run {request.run_id} is being worked on by another delivery until "
            f"{claim.lease_expires_at}; retry later"
        )
    if claim.action == "finished":
        if not claim.terminal_published:
            _republish_terminal(store, sink, claim.last_seq)
        return "finished"
    log.info(
        "run claimed; resuming after %d stored events",
        claim.last_seq,
        extra=fields(run_id=request.run_id, user_id=request.user_id),
    )
    deadline = monotonic() + settings.deadline_seconds

    def checkpoint() -> None:
        if settings.step_delay_seconds:
            time.sleep(settings.step_delay_seconds)
        control = store.read_control()
        if control.status in TERMINAL_STATUSES:
            raise RunAlreadyFinished(f"run {request.run_id} is {control.status}")
        if control.cancel_requested:
            raise RunCancelled("The run was cancelled at your request.")
        if monotonic() > deadline:
            raise RunTimedOut(
                f"The analysis did not finish within {settings.deadline_seconds:g} seconds; "
                "please try again."
            )

    emitter = RunEmitter(sink, run_id=request.run_id, thread_id=request.thread_id)
    supervisor = Supervisor(
        emitter,
        ToolContext(
            request=request,
            usage=UsageStore(db, request.user_id),
            previous_query=_previous_query(store, request),
        ),
        narrator or TemplateNarrator(),
        checkpoint,
    )
    try:
        supervisor.run()
        sink.flush()
    except BaseException:
        store.release_lease()
        raise
    if emitter.terminal is None:
        return "already_finished"
    store.mark_terminal_published()
    return "completed" if emitter.terminal["type"] == "agent_completed" else "failed"


def _previous_query(store: RunStore, request: RunRequest) -> Query | None:
    """The thread's last query, or ``None`` (none yet, or stored by another version: logged)."""
    stored = store.last_query()
    if stored is None:
        return None
    try:
        return query_from_json(stored)
    except InvalidQuery as exc:
        log.warning(
            "the thread's last query cannot be read; the message is read on its own: %s",
            exc.message,
            extra=fields(run_id=request.run_id, user_id=request.user_id),
        )
        return None


def handle_dead_letter_request(
    request: RunRequest,
    *,
    db: firestore.Client,
    publisher: PublisherClient,
    topic: str,
    attempts: int,
) -> Outcome:
    """Fail a run whose request was dead-lettered: terminal ``agent_error``, status ``failed``."""
    store = RunStore(db, request, lease_owner=f"dlq-{uuid.uuid4().hex}", lease_seconds=0)
    sink = EventSinkOnFirestore(store, publisher, topic)
    sink.resume()
    claim_last_seq = 0
    with translated(f"reading run {request.run_id}"):
        control = store.run_ref.get()
    if control.exists:
        data = control.to_dict() or {}
        claim_last_seq = int(data.get("last_seq") or 0)
        if data.get("user_id") == request.user_id and data.get("status") in TERMINAL_STATUSES:
            if not data.get("terminal_published", True):
                _republish_terminal(store, sink, claim_last_seq)
            return "finished"
    message = f"Your request could not be processed after {attempts} attempts. Please try again."
    payload = {"code": "failed", "message": message, "retryable": True}
    emitter = RunEmitter(
        sink, run_id=request.run_id, thread_id=request.thread_id, first_seq=claim_last_seq + 1
    )
    event = emitter.finish(
        "supervisor",
        "agent_error",
        TerminalOutcome(status="failed", message_text=message, error=payload),
        **payload,
    )
    if event is None:
        return "already_finished"
    store.mark_terminal_published()
    return "failed"
