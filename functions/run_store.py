"""Firestore and Pub/Sub side of a run: claim with a lease, events, terminal transition.

Everything here is scoped by the request's ``user_id``: a stored run, thread or
event that belongs to someone else is never read into a run or written over.
google-api-core errors are translated at this boundary with
:func:`apex_core.google_errors.translated` (``Unavailable`` for what a redelivery
may fix, ``BackendError`` for what it cannot), except ``AlreadyExists`` on an
event, which is the replay signal.

Run document fields written here, beyond ``apex_core.schema.queued_run_doc``:
``lease_owner`` (the delivery holding the run), ``lease_expires_at`` (renewed
with every event), ``attempts`` (deliveries that claimed it) and
``terminal_published`` (the terminal event was acknowledged by Pub/Sub; a
redelivery of a finished run republishes it otherwise).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient

from apex_core import schema
from apex_core.errors import Unavailable
from apex_core.google_errors import translated
from apex_core.logs import fields
from apex_core.protocol import TERMINAL_STATUSES, RunRequest
from functions.emitter import Event, TerminalOutcome
from functions.errors import RunNotOwned

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 60.0


ClaimAction = Literal["run", "finished", "busy"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a delivery should do with its run.

    ``run``: the delivery owns the run now and resumes after ``last_seq`` stored
    events; ``finished``: the run is terminal (republish its terminal event if
    ``terminal_published`` is false); ``busy``: another delivery holds a live lease.
    """

    action: ClaimAction
    last_seq: int = 0
    terminal_published: bool = True
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunControl:
    status: str
    cancel_requested: bool


