"""One ``apex.v1`` WebSocket session for the terminal client, with reconnect and resume.

:class:`ApexSession` owns the socket: it connects (``Authorization: Bearer`` when
there is a token; no credentials makes the edge give a demo identity), reads the
``connection_ready`` frame, keeps the demo ``session_token`` so that every
reconnect is the same demo user, and reconnects with exponential backoff and
jitter when the edge goes away (1001 when it rotates, a dropped TCP connection).

:meth:`ApexSession.send_message` and :meth:`ApexSession.follow_run` are the two
steps of a chat turn; both survive a reconnect: a message is re-sent with the
same ``client_message_id`` (the edge answers with the same run and starts
nothing new) and a run is followed again with ``resume`` from the last ``seq``
seen, dropping any event already seen.

Tokens are never printed: :func:`redact` removes them from frames before
anything shows them.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.typing import Subprotocol

from apex_core.protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    MAX_TEXT_CHARS,
    PROTOCOL,
    is_terminal_event,
)

Frame = dict[str, Any]
FrameHandler = Callable[[Frame], None]
NoticeHandler = Callable[[str], None]

# Server frames can be large (a final report with its structured result).
MAX_SERVER_FRAME_BYTES: Final = 4 * 1024 * 1024
READY_TIMEOUT_SECONDS: Final = 10.0
# Close codes after which the same request may succeed on a new connection:
# 1001 (the edge rotates or shuts down), 1006 (no close frame: the network
# dropped), 1011-1014 (server error, restart, try again later, bad gateway).
RECONNECTABLE_CLOSE_CODES: Final = frozenset({CLOSE_GOING_AWAY, 1006, 1011, 1012, 1013, 1014})
REDACTED: Final = "[redacted]"
# How long events after a missing seq wait for it before the run is resumed again.
GAP_WAIT_SECONDS: Final = 3.0
_SECRET_FIELDS: Final = frozenset({"session_token", "token", "access_token", "id_token"})


class SessionError(Exception):
    """The session cannot go on; ``message`` says why in words a person can act on."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ConnectFailed(SessionError):
    """The WebSocket handshake did not complete."""


class ConnectionLost(SessionError):
    """An open connection closed; ``code`` is the close code (1006: no close frame)."""

    def __init__(self, message: str, *, code: int, reason: str) -> None:
        super().__init__(message, retryable=code in RECONNECTABLE_CLOSE_CODES)
        self.code = code
        self.reason = reason


