"""The edge's Firestore reads and writes (``google.cloud.firestore.AsyncClient``).

What the edge writes follows :mod:`apex_core.schema` exactly: on an accepted
``user_message``, in ONE transaction, the thread (created, or its
``updated_at``/``last_run_id``), the user message ``{run_id}-user`` and the
``queued`` run; on ``cancel``, ``cancel_requested`` on the run. Everything
else is a read.

Every call is scoped by the authenticated user: a thread or run that does not
exist and one that belongs to someone else raise the same
:class:`~apex_core.errors.NotFound`. Reads return data (the records of
:mod:`apex_core.schema`); :mod:`apex_core.protocol` makes the frames. Library errors are translated into
:mod:`apex_core.errors` (see :mod:`apex_core.google_errors`), and every call is
bounded by the store timeout.

Cancellation: a call cancelled while it waits is abandoned; a transaction
cancelled before its commit is rolled back by the client library (nothing is
written), and one cancelled during its commit may or may not have committed,
which is why accepting a message is idempotent (the run id is the key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.cloud.firestore import (
    AsyncClient,
    AsyncTransaction,
    FieldFilter,
    Query,
    async_transactional,
)

from apex_core import names, schema
from apex_core.errors import NotFound, Unavailable
from apex_core.google_errors import translated
from apex_core.protocol import DEFAULT_THREAD_PAGE, rfc3339

T = TypeVar("T")
MAX_THREADS_LISTED = 50
DOCUMENT_ID = "__name__"  # FieldPath.document_id(): ties in created_at break by message id


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A user message stored as a queued run (or found already stored)."""

    thread_id: str
    run_id: str
    text: str
    client_message_id: str | None
    submitted_at: datetime
    created: bool  # False: the same client_message_id was accepted before
    status: str