class RunStore:
    """The run document and its events, for one request, as one lease owner."""

    def __init__(
        self,
        db: firestore.Client,
        request: RunRequest,
        *,
        lease_owner: str,
        lease_seconds: float,
    ) -> None:
        self.db = db
        self.request = request
        self.lease_owner = lease_owner
        self.lease = timedelta(seconds=lease_seconds)
        self.run_ref = db.document(schema.run_path(request.run_id))
        self.thread_ref = db.document(schema.thread_path(request.thread_id))

    def event_ref(self, seq: int) -> firestore.DocumentReference:
        return self.db.document(schema.event_path(self.request.run_id, seq))

    # ------------------------------------------------------------ ownership

    def _check_owner(self, data: dict[str, Any], what: str) -> None:
        req = self.request
        if data.get("user_id") != req.user_id:
            raise RunNotOwned(
                f"{what} belongs to another user than the request's user {req.user_id!r}; "
                "ignoring the request"
            )
        if what.startswith("run") and data.get("thread_id") != req.thread_id:
            raise RunNotOwned(
                f"{what} is in thread {data.get('thread_id')!r}, the request names "
                f"{req.thread_id!r}; ignoring the request"
            )

    def _ensure_thread(self, tx: firestore.Transaction, thread: Any, now: datetime) -> None:
        """Create the thread and the user's message when the edge's write is missing."""
        req = self.request
        if thread.exists:
            self._check_owner(thread.to_dict() or {}, f"thread {req.thread_id}")
            return
        tx.create(
            self.thread_ref,
            schema.new_thread_doc(user_id=req.user_id, text=req.text, run_id=req.run_id, now=now),
        )
        tx.set(
            self.db.document(
                schema.message_path(req.thread_id, schema.user_message_id(req.run_id))
            ),
            schema.message_doc(
                user_id=req.user_id, role="user", text=req.text, run_id=req.run_id, now=now
            ),
        )

    def _new_run_doc(self, now: datetime) -> dict[str, Any]:
        req = self.request
        return schema.queued_run_doc(
            user_id=req.user_id,
            thread_id=req.thread_id,
            client_message_id=req.client_message_id,
            now=now,
        )

    def last_query(self) -> dict[str, Any] | None:
        """The thread's ``last_query`` (what a follow-up refines), ``None`` if it has none."""
        with translated(f"reading thread {self.request.thread_id}"):
            snap = self.thread_ref.get()
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        self._check_owner(data, f"thread {self.request.thread_id}")
        stored = data.get(schema.LAST_QUERY)
        return stored if isinstance(stored, dict) else None

    # ------------------------------------------------------------ claim

    def claim(self) -> Claim:
        """Take the run for this delivery, in one transaction (see :class:`Claim`)."""

        @firestore.transactional
        def claim_in(tx: firestore.Transaction) -> Claim:
            now = datetime.now(UTC)
            run = self.run_ref.get(transaction=tx)
            lease = {
                "status": "running",
                "updated_at": now,
                "lease_owner": self.lease_owner,
                "lease_expires_at": now + self.lease,
                "attempts": firestore.Increment(1),
            }
            if not run.exists:
                thread = self.thread_ref.get(transaction=tx)
                self._ensure_thread(tx, thread, now)
                tx.create(self.run_ref, {**self._new_run_doc(now), **lease, "started_at": now})
                log.warning(
                    "run document was missing (did the edge fail after publishing?); created it",
                    extra=fields(run_id=self.request.run_id, user_id=self.request.user_id),
                )
                return Claim("run", last_seq=0)
            data = run.to_dict() or {}
            self._check_owner(data, f"run {self.request.run_id}")
            last_seq = int(data.get("last_seq") or 0)
            if data.get("status") in TERMINAL_STATUSES:
                return Claim(
                    "finished",
                    last_seq=last_seq,
                    terminal_published=bool(data.get("terminal_published", True)),
                )
            expires = data.get("lease_expires_at")
            if (
                data.get("status") == "running"
                and data.get("lease_owner") not in (None, self.lease_owner)
                and isinstance(expires, datetime)
                and expires > now
            ):
                return Claim("busy", last_seq=last_seq, lease_expires_at=expires)
            tx.update(self.run_ref, {**lease, "started_at": data.get("started_at") or now})
            return Claim("run", last_seq=last_seq)

        with translated(f"claiming run {self.request.run_id}"):
            result: Claim = claim_in(self.db.transaction())
            return result

    def read_control(self) -> RunControl:
        """The run's status and cancel flag, read now."""
        with translated(f"reading run {self.request.run_id}"):
            snap = self.run_ref.get()
        data = snap.to_dict() or {}
        self._check_owner(data, f"run {self.request.run_id}")
        return RunControl(
            status=str(data.get("status")), cancel_requested=bool(data.get("cancel_requested"))
        )

    def release_lease(self) -> None:
        """Let the next delivery resume at once (after a failure of this one); best effort."""

        @firestore.transactional
        def release_in(tx: firestore.Transaction) -> None:
            snap = self.run_ref.get(transaction=tx)
            data = snap.to_dict() or {}
            if (
                data.get("lease_owner") == self.lease_owner
                and data.get("status") not in TERMINAL_STATUSES
            ):
                tx.update(self.run_ref, {"lease_expires_at": datetime.now(UTC)})

        try:
            release_in(self.db.transaction())
        except Exception:
            log.warning(
                "could not release the run's lease; the next delivery waits for it to expire",
                exc_info=True,
                extra=fields(run_id=self.request.run_id, user_id=self.request.user_id),
            )

    # ------------------------------------------------------------ events

    def append(self, event: Event) -> Event | None:
        """``create()`` the event at its seq with the run's ``last_seq`` and lease, in one batch."""
        seq = int(event["seq"])
        now = datetime.now(UTC)
        batch = self.db.batch()
        batch.create(self.event_ref(seq), event)
        batch.update(
            self.run_ref,
            {"last_seq": seq, "updated_at": now, "lease_expires_at": now + self.lease},
        )
        with translated(f"storing event {seq} of run {self.request.run_id}"):
            try:
                batch.commit()
            except gexc.AlreadyExists:
                pass  # a previous delivery stored this seq: the replay case
            else:
                return None
        stored = self.read(seq)
        if stored is None:
            raise Unavailable(
                f"event {seq} of run {self.request.run_id} was reported as existing but cannot "
                "be read; the request will be retried"
            )
        return stored

    def read(self, seq: int) -> Event | None:
        with translated(f"reading event {seq} of run {self.request.run_id}"):
            snap = self.event_ref(seq).get()
        if not snap.exists:
            return None
        event = snap.to_dict() or {}
        if event.get("run_id") != self.request.run_id:
            raise RunNotOwned(f"stored event {seq} names run {event.get('run_id')!r}")
        return event

    def finish(
        self, outcome: TerminalOutcome, make_event: Callable[[int], Event], min_seq: int
    ) -> Event | None:
        """The guarded terminal transition (see :class:`functions.emitter.EventSink`).

        One transaction: the terminal event at ``max(min_seq, last_seq + 1)``, the
        run's status, ``finished_at``, ``result``/``error`` and ``last_seq``, the
        assistant message, and the thread's ``updated_at``.
        """
        req = self.request

        @firestore.transactional
        def finish_in(tx: firestore.Transaction) -> Event | None:
            now = datetime.now(UTC)
            run = self.run_ref.get(transaction=tx)
            thread = self.thread_ref.get(transaction=tx)
            data = (run.to_dict() or {}) if run.exists else {}
            if run.exists:
                self._check_owner(data, f"run {req.run_id}")
                if data.get("status") in TERMINAL_STATUSES:
                    return None
            last_seq = int(data.get("last_seq") or 0)
            event = make_event(max(min_seq, last_seq + 1))
            tx.create(self.event_ref(int(event["seq"])), event)
            terminal = {
                "status": outcome.status,
                "finished_at": now,
                "updated_at": now,
                "last_seq": event["seq"],
                "result": outcome.result,
                "error": outcome.error,
                "lease_owner": None,
                "lease_expires_at": None,
                "terminal_published": False,
            }
            if run.exists:
                tx.update(self.run_ref, terminal)
            else:
                self._ensure_thread(tx, thread, now)
                tx.create(self.run_ref, {**self._new_run_doc(now), **terminal})
            tx.set(
                self.db.document(
                    schema.message_path(req.thread_id, schema.assistant_message_id(req.run_id))
                ),
                schema.message_doc(
                    user_id=req.user_id,
                    role="assistant",
                    text=outcome.message_text,
                    run_id=req.run_id,
                    now=now,
                ),
            )
            if thread.exists:
                self._check_owner(thread.to_dict() or {}, f"thread {req.thread_id}")
                thread_update: dict[str, Any] = {"updated_at": now}
                if outcome.thread_query is not None:
                    thread_update[schema.LAST_QUERY] = outcome.thread_query
                tx.update(self.thread_ref, thread_update)
            return event

        with translated(f"finishing run {req.run_id}"):
            result: Event | None = finish_in(self.db.transaction())
            return result

    def mark_terminal_published(self) -> None:
        with translated(f"marking run {self.request.run_id} published"):
            self.run_ref.update({"terminal_published": True})