class ServerError(SessionError):
    """The edge answered a request with an ``error`` frame."""

    def __init__(self, frame: Frame) -> None:
        code = str(frame.get("code", "error"))
        message = str(frame.get("message", "the server reported an error"))
        super().__init__(f"{code}: {message}", retryable=bool(frame.get("retryable", False)))
        self.frame = frame
        self.code = code


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt *n* waits between half and all of
    ``min(cap, base * 2**n)`` seconds, so clients that lost the same edge do not
    all come back at the same instant."""

    base: float = 0.5
    cap: float = 15.0
    max_attempts: int = 8
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling: float = min(self.cap, self.base * 2.0**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def redact(frame: Frame) -> Frame:
    """``frame`` with every token-bearing field replaced by ``[redacted]``."""
    return {k: (REDACTED if k in _SECRET_FIELDS and v else v) for k, v in frame.items()}


def describe_close(code: int, reason: str) -> str:
    meaning = {
        CLOSE_NORMAL: "closed normally",
        CLOSE_GOING_AWAY: "the server is shutting down or rotating",
        1006: "the connection dropped without a close frame",
        CLOSE_POLICY: "policy violation (token expired or rate limited)",
        CLOSE_TOO_BIG: "a frame was too big",
        1011: "the server hit an internal error",
        1012: "the server is restarting",
        1013: "the server asks to try again later",
    }.get(code, "closed")
    text = f"connection closed ({code}, {meaning})"
    return f"{text}: {reason}" if reason else text


class ApexSession:
    """A connection to the edge that can reconnect as the same user."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
        on_notice: NoticeHandler | None = None,
        on_ready: FrameHandler | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self.session_token: str | None = None
        self.ready: Frame | None = None
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self._notice = on_notice or (lambda _text: None)
        self._on_ready = on_ready
        self._ws: ClientConnection | None = None
        self.reconnects = 0
        # Run events that arrived before the message_accepted naming their run: the
        # edge follows a run from the moment it accepts the message, so its first
        # events can overtake the answer. follow_run starts with them.
        self._early: list[Frame] = []

    # ---------------------------------------------------------------- identity

    @property
    def user_id(self) -> str | None:
        return None if self.ready is None else str(self.ready.get("user_id"))

    @property
    def demo(self) -> bool:
        return bool(self.ready and self.ready.get("demo"))

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def _bearer(self) -> str | None:
        return self._token or self.session_token

    # ---------------------------------------------------------------- connecting

    async def connect(self) -> Frame:
        """Open the socket and read ``connection_ready``; raises :class:`ConnectFailed`."""
        bearer = self._bearer()
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        try:
            ws = await connect(
                self.url,
                subprotocols=[Subprotocol(PROTOCOL)],
                additional_headers=headers,
                open_timeout=self.open_timeout,
                max_size=MAX_SERVER_FRAME_BYTES,
                proxy=None,
            )
        except InvalidURI as exc:
            raise ConnectFailed(
                f"{self.url!r} is not a WebSocket URL ({exc}); expected ws://host:port/ws or wss://…"
            ) from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise ConnectFailed(
                    f"the server at {self.url} refused the credentials (HTTP 401): "
                    + (
                        "the token is invalid or expired; sign in again"
                        if bearer
                        else "demo mode is off; pass --token or set APEX_TOKEN"
                    )
                ) from exc
            raise ConnectFailed(
                f"the server at {self.url} refused the WebSocket handshake with HTTP {status}",
                retryable=status >= 500,
            ) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ConnectFailed(
                f"cannot connect to {self.url}: {exc or type(exc).__name__}", retryable=True
            ) from exc
        if ws.subprotocol != PROTOCOL:
            await ws.close()
            raise ConnectFailed(
                f"the server at {self.url} did not select the {PROTOCOL} subprotocol "
                f"(it chose {ws.subprotocol!r}); is this a Netra Apex edge?"
            )
        self._ws = ws
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                first = await self.recv()
        except TimeoutError as exc:
            await self.close()
            raise ConnectFailed(
                f"the server at {self.url} sent no connection_ready within "
                f"{READY_TIMEOUT_SECONDS:.0f} s",
                retryable=True,
            ) from exc
        except ConnectionLost as exc:
            raise ConnectFailed(exc.message, retryable=exc.retryable) from exc
        if first.get("type") != "connection_ready":
            await self.close()
            raise ConnectFailed(
                f"expected connection_ready as the first frame, got {first.get('type')!r}"
            )
        self.ready = first
        token = first.get("session_token")
        if isinstance(token, str) and token:
            self.session_token = token
        if self._on_ready is not None:
            self._on_ready(first)
        return first

    async def reconnect(self) -> Frame:
        """Connect again with backoff; raises the last :class:`ConnectFailed` when out of tries."""
        await self.close()
        last: ConnectFailed | None = None
        for attempt in range(self.backoff.max_attempts):
            delay = self.backoff.delay(attempt)
            self._notice(
                f"reconnecting in {delay:.1f} s (attempt {attempt + 1} of "
                f"{self.backoff.max_attempts})…"
            )
            await asyncio.sleep(delay)
            try:
                ready = await self.connect()
            except ConnectFailed as exc:
                last = exc
                if not exc.retryable:
                    raise
                continue
            self.reconnects += 1
            self._notice("reconnected")
            return ready
        assert last is not None
        raise ConnectFailed(
            f"gave up after {self.backoff.max_attempts} attempts: {last.message}"
        ) from last

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    # ---------------------------------------------------------------- frames

    async def send(self, frame: Frame) -> None:
        if self._ws is None:
            raise ConnectionLost("not connected", code=1006, reason="")
        try:
            await self._ws.send(json.dumps(frame))
        except ConnectionClosed as exc:
            raise self._lost(exc) from exc

    async def recv(self) -> Frame:
        """The next frame as a dict; raises :class:`ConnectionLost` when the socket closes."""
        if self._ws is None:
            raise ConnectionLost("not connected", code=1006, reason="")
        try:
            raw = await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._lost(exc) from exc
        try:
            frame = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SessionError(f"the server sent a frame that is not JSON ({exc})") from exc
        if not isinstance(frame, dict):
            raise SessionError("the server sent a JSON frame that is not an object")
        return frame

    def _lost(self, exc: ConnectionClosed) -> ConnectionLost:
        self._ws = None
        close = exc.rcvd
        code = close.code if close is not None else 1006
        reason = close.reason if close is not None else ""
        return ConnectionLost(describe_close(code, reason), code=code, reason=reason)

    async def get_thread(self, thread_id: str) -> Frame:
        """The whole thread: ``get_thread`` answers a page of messages at a time
        (oldest first, with the runs they belong to); follow ``next_cursor`` to the
        end and return one ``thread`` frame holding every message and run."""
        page = await self.request({"type": "get_thread", "thread_id": thread_id}, "thread")
        pages = [page]
        while isinstance(cursor := page.get("next_cursor"), str) and cursor:
            page = await self.request(
                {"type": "get_thread", "thread_id": thread_id, "cursor": cursor}, "thread"
            )
            pages.append(page)
        return merge_thread_pages(pages)

    async def request(
        self, frame: Frame, expect: str, on_frame: FrameHandler | None = None
    ) -> Frame:
        """Send ``frame`` and return the first answer of type ``expect``.

        Reconnects once when the connection is lost before the answer (these
        requests are reads, safe to repeat). Raises :class:`ServerError` on an
        ``error`` frame.
        """
        for attempt in range(2):
            try:
                if not self.connected:
                    await self.reconnect()
                await self.send(frame)
                while True:
                    answer = await self.recv()
                    if on_frame is not None:
                        on_frame(answer)
                    if answer.get("type") == expect:
                        return answer
                    if answer.get("type") == "error":
                        raise ServerError(answer)
            except ConnectionLost as exc:
                if attempt == 1 or not self._may_retry(exc):
                    raise
                self._notice(exc.message)
        raise AssertionError("unreachable")

    def _may_retry(self, exc: ConnectionLost) -> bool:
        return exc.retryable or exc.code == CLOSE_NORMAL

    # ---------------------------------------------------------------- a chat turn

    async def send_message(
        self, text: str, *, thread_id: str | None = None, on_frame: FrameHandler | None = None
    ) -> Frame:
        """Send a ``user_message`` and return its ``message_accepted``.

        The message carries a fresh ``client_message_id``; after a reconnect it
        is sent again with the same id, so the edge returns the same run.
        """
        if not 1 <= len(text) <= MAX_TEXT_CHARS:
            raise SessionError(
                f"a message is 1 to {MAX_TEXT_CHARS} characters; this one has {len(text)}"
            )
        frame: Frame = {
            "type": "user_message",
            "text": text,
            "client_message_id": f"cli-{uuid.uuid4().hex}",
        }
        if thread_id:
            frame["thread_id"] = thread_id
        return await self._with_reconnect(lambda: self._send_and_wait_accepted(frame, on_frame))

    async def _send_and_wait_accepted(self, frame: Frame, on_frame: FrameHandler | None) -> Frame:
        await self.send(frame)
        while True:
            answer = await self.recv()
            if is_run_event(answer):
                self._early.append(answer)
                continue
            if on_frame is not None:
                on_frame(answer)
            kind = answer.get("type")
            if kind == "message_accepted" and answer.get("client_message_id") == frame.get(
                "client_message_id"
            ):
                return answer
            if kind == "error" and answer.get("client_message_id") in (
                None,
                frame["client_message_id"],
            ):
                raise ServerError(answer)

    async def follow_run(
        self,
        run_id: str,
        *,
        on_event: FrameHandler,
        on_frame: FrameHandler | None = None,
        after_seq: int = 0,
        resume_first: bool = True,
    ) -> Frame:
        """Deliver the run's events in ``seq`` order, once each, until its terminal event.

        ``on_event`` gets each new run event of ``run_id``; ``on_frame`` gets every
        other frame received meanwhile. It starts with ``resume`` from
        ``after_seq`` (unless ``resume_first`` is false), so it works whether or
        not the edge already streams the run to this connection; events seen
        twice are dropped and events that arrive ahead of a gap wait for it to
        fill. When the connection drops, the session reconnects and resumes from
        the last ``seq`` delivered. Returns the terminal event (the supervisor's
        final ``agent_completed`` or its ``agent_error``); raises
        :class:`ServerError` on an ``error`` frame.
        """
        order = EventSequencer(after_seq)
        resume_next = [resume_first]
        early = [e for e in self._early if e.get("run_id") == run_id]
        self._early = [e for e in self._early if e.get("run_id") != run_id]
        for event in (ready for e in early for ready in order.push(e)):
            on_event(event)
            if is_terminal_event(event):
                return event

        async def resume() -> None:
            await self.send({"type": "resume", "run_id": run_id, "after_seq": order.last_seq})

        async def read_until_terminal() -> Frame:
            if resume_next[0]:
                await resume()
            resume_next[0] = True  # after a reconnect, always resume
            while True:
                try:
                    async with asyncio.timeout(GAP_WAIT_SECONDS if order.has_gap else None):
                        frame = await self.recv()
                except TimeoutError:
                    await resume()  # a gap did not fill: ask again from the last seq
                    continue
                if is_run_event(frame):
                    if frame.get("run_id") == run_id:
                        for event in order.push(frame):
                            on_event(event)
                            if is_terminal_event(event):
                                return event
                    continue  # another run of this user (another tab): not ours to show
                if on_frame is not None:
                    on_frame(frame)
                if frame.get("type") == "error" and frame.get("run_id") in (None, run_id):
                    raise ServerError(frame)

        return await self._with_reconnect(read_until_terminal)

    async def _with_reconnect(self, step: Callable[[], Awaitable[Frame]]) -> Frame:
        while True:
            try:
                if not self.connected:
                    await self.reconnect()
                return await step()
            except ConnectionLost as exc:
                if not self._may_retry(exc):
                    raise
                self._notice(exc.message)


