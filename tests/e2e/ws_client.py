"""A small typed ``apex.v1`` WebSocket client for end-to-end tests.

Built on ``websockets.asyncio.client.connect``. Typical use::

    async with connect(edge.ws_url, token=token, via="subprotocol") as client:
        assert client.ready["user_id"] == "alice"
        accepted = await client.request(
            {"type": "user_message", "text": "Analyze my AI costs"}, "message_accepted"
        )
        events = await client.collect_run(accepted["run_id"])

Frames are plain dicts. Receiving is by type with a deadline: frames that
arrive while waiting for another type are kept, in order, and returned by
later calls, so a test never loses an event because it was looking for an
answer. Every wait is bounded (``asyncio.timeout``); nothing sleeps.

:func:`refusal` performs a handshake that is expected to fail and returns the
HTTP response (status, headers, body) the server sent instead of the upgrade.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from apex_core.protocol import BEARER_SUBPROTOCOL_PREFIX, EVENT_TYPES, PROTOCOL, is_terminal_event

Frame = dict[str, Any]
Via = Literal["header", "subprotocol"]
T = TypeVar("T")

DEFAULT_TIMEOUT: Final = 10.0


class ServerError(AssertionError):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(f"server answered with an error frame: {frame}")
        self.frame = frame


@dataclass(frozen=True)
class Closed:
    """How the server closed the socket."""

    code: int | None
    reason: str


@dataclass(frozen=True)
class Refusal:
    """The HTTP response to a refused handshake."""

    status: int
    headers: dict[str, str]
    body: str


class ApexClient:
    """One open ``apex.v1`` connection, past its ``connection_ready`` frame."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ready: Frame = {}
        self._backlog: list[Frame] = []

    @property
    def user_id(self) -> str:
        return str(self.ready["user_id"])

    @property
    def subprotocol(self) -> str | None:
        return self.ws.subprotocol

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def _receive(self) -> Frame:
        raw = await self.ws.recv()
        frame = json.loads(raw)
        assert isinstance(frame, dict), f"server sent a non-object frame: {raw!r}"
        return frame

    async def next_matching(
        self, predicate: Callable[[Frame], bool], *, within: float = DEFAULT_TIMEOUT
    ) -> Frame:
        """The first frame (kept or new) for which ``predicate`` is true; others are kept."""
        for index, frame in enumerate(self._backlog):
            if predicate(frame):
                return self._backlog.pop(index)
        async with asyncio.timeout(within):
            while True:
                frame = await self._receive()
                if predicate(frame):
                    return frame
                self._backlog.append(frame)

    async def next_of(self, *types: str, within: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame whose ``type`` is one of ``types``."""
        return await self.next_matching(lambda f: f.get("type") in types, within=within)

    async def next_frame(self, *, within: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame of any type."""
        return await self.next_matching(lambda f: True, within=within)

    async def request(
        self, frame: Frame, answer_type: str, *, within: float = DEFAULT_TIMEOUT
    ) -> Frame:
        """Send ``frame`` and return the next ``answer_type`` frame; an ``error`` frame
        that arrives first raises :class:`ServerError`."""
        await self.send(frame)
        answer = await self.next_of(answer_type, "error", within=within)
        if answer["type"] == "error" and answer_type != "error":
            raise ServerError(answer)
        return answer

    async def expect_error(self, frame: Frame | str, *, within: float = DEFAULT_TIMEOUT) -> Frame:
        """Send ``frame`` (a dict, or raw text) and return the ``error`` frame it gets."""
        if isinstance(frame, str):
            await self.send_raw(frame)
        else:
            await self.send(frame)
        return await self.next_of("error", within=within)

    async def run_events(
        self, run_id: str, count: int, *, within: float = DEFAULT_TIMEOUT
    ) -> list[Frame]:
        """The next ``count`` run events of ``run_id``, in arrival order."""
        events: list[Frame] = []
        async with asyncio.timeout(within):
            while len(events) < count:
                events.append(await self.next_matching(_event_of(run_id), within=within))
        return events

    async def collect_run(self, run_id: str, *, within: float = 60.0) -> list[Frame]:
        """Every run event of ``run_id`` up to and including the terminal one."""
        events: list[Frame] = []
        async with asyncio.timeout(within):
            while not events or not is_terminal_event(events[-1]):
                events.append(await self.next_matching(_event_of(run_id), within=within))
        return events

    async def wait_closed(self, *, within: float = DEFAULT_TIMEOUT) -> Closed:
        """Read (and keep) frames until the server closes; how it closed."""
        async with asyncio.timeout(within):
            try:
                while True:
                    self._backlog.append(await self._receive())
            except ConnectionClosed as exc:
                received = exc.rcvd
        return Closed(
            code=None if received is None else received.code,
            reason="" if received is None else received.reason,
        )

    def kept(self) -> list[Frame]:
        """Frames received but not yet returned by a ``next_*`` call."""
        return list(self._backlog)


def _event_of(run_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") in EVENT_TYPES and f.get("run_id") == run_id


def _handshake_options(
    token: str | None,
    via: Via,
    subprotocols: Sequence[str] | None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    offered = [Subprotocol(p) for p in (subprotocols if subprotocols is not None else [PROTOCOL])]
    headers = dict(headers or {})
    if token is not None and via == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif token is not None:
        offered.append(Subprotocol(BEARER_SUBPROTOCOL_PREFIX + token))
    return {"subprotocols": offered or None, "additional_headers": headers}


@asynccontextmanager
async def connect(
    url: str,
    *,
    token: str | None = None,
    via: Via = "header",
    subprotocols: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    open_timeout: float = DEFAULT_TIMEOUT,
) -> AsyncIterator[ApexClient]:
    """Open a connection (token in the Authorization header or as ``apex.bearer.<jwt>``;
    ``headers`` such as ``Origin`` sent as they are) and wait for its ``connection_ready``."""
    options = _handshake_options(token, via, subprotocols, headers)
    async with ws_connect(url, open_timeout=open_timeout, **options) as ws:
        client = ApexClient(ws)
        client.ready = await client.next_of("connection_ready", within=open_timeout)
        yield client


async def refusal(
    url: str,
    *,
    token: str | None = None,
    via: Via = "header",
    subprotocols: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    open_timeout: float = DEFAULT_TIMEOUT,
) -> Refusal:
    """Attempt a handshake that must be refused; the HTTP response the server sent.

    ``headers`` are sent as they are (e.g. a malformed Authorization header)."""
    options = _handshake_options(token, via, subprotocols, headers)
    try:
        async with ws_connect(url, open_timeout=open_timeout, **options):
            pass
    except InvalidStatus as exc:
        response = exc.response
        return Refusal(
            status=response.status_code,
            headers={k: v for k, v in response.headers.raw_items()},
            body=bytes(response.body).decode(errors="replace"),
        )
    raise AssertionError(f"the handshake to {url} was accepted; expected a refusal")


def run(body: Callable[[], Awaitable[T]], *, within: float = 120.0) -> T:
    """Run an async test body to completion from a sync test, within ``within`` seconds."""

    async def bounded() -> T:
        async with asyncio.timeout(within):
            return await body()

    return asyncio.run(bounded())
