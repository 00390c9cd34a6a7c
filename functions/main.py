"""functions-framework source: the three Cloud Run functions of Netra Apex.

* ``run_agent`` — push from ``apex-requests-push``: run the agents for one request;
* ``handle_dead_letter`` — push from ``apex-requests-dlq-push``: fail the run of a
  request that could not be processed;
* ``ingest_usage`` — HTTP usage upload (``functions/ingest.py``).

Started as ``python -m functions_framework --source functions/main.py --target
<name>``. An exception makes functions-framework answer 500, and Pub/Sub
redelivers the message; returning normally acks it.
"""

from __future__ import annotations

import functools
import logging

import functions_framework
from cloudevents.http import CloudEvent

from apex_core import names
from apex_core.logs import configure_logging, fields
from functions import clients
from functions.delivery import (
    Settings,
    decode_run_request,
    delivery_count,
    handle_dead_letter_request,
    handle_run_request,
)
from functions.errors import MalformedRequest, RunBusy, RunNotOwned
from functions.ingest import ingest_usage

__all__ = ["handle_dead_letter", "ingest_usage", "run_agent"]

log = logging.getLogger("functions")


@functools.cache
def _configure_logging(service: str) -> None:
    """Configure structured logs once per process (each process serves one target)."""
    configure_logging(service)


def _message_id(event: CloudEvent) -> str | None:
    data = event.data
    message = data.get("message") if isinstance(data, dict) else None
    value = message.get("messageId") if isinstance(message, dict) else None
    return str(value) if value is not None else None


@functions_framework.cloud_event
def run_agent(event: CloudEvent) -> None:
    """Run the agents for one ``RunRequest`` pushed from ``apex-requests``.

    A malformed message (not base64 JSON, not a valid ``RunRequest``) is logged
    with the reason and acked by returning normally: redelivering it can never
    succeed. So is a request whose user does not own the stored run or thread.
    A run another delivery is working on (live lease), a storage failure or a
    bug raises, so the message is redelivered; the redelivery resumes the run
    from its stored events.
    """
    _configure_logging(names.RUN_AGENT_FUNCTION)
    message_id = _message_id(event)
    try:
        request = decode_run_request(event.data)
    except MalformedRequest as exc:
        log.error(
            "malformed run request acked without processing: %s",
            exc.message,
            extra=fields(message_id=message_id),
        )
        return
    context = fields(run_id=request.run_id, user_id=request.user_id, message_id=message_id)
    try:
        outcome = handle_run_request(
            request,
            db=clients.firestore_client(),
            publisher=clients.event_publisher(),
            topic=clients.events_topic(),
            settings=Settings.from_env(),
        )
    except RunNotOwned as exc:
        log.error("run request acked without processing: %s", exc.message, extra=context)
        return
    except RunBusy as exc:
        log.warning("run request not processed now: %s", exc.message, extra=context)
        raise
    except Exception:
        log.exception("run delivery failed; Pub/Sub will redeliver the request", extra=context)
        raise
    log.info("run delivery done: %s", outcome, extra=context)


@functions_framework.cloud_event
def handle_dead_letter(event: CloudEvent) -> None:
    """Fail the run of a dead-lettered ``RunRequest`` (idempotent; malformed ones are acked)."""
    _configure_logging(names.DEAD_LETTER_FUNCTION)
    message_id = _message_id(event)
    try:
        request = decode_run_request(event.data)
    except MalformedRequest as exc:
        log.error(
            "malformed dead letter acked: %s", exc.message, extra=fields(message_id=message_id)
        )
        return
    context = fields(run_id=request.run_id, user_id=request.user_id, message_id=message_id)
    try:
        outcome = handle_dead_letter_request(
            request,
            db=clients.firestore_client(),
            publisher=clients.event_publisher(),
            topic=clients.events_topic(),
            attempts=delivery_count(event.data),
        )
    except RunNotOwned as exc:
        log.error("dead letter acked without processing: %s", exc.message, extra=context)
        return
    except Exception:
        log.exception("dead letter handling failed; Pub/Sub will redeliver it", extra=context)
        raise
    log.info("dead letter handled: %s", outcome, extra=context)
