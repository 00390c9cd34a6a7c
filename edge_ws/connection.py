"""One WebSocket connection after the handshake: its frame loop, its event delivery.

A :class:`Session` runs three things for one socket:

* the **frame loop** reads client frames one at a time, in order, and answers
  each (:meth:`Session._handle_frame` is the top of the per-frame work: every
  failure becomes an ``error`` frame and the connection stays open). Each frame
  first takes a token of the user's frame budget, shared by every socket of the
  user on this instance (:class:`UserBudgets`); reads are then charged the
  documents they touched, and ``user_message`` also takes a message token;
* the **deliverer** sends run events. Everything that delivers events goes
  through one queue, consumed in order by one task: live events handed over by
  the router, ``resume`` replays and gap refills. Because a replay is an item of
  that queue, live events that arrive while it reads Firestore wait behind it
  and are then deduplicated against what was replayed: no gap, no duplicate.
  Per run, :class:`~edge_ws.routing.RunCursors` decides what is sent. When no
  item arrives for ``EDGE_TAIL_CHECK_SECONDS`` while runs the socket follows are
  unfinished, their events past the cursor are read from Firestore: a stalled
  events stream or a lost subscription delays events, it never loses them;
* the **watchdog** closes the socket when the token expires (1008) or the
  connection's lifetime is reached (1001, so the client reconnects and resumes
  before Cloud Run's request timeout cuts it).

Cancellation: when the socket closes (or the server shuts down), the frame loop
ends, the session leaves the registry, and the deliverer, the watchdog and any
scheduled refill are cancelled; a frame being handled at that moment is
abandoned (a ``user_message`` that already committed its transaction is safe to
re-send: the run id is the key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from apex_core.errors import ApexError
from apex_core.logs import fields
from apex_core.protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    Cancel,
    ClientFrame,
    GetThread,
    ListThreads,
    Ping,
    Resume,
    RunRequest,
    UserMessage,
    cancel_requested_frame,
    connection_ready_frame,
    error_frame,
    message_accepted_frame,
    parse_client_frame,
    pong_frame,
    rfc3339,
    thread_frame,
    threads_frame,
)
from edge_ws.bus import RequestPublisher
from edge_ws.failures import RateLimited
from edge_ws.handshake import Handshake
from edge_ws.ratelimit import Budgets, Strikes
from edge_ws.routing import Frame, Registry, RunCursors
from edge_ws.settings import EdgeSettings
from edge_ws.store import EdgeStore

log = logging.getLogger(__name__)

REFILL_BACKOFF_SECONDS = (0.1, 0.25, 0.5, 1.0)
CLOSE_REASON_LIFETIME = "connection lifetime reached, reconnect and resume"
CLOSE_REASON_EXPIRED = "token expired, reconnect with a fresh token"
CLOSE_REASON_BEHIND = "too far behind, reconnect and resume"
CLOSE_REASON_FLOOD = "rate limit exceeded repeatedly"
CLOSE_REASON_TOO_MANY = "too many connections for this user"


@dataclass(frozen=True, slots=True)
class UserBudgets:
    """Every socket of a user on this instance draws on the same budgets."""

    frames: Budgets  # one token a frame, plus one per document a read touched
    messages: Budgets  # one token a user_message

    @classmethod
    def from_settings(cls, settings: EdgeSettings) -> UserBudgets:
        return cls(
            frames=Budgets(per_minute=settings.limits.user_budget_per_minute),
            messages=Budgets(per_minute=settings.limits.user_messages_per_minute),
        )


@dataclass(frozen=True, slots=True)
class EdgeServices:
    """What every session of one process shares."""

    settings: EdgeSettings
    store: EdgeStore
    publisher: RequestPublisher
    registry: Registry[Session]
    budgets: UserBudgets


@dataclass(frozen=True, slots=True)
class _Live:
    frame: Frame


@dataclass(frozen=True, slots=True)
class _Replay:
    run_id: str
    after_seq: int


@dataclass(frozen=True, slots=True)
class _Refill:
    run_id: str


@dataclass(frozen=True, slots=True)
class _Tail:
    """No event for a while: read an unfinished run's events past the cursor from the store."""

    run_id: str


_Item = _Live | _Replay | _Refill | _Tail


