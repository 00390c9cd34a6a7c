"""run_agent and handle_dead_letter as real processes, driven through Pub/Sub and Firestore."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from apex_core import schema
from apex_core.protocol import is_terminal_event
from tests.integration.conftest import (
    EventCollector,
    Functions,
    Submitter,
    run_doc,
    stored_events,
    wait_for,
)
from tests.run_checks import assert_complete_analysis

pytestmark = pytest.mark.emulators


def _terminals(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if is_terminal_event(e)]


def _assistant(db: firestore.Client, thread_id: str, run_id: str) -> dict[str, Any] | None:
    snap = db.document(schema.message_path(thread_id, schema.assistant_message_id(run_id))).get()
    return snap.to_dict() if snap.exists else None


def test_a_full_run(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.submit("Analyze my AI costs")

    published = events.until_terminal(request.run_id)

    final = assert_complete_analysis(published)
    assert final["result"]["total_cost_usd"] > 0
    assert all(
        attrs == {"user_id": request.user_id, "run_id": request.run_id, "type": e["type"]}
        for e, attrs in zip(published, events.attributes[request.run_id], strict=True)
    )

    assert stored_events(db, request.run_id) == published
    run = run_doc(db, request.run_id)
    assert run["status"] == "completed"
    assert run["last_seq"] == len(published)
    assert run["result"] == final["result"]
    assert run["error"] is None
    assert run["finished_at"] >= run["started_at"]
    assert run["terminal_published"] is True
    message = _assistant(db, request.thread_id, request.run_id)
    assert message is not None
    assert (message["role"], message["text"], message["user_id"]) == (
        "assistant",
        final["response"],
        request.user_id,
    )
    thread = db.document(schema.thread_path(request.thread_id)).get().to_dict() or {}
    assert thread["updated_at"] >= run["finished_at"]
    functions_stack.assert_alive()


def _delivered(functions: Functions, target: str, run_id: str, outcome: str) -> int | None:
    """How many deliveries of ``run_id`` ended with ``outcome``, once there is one."""
    done = "run delivery done" if target == "run_agent" else "dead letter handled"
    hits = functions.logged(target, run_id=run_id, message=f"{done}: {outcome}")
    return len(hits) or None


def test_the_same_request_published_twice_is_one_run(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.new_request("Analyze my AI costs")
    submitter.store(request)
    submitter.publish(request)
    submitter.publish(request)

    published = events.until_terminal(request.run_id)
    # Same ordering key: the second delivery comes once the first is acked, and finds the
    # run finished.
    wait_for(
        "the second delivery",
        lambda: _delivered(functions_stack, "run_agent", request.run_id, "finished"),
    )
    events.pull()

    published = events.by_run[request.run_id]
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1))
    assert len(_terminals(published)) == 1
    assert stored_events(db, request.run_id) == published
    messages = db.collection(schema.message_path(request.thread_id, "x").rsplit("/", 1)[0]).stream()
    assert sorted(m.id for m in messages) == sorted(
        [schema.user_message_id(request.run_id), schema.assistant_message_id(request.run_id)]
    )
    assert run_doc(db, request.run_id)["attempts"] == 1
    assert (
        len(functions_stack.logged("run_agent", run_id=request.run_id, message="run claimed")) == 1
    )


def test_a_cancel_mid_run_ends_it_with_agent_error_cancelled(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.submit("Analyze my AI costs")

    def triage_started() -> bool | None:
        return any(e["agent"] == "triage" for e in stored_events(db, request.run_id)) or None

    wait_for("triage to start", triage_started)
    db.document(schema.run_path(request.run_id)).update({"cancel_requested": True})  # as the edge

    published = events.until_terminal(request.run_id)
    final = published[-1]
    assert _terminals(published) == [final]
    assert (final["type"], final["agent"], final["code"], final["retryable"]) == (
        "agent_error",
        "supervisor",
        "cancelled",
        False,
    )
    assert "reporting" not in {e["agent"] for e in published}
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1))
    run = run_doc(db, request.run_id)
    assert run["status"] == "cancelled"
    assert run["error"]["code"] == "cancelled"
    assert run["result"] is None
    message = _assistant(db, request.thread_id, request.run_id)
    assert message is not None
    assert message["text"] == final["message"]
    assert stored_events(db, request.run_id) == published


def test_a_cancel_before_the_run_starts_ends_it_at_once(
    submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.new_request()
    submitter.store(request)
    db.document(schema.run_path(request.run_id)).update({"cancel_requested": True})
    submitter.publish(request)

    published = events.until_terminal(request.run_id)
    assert [(e["seq"], e["type"]) for e in published] == [(1, "agent_error")]
    assert published[0]["code"] == "cancelled"


def test_a_malformed_message_is_acked_and_the_next_one_runs(
    functions_stack: Functions, submitter: Submitter, events: EventCollector
) -> None:
    request = submitter.new_request()
    submitter.store(request)
    bad_id = submitter.publish_raw(
        b"this is not a run request", topic="apex-requests", ordering_key=request.thread_id
    )
    submitter.publish(request)  # same ordering key: delivered only after the bad one is acked

    events.until_terminal(request.run_id)

    malformed = functions_stack.logged("run_agent", message_id=bad_id)
    assert len(malformed) == 1, "delivered once: acked, not retried"
    assert "not base64-encoded JSON" in malformed[0]["message"]
    assert malformed[0]["severity"] == "ERROR"
    functions_stack.assert_alive()


def test_the_dead_letter_handler_fails_the_run_once(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.new_request()
    submitter.store(request)
    submitter.publish(request, topic="apex-requests-dlq", ordering=False)

    published = events.until_terminal(request.run_id)
    assert [(e["seq"], e["agent"], e["type"]) for e in published] == [
        (1, "supervisor", "agent_error")
    ]
    error = published[0]
    assert (error["code"], error["retryable"]) == ("failed", True)
    assert "after 5 attempts" in error["message"]
    run = run_doc(db, request.run_id)
    assert run["status"] == "failed"
    assert run["error"] == {"code": "failed", "message": error["message"], "retryable": True}
    message = _assistant(db, request.thread_id, request.run_id)
    assert message is not None
    assert message["text"] == error["message"]

    submitter.publish(request, topic="apex-requests-dlq", ordering=False)
    wait_for(
        "the second dead letter",
        lambda: _delivered(functions_stack, "handle_dead_letter", request.run_id, "finished"),
    )
    events.pull()
    assert events.by_run[request.run_id] == published
    assert stored_events(db, request.run_id) == published


def test_a_redelivery_after_a_crash_republishes_the_stored_prefix(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    """A delivery that stored three events and died: the next one resumes after them."""
    request = submitter.new_request()
    submitter.store(request)
    base = {
        "run_id": request.run_id,
        "thread_id": request.thread_id,
        "ts": "2000-01-01T00:00:00.000Z",
    }
    prefix = [
        {**base, "seq": 1, "type": "agent_started", "agent": "supervisor"},
        {
            **base,
            "seq": 2,
            "type": "agent_thinking",
            "agent": "supervisor",
            "text": "before the crash",
        },
        {**base, "seq": 3, "type": "agent_started", "agent": "triage"},
    ]
    batch = db.batch()
    for seq, event in enumerate(prefix, 1):
        batch.create(db.document(schema.event_path(request.run_id, seq)), event)
    past = firestore.SERVER_TIMESTAMP
    batch.update(
        db.document(schema.run_path(request.run_id)),
        {
            "status": "running",
            "last_seq": 3,
            "lease_owner": "crashed",
            "lease_expires_at": past,
            "started_at": past,
        },
    )
    batch.commit()

    submitter.publish(request)
    published = events.until_terminal(request.run_id)

    assert [e["seq"] for e in published] == list(range(1, len(published) + 1))
    assert published[:3] == prefix
    assert Counter(e["type"] for e in published if e["agent"] == "triage")["agent_started"] == 1
    assert stored_events(db, request.run_id) == published
    assert published[-1]["type"] == "agent_completed"
    run = run_doc(db, request.run_id)
    assert (run["status"], run["attempts"]) == ("completed", 1)
    assert functions_stack.logged(
        "run_agent", run_id=request.run_id, message="resuming after 3 stored events"
    )


def test_a_run_held_by_a_live_lease_waits_for_it(
    functions_stack: Functions, submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    """Another delivery's live lease (its process died): the delivery waits for it to expire."""
    request = submitter.new_request()
    submitter.store(request)
    lease_until = datetime.now(UTC) + timedelta(seconds=2)
    db.document(schema.run_path(request.run_id)).update(
        {"status": "running", "lease_owner": "someone-else", "lease_expires_at": lease_until}
    )
    submitter.publish(request)

    published = events.until_terminal(request.run_id)

    assert published[-1]["type"] == "agent_completed"
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1))
    waited = functions_stack.logged("run_agent", run_id=request.run_id, message="for its lease")
    assert waited, "the first delivery met the live lease and waited for it"
    assert run_doc(db, request.run_id)["started_at"] >= lease_until - timedelta(seconds=1)


def test_a_request_for_another_users_run_is_ignored(
    functions_stack: Functions, submitter: Submitter, db: firestore.Client
) -> None:
    owner = submitter.new_request()
    submitter.store(owner)
    intruder = owner.model_copy(update={"user_id": "demo-user-intruder"})
    submitter.publish(intruder)

    wait_for(
        "the intruder's request to be acked",
        lambda: (
            functions_stack.logged("run_agent", run_id=owner.run_id, message="another user") or None
        ),
    )
    run = run_doc(db, owner.run_id)
    assert (run["status"], run["last_seq"]) == ("queued", 0)
    assert stored_events(db, owner.run_id) == []


def test_a_greeting_is_answered_briefly(
    submitter: Submitter, events: EventCollector, db: firestore.Client
) -> None:
    request = submitter.submit("hello!")
    published = events.until_terminal(request.run_id)
    assert {e["agent"] for e in published} == {"supervisor", "triage"}
    assert published[-1]["final"] is True
    assert published[-1]["result"]["intent"] == "off_topic"
    assert run_doc(db, request.run_id)["status"] == "completed"