class EventSequencer:
    """Puts one run's events in ``seq`` order, each once.

    :meth:`push` returns the events that became deliverable: nothing for a
    duplicate, nothing (yet) for an event after a gap, and the whole run of
    consecutive events once the gap fills.
    """

    def __init__(self, after_seq: int = 0) -> None:
        self.last_seq = after_seq
        self._pending: dict[int, Frame] = {}

    @property
    def has_gap(self) -> bool:
        return bool(self._pending)

    def push(self, event: Frame) -> list[Frame]:
        seq = int(event["seq"])
        if seq <= self.last_seq:
            return []
        self._pending.setdefault(seq, event)
        ready: list[Frame] = []
        while self.last_seq + 1 in self._pending:
            self.last_seq += 1
            ready.append(self._pending.pop(self.last_seq))
        return ready


def is_run_event(frame: Frame) -> bool:
    return (
        isinstance(frame.get("run_id"), str)
        and isinstance(frame.get("seq"), int)
        and isinstance(frame.get("agent"), str)
    )


def merge_thread_pages(pages: list[Frame]) -> Frame:
    """One ``thread`` frame from its pages: messages in page order, each run once
    (a run's user message and answer may sit on different pages), the last page's
    fields otherwise."""
    messages: list[Any] = []
    runs: dict[str, Any] = {}
    for page in pages:
        messages.extend(m for m in page.get("messages") or [] if isinstance(m, dict))
        for run in page.get("runs") or []:
            if isinstance(run, dict) and isinstance(run.get("run_id"), str):
                runs[run["run_id"]] = run
    return {**pages[-1], "messages": messages, "runs": list(runs.values()), "next_cursor": None}