@dataclass
class EventSinkOnFirestore:
    """The production :class:`functions.emitter.EventSink`: Firestore first, then Pub/Sub.

    Publishes do not block the pipeline: their futures are kept and ``flush``
    waits for all of them and raises :class:`Unavailable` if any failed (the
    delivery then fails and Pub/Sub redelivers the request).
    """

    store: RunStore
    publisher: PublisherClient
    topic: str
    pending: list[Future[str]] = field(default_factory=list)

    def append(self, event: Event) -> Event | None:
        return self.store.append(event)

    def read(self, seq: int) -> Event | None:
        return self.store.read(seq)

    def finish(
        self, outcome: TerminalOutcome, make_event: Callable[[int], Event], min_seq: int
    ) -> Event | None:
        return self.store.finish(outcome, make_event, min_seq)

    def resume(self) -> None:
        """Un-pause the run's ordering key after an earlier failed publish in this process."""
        self.publisher.resume_publish(self.topic, self.store.request.run_id)

    def publish(self, event: Event) -> None:
        req = self.store.request
        data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        with translated(f"publishing event {event['seq']} of run {req.run_id}"):
            future = self.publisher.publish(
                self.topic,
                data,
                ordering_key=req.run_id,
                user_id=req.user_id,
                run_id=req.run_id,
                type=str(event["type"]),
            )
        self.pending.append(future)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        failures = []
        for future in pending:
            try:
                future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise Unavailable(
                f"{len(failures)} of {len(pending)} event publishes of run "
                f"{self.store.request.run_id} failed (first: {failures[0]!r}); the request "
                "will be redelivered and the stored events republished"
            ) from failures[0]