class EdgeStore:
    """Firestore for one edge process; create it inside the running loop."""

    def __init__(self, client: AsyncClient, *, timeout: float) -> None:
        self._db = client
        self._timeout = timeout

    @classmethod
    def connect(cls, project: str, *, timeout: float) -> EdgeStore:
        return cls(AsyncClient(project=project), timeout=timeout)

    async def close(self) -> None:
        """Close the gRPC channel, if one was opened (AsyncClient has no close())."""
        api = getattr(self._db, "_firestore_api_internal", None)
        if api is not None:
            await api.transport.close()

    async def _bounded(self, what: str, call: Awaitable[T]) -> T:
        with translated(what):
            async with asyncio.timeout(self._timeout):
                return await call

    # ------------------------------------------------------------ writes

    async def accept_message(
        self,
        *,
        user_id: str,
        text: str,
        thread_id: str | None,
        client_message_id: str | None,
    ) -> AcceptedMessage:
        """Store the thread, the user message and the queued run in one transaction.

        ``thread_id`` must name a thread of ``user_id`` (else ``NotFound``); without
        one a new thread is opened. If the run for this ``client_message_id``
        exists, nothing is written and the stored run is returned.
        """
        run_id = schema.run_id_for(user_id, client_message_id)
        target_thread = thread_id or schema.thread_id_for(user_id, client_message_id)
        now = datetime.now(UTC)
        db = self._db

        @async_transactional
        async def write(transaction: AsyncTransaction) -> AcceptedMessage:
            run_ref = db.document(schema.run_path(run_id))
            run_snap = await run_ref.get(transaction=transaction)
            if run_snap.exists:
                run = run_snap.to_dict() or {}
                if run.get("user_id") != user_id:
                    raise NotFound(f"run {run_id} not found")
                message_ref = db.document(
                    schema.message_path(str(run["thread_id"]), schema.user_message_id(run_id))
                )
                message = (await message_ref.get(transaction=transaction)).to_dict() or {}
                return AcceptedMessage(
                    thread_id=str(run["thread_id"]),
                    run_id=run_id,
                    text=str(message.get("text") or text),
                    client_message_id=client_message_id,
                    submitted_at=_as_datetime(run.get("created_at"), now),
                    created=False,
                    status=str(run.get("status")),
                )
            thread_ref = db.document(schema.thread_path(target_thread))
            thread_snap = await thread_ref.get(transaction=transaction)
            if thread_snap.exists:
                if (thread_snap.to_dict() or {}).get("user_id") != user_id:
                    raise NotFound(f"thread {target_thread} not found")
                transaction.update(thread_ref, {"updated_at": now, "last_run_id": run_id})
            elif thread_id is not None:
                raise NotFound(f"thread {target_thread} not found")
            else:
                transaction.create(
                    thread_ref,
                    schema.new_thread_doc(user_id=user_id, text=text, run_id=run_id, now=now),
                )
            transaction.create(
                db.document(schema.message_path(target_thread, schema.user_message_id(run_id))),
                schema.message_doc(user_id=user_id, role="user", text=text, run_id=run_id, now=now),
            )
            transaction.create(
                run_ref,
                schema.queued_run_doc(
                    user_id=user_id,
                    thread_id=target_thread,
                    client_message_id=client_message_id,
                    now=now,
                ),
            )
            return AcceptedMessage(
                thread_id=target_thread,
                run_id=run_id,
                text=text,
                client_message_id=client_message_id,
                submitted_at=now,
                created=True,
                status="queued",
            )

        try:
            return await self._bounded("storing the message", write(db.transaction()))
        except ValueError as exc:  # the library's "transaction failed after N attempts"
            raise Unavailable("storing the message met too much contention; try again") from exc

    async def request_cancel(self, *, user_id: str, run_id: str) -> None:
        """Set ``cancel_requested`` on a run of ``user_id``."""
        await self.owned_run(user_id=user_id, run_id=run_id)
        ref = self._db.document(schema.run_path(run_id))
        await self._bounded("requesting the cancel", ref.update({"cancel_requested": True}))

    # ------------------------------------------------------------ reads

    async def owned_run(self, *, user_id: str, run_id: str) -> dict[str, Any]:
        return await self._owned("run", run_id, schema.run_path(run_id), user_id)

    async def owned_thread(self, *, user_id: str, thread_id: str) -> dict[str, Any]:
        return await self._owned("thread", thread_id, schema.thread_path(thread_id), user_id)

    async def _owned(self, kind: str, doc_id: str, path: str, user_id: str) -> dict[str, Any]:
        """The document at ``path`` if it belongs to ``user_id``; a missing one and
        someone else's raise the same :class:`NotFound`."""
        snap = await self._bounded(f"reading the {kind}", self._db.document(path).get())
        doc = snap.to_dict() if snap.exists else None
        if doc is None or doc.get("user_id") != user_id:
            raise NotFound(f"{kind} {doc_id} not found")
        return doc

    async def thread_history(
        self,
        *,
        user_id: str,
        thread_id: str,
        cursor: str | None = None,
        limit: int = DEFAULT_THREAD_PAGE,
    ) -> schema.ThreadHistory:
        """One page of a thread of ``user_id``: up to ``limit`` messages oldest first,
        after the message ``cursor`` (the previous page's ``next_cursor``), and the
        runs those messages belong to. ``next_cursor`` is None on the last page."""
        thread = await self.owned_thread(user_id=user_id, thread_id=thread_id)
        thread_ref = self._db.document(schema.thread_path(thread_id))
        messages = thread_ref.collection(names.MESSAGES)
        query = messages.order_by("created_at").order_by(DOCUMENT_ID)
        if cursor is not None:
            after = await self._bounded("reading the cursor", messages.document(cursor).get())
            if not after.exists:
                raise NotFound(f"message {cursor} not found in thread {thread_id}")
            query = query.start_after(after)
        snaps = await self._bounded("reading the messages", query.limit(limit + 1).get())
        more = len(snaps) > limit
        snaps = snaps[:limit]
        page = tuple(
            schema.StoredMessage(
                message_id=snap.id,
                role=doc.get("role"),
                text=doc.get("text"),
                run_id=doc.get("run_id"),
                created_at=schema.timestamp(doc.get("created_at")),
            )
            for snap in snaps
            for doc in [snap.to_dict() or {}]
            if doc.get("user_id", user_id) == user_id
        )
        run_ids = list(dict.fromkeys(str(m.run_id) for m in page if m.run_id))
        runs = await self._owned_runs(user_id=user_id, thread_id=thread_id, run_ids=run_ids)
        return schema.ThreadHistory(
            thread_id=thread_id,
            title=thread.get("title"),
            messages=page,
            runs=runs,
            cursor=cursor,
            next_cursor=snaps[-1].id if more and snaps else None,
        )

    async def _owned_runs(
        self, *, user_id: str, thread_id: str, run_ids: list[str]
    ) -> tuple[schema.StoredRun, ...]:
        """The runs ``run_ids`` of ``user_id`` in ``thread_id``, oldest first."""
        if not run_ids:
            return ()
        refs = [self._db.document(schema.run_path(run_id)) for run_id in run_ids]

        async def read_all() -> list[Any]:
            return [snap async for snap in self._db.get_all(refs)]

        snaps = await self._bounded("reading the runs", read_all())
        found = [
            (snap.id, doc)
            for snap in snaps
            if snap.exists
            for doc in [snap.to_dict() or {}]
            if doc.get("user_id") == user_id and doc.get("thread_id") == thread_id
        ]
        found.sort(
            key=lambda item: _as_datetime(
                item[1].get("created_at"), datetime.min.replace(tzinfo=UTC)
            )
        )
        return tuple(
            schema.StoredRun(
                run_id=run_id,
                status=doc.get("status"),
                created_at=schema.timestamp(doc.get("created_at")),
                last_seq=int(doc.get("last_seq") or 0),
            )
            for run_id, doc in found
        )

    async def thread_listing(self, *, user_id: str) -> list[schema.ThreadListing]:
        """The user's threads, most recently updated first."""
        query = (
            self._db.collection(names.THREADS)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .order_by("updated_at", direction=Query.DESCENDING)
            .limit(MAX_THREADS_LISTED)
        )
        snaps = await self._bounded("listing the threads", query.get())
        return [
            schema.ThreadListing(
                thread_id=snap.id,
                title=doc.get("title"),
                updated_at=schema.timestamp(doc.get("updated_at")),
                last_run_id=doc.get("last_run_id"),
            )
            for snap in snaps
            for doc in [snap.to_dict() or {}]
        ]

    async def events_after(
        self, run_id: str, after_seq: int, *, through: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored events of ``run_id`` with ``after_seq < seq <= through``, in order.

        The caller has checked that the run belongs to its user.
        """
        query = (
            self._db.collection(names.RUNS)
            .document(run_id)
            .collection(names.EVENTS)
            .where(filter=FieldFilter("seq", ">", after_seq))
        )
        if through is not None:
            query = query.where(filter=FieldFilter("seq", "<=", through))
        snaps = await self._bounded("reading the run's events", query.order_by("seq").get())
        return [_jsonable(snap.to_dict() or {}) for snap in snaps]


def _as_datetime(value: object, default: datetime) -> datetime:
    return value if isinstance(value, datetime) else default


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