class Session:
    """One authenticated socket."""

    def __init__(self, ws: ServerConnection, handshake: Handshake, services: EdgeServices):
        self._ws = ws
        self._handshake = handshake
        self._services = services
        self._settings = services.settings
        self.user_id = handshake.identity.user_id
        self.connection_id = handshake.connection_id
        self._cursors = RunCursors()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._budgets = services.budgets
        # Refusals in a row, per budget: a ping that passes does not forgive a flood of
        # refused messages.
        strikes = self._settings.limits.rate_limit_strikes
        self._strikes = {"frames": Strikes(limit=strikes), "messages": Strikes(limit=strikes)}
        self._gap_since: dict[str, float] = {}
        self._refills: dict[str, asyncio.TimerHandle] = {}
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Serve the socket until it closes; never raises."""
        registry = self._services.registry
        if registry.count(self.user_id) >= self._settings.limits.max_sockets_per_user:
            await self._ws.close(CLOSE_POLICY, CLOSE_REASON_TOO_MANY)
            return
        registry.add(self.user_id, self)
        deliverer = asyncio.create_task(self._deliver_forever(), name="deliver")
        watchdog = asyncio.create_task(self._close_at_deadline(), name="watchdog")
        log.info("connected", extra=self._fields(demo=self._handshake.identity.demo))
        try:
            await self._send(
                connection_ready_frame(
                    connection_id=self.connection_id,
                    user_id=self.user_id,
                    demo=self._handshake.identity.demo,
                    session_token=self._handshake.session_token,
                )
            )
            async for raw in self._ws:
                await self._handle_frame(raw)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection loop failed", extra=self._fields())
        finally:
            registry.remove(self.user_id, self)
            for handle in self._refills.values():
                handle.cancel()
            tasks = [deliverer, watchdog, *self._background]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info(
                "disconnected",
                extra=self._fields(close_code=self._ws.close_code, reason=self._ws.close_reason),
            )

    def _fields(self, **more: Any) -> dict[str, Any]:
        return fields(connection_id=self.connection_id, user_id=self.user_id, **more)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(frame, separators=(",", ":"), ensure_ascii=False))

    def _close_soon(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        task = asyncio.create_task(self._ws.close(code, reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_at_deadline(self) -> None:
        lifetime = self._settings.timeouts.max_connection_seconds
        expires_in = (
            None if self._handshake.expires_at is None else self._handshake.expires_at - time.time()
        )
        if expires_in is not None and expires_in < lifetime:
            await asyncio.sleep(max(0.0, expires_in))
            log.info("token expired; closing", extra=self._fields())
            await self._ws.close(CLOSE_POLICY, CLOSE_REASON_EXPIRED)
        else:
            await asyncio.sleep(lifetime)
            log.info("lifetime reached; closing", extra=self._fields())
            await self._ws.close(CLOSE_GOING_AWAY, CLOSE_REASON_LIFETIME)

    # ------------------------------------------------------------ client frames

    async def _handle_frame(self, raw: str | bytes) -> None:
        """The top of the per-frame work: answer the frame or an ``error``; never raise
        (except ConnectionClosed, which ends the loop)."""
        frame: ClientFrame | None = None
        try:
            self._spend(self._budgets.frames, "frames", per="a minute, reads counted by document")
            frame = parse_client_frame(raw)
            await self._answer(frame)
        except ConnectionClosed:
            raise
        except RateLimited as exc:
            flooding = self._strikes[exc.budget].refused()
            if flooding:
                log.warning("closing a flooding connection", extra=self._fields())
            await self._send(
                error_frame(
                    exc.code,
                    exc.message + ("; closing the connection" if flooding else ""),
                    retryable=True,
                    retry_after_ms=int(exc.retry_after_seconds * 1000),
                    **_correlation(frame),
                )
            )
            if flooding:
                self._close_soon(CLOSE_POLICY, CLOSE_REASON_FLOOD)
        except ApexError as exc:
            log.info(
                "frame refused: %s",
                exc.message,
                extra=self._fields(code=exc.code, **_correlation(frame)),
            )
            await self._send(
                error_frame(exc.code, exc.message, retryable=exc.retryable, **_correlation(frame))
            )
        except Exception:
            log.exception("frame handler failed", extra=self._fields(**_correlation(frame)))
            await self._send(
                error_frame(
                    "internal",
                    "the server failed to handle this frame; it has been logged",
                    retryable=True,
                    **_correlation(frame),
                )
            )

    def _spend(self, budgets: Budgets, what: str, *, per: str) -> None:
        """Take one token of ``budgets`` for this user or raise :class:`RateLimited`."""
        wait = budgets.take(self.user_id, 1, time.monotonic())
        if wait is not None:
            raise RateLimited(
                f"too many {what}: at most {budgets.per_minute} {per} for each user; "
                f"retry in {wait:.1f} s",
                retry_after_seconds=wait,
                budget=what,
            )
        self._strikes[what].allowed()

    def _charge_reads(self, documents: int) -> None:
        """Documents a read touched, charged to the user's frame budget after the fact."""
        self._budgets.frames.charge(self.user_id, documents, time.monotonic())

    async def _answer(self, frame: ClientFrame) -> None:
        store = self._services.store
        match frame:
            case UserMessage():
                await self._accept_message(frame)
            case Resume(run_id=run_id, after_seq=after_seq):
                # Queued behind the live events already handed over, so the replay
                # and the live tail are one ordered stream (see the module docstring).
                self._enqueue(_Replay(run_id=run_id, after_seq=after_seq))
            case GetThread(thread_id=thread_id, cursor=cursor, limit=limit):
                history = await store.thread_history(
                    user_id=self.user_id, thread_id=thread_id, cursor=cursor, limit=limit
                )
                self._charge_reads(1 + len(history.messages) + len(history.runs))
                await self._send(thread_frame(history))
            case ListThreads():
                threads = await store.thread_listing(user_id=self.user_id)
                self._charge_reads(len(threads))
                await self._send(threads_frame(threads))
            case Cancel(run_id=run_id):
                await store.request_cancel(user_id=self.user_id, run_id=run_id)
                log.info("cancel requested", extra=self._fields(run_id=run_id))
                await self._send(cancel_requested_frame(run_id))
            case Ping():
                await self._send(pong_frame())

    async def _accept_message(self, frame: UserMessage) -> None:
        self._spend(self._budgets.messages, "messages", per="a minute")
        accepted = await self._services.store.accept_message(
            user_id=self.user_id,
            text=frame.text,
            thread_id=frame.thread_id,
            client_message_id=frame.client_message_id,
        )
        # Follow before publishing: the run's first event may come back at once.
        self._cursors.follow(accepted.run_id)
        context = self._fields(run_id=accepted.run_id, thread_id=accepted.thread_id)
        if accepted.created or accepted.status == "queued":
            await self._services.publisher.publish_request(
                RunRequest(
                    run_id=accepted.run_id,
                    thread_id=accepted.thread_id,
                    user_id=self.user_id,
                    text=accepted.text,
                    client_message_id=accepted.client_message_id,
                    submitted_at=rfc3339(accepted.submitted_at),
                )
            )
            log.info("request published", extra={**context, **fields(resent=not accepted.created)})
        else:
            log.info("message already accepted", extra=context)
        await self._send(
            message_accepted_frame(
                client_message_id=frame.client_message_id,
                thread_id=accepted.thread_id,
                run_id=accepted.run_id,
            )
        )

    # ------------------------------------------------------------ run events

    def offer_live(self, frame: Frame) -> None:
        """A live run event of this user (called on the loop by the router)."""
        self._enqueue(_Live(frame))

    def _enqueue(self, item: _Item) -> None:
        if self._queue.qsize() >= self._settings.limits.max_queued_events:
            if not self._closing:
                log.warning("event backlog full; closing", extra=self._fields())
            self._close_soon(CLOSE_GOING_AWAY, CLOSE_REASON_BEHIND)
            return
        self._queue.put_nowait(item)

    async def _deliver_forever(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._settings.timeouts.tail_check_seconds):
                    item = await self._queue.get()
            except TimeoutError:
                for run_id in self._cursors.unfinished():
                    self._enqueue(_Tail(run_id))
                continue
            try:
                await self._deliver(item)
            except ConnectionClosed:
                return
            except ApexError as exc:
                await self._delivery_failed(item, exc.code, exc.message, exc.retryable)
            except Exception:
                log.exception("event delivery failed", extra=self._fields())
                await self._delivery_failed(
                    item,
                    "internal",
                    "the server failed to deliver events; it has been logged",
                    True,
                )

    async def _delivery_failed(self, item: _Item, code: str, message: str, retryable: bool) -> None:
        if isinstance(item, _Tail):  # the next quiet period checks again
            log.warning("checking a run's tail failed: %s", message, extra=self._fields())
            return
        if isinstance(item, _Replay):
            await self._send(
                error_frame(
                    code, message, retryable=retryable, request_type="resume", run_id=item.run_id
                )
            )
            return
        run_id = item.run_id if isinstance(item, _Refill) else str(item.frame.get("run_id"))
        log.warning("filling a gap failed: %s", message, extra=self._fields(run_id=run_id))
        started = self._gap_since.setdefault(run_id, time.monotonic())
        if time.monotonic() - started < self._settings.timeouts.gap_wait_seconds:
            self._schedule_refill(run_id)
            return
        # The store stays unreachable: do not hold the run's later events forever.
        self._gap_since.pop(run_id, None)
        await self._send_all(self._cursors.skip_gap(run_id))

    async def _deliver(self, item: _Item) -> None:
        match item:
            case _Live(frame=frame):
                delivery = self._cursors.offer(frame)
                await self._send_all(delivery.send)
                run_id = str(frame["run_id"])
                if delivery.missing is not None and run_id not in self._refills:
                    await self._fill_gap(run_id)
            case _Replay(run_id=run_id, after_seq=after_seq):
                await self._services.store.owned_run(user_id=self.user_id, run_id=run_id)
                self._cursors.follow(run_id, after_seq=after_seq)
                stored = await self._services.store.events_after(
                    run_id, self._cursors.last_sent(run_id)
                )
                self._charge_reads(1 + len(stored))
                delivery = self._cursors.fill(run_id, stored)
                await self._send_all(delivery.send)
                log.info(
                    "resumed",
                    extra=self._fields(
                        run_id=run_id, after_seq=after_seq, replayed=len(delivery.send)
                    ),
                )
                if delivery.missing is not None:
                    self._schedule_refill(run_id)
            case _Refill(run_id=run_id):
                self._refills.pop(run_id, None)
                await self._fill_gap(run_id)
            case _Tail(run_id=run_id):
                stored = await self._services.store.events_after(
                    run_id, self._cursors.last_sent(run_id)
                )
                delivery = self._cursors.fill(run_id, stored)
                if delivery.send:
                    log.warning(
                        "the events stream missed %d events; sent them from the store",
                        len(delivery.send),
                        extra=self._fields(run_id=run_id),
                    )
                await self._send_all(delivery.send)

    async def _fill_gap(self, run_id: str) -> None:
        """Read a followed run's missing seqs from Firestore; wait a little for them
        if they are not stored yet, then give up and send what is held."""
        missing = self._cursors.missing(run_id)
        if missing is None:
            self._gap_since.pop(run_id, None)
            return
        low, high = missing
        stored = await self._services.store.events_after(run_id, low - 1, through=high)
        delivery = self._cursors.fill(run_id, stored)
        await self._send_all(delivery.send)
        if delivery.missing is None:
            self._gap_since.pop(run_id, None)
            return
        started = self._gap_since.setdefault(run_id, time.monotonic())
        if time.monotonic() - started < self._settings.timeouts.gap_wait_seconds:
            self._schedule_refill(run_id)
            return
        gap = delivery.missing
        log.warning(
            "events %d..%d never arrived; sending the later ones anyway",
            gap[0],
            gap[1],
            extra=self._fields(run_id=run_id),
        )
        self._gap_since.pop(run_id, None)
        await self._send_all(self._cursors.skip_gap(run_id))

    def _schedule_refill(self, run_id: str) -> None:
        if run_id in self._refills:
            return
        waited = time.monotonic() - self._gap_since.get(run_id, time.monotonic())
        delay = next(
            (d for d in REFILL_BACKOFF_SECONDS if d > waited / 4), REFILL_BACKOFF_SECONDS[-1]
        )
        loop = asyncio.get_running_loop()
        self._refills[run_id] = loop.call_later(delay, self._enqueue, _Refill(run_id))

    async def _send_all(self, frames: list[Frame]) -> None:
        for frame in frames:
            await self._send(frame)


def _correlation(frame: ClientFrame | None) -> dict[str, Any]:
    """Fields that tie an ``error`` answer to the frame it answers."""
    if frame is None:
        return {}
    found = {"request_type": frame.type}
    for name in ("client_message_id", "thread_id", "run_id"):
        value = getattr(frame, name, None)
        if value is not None:
            found[name] = value
    return found
