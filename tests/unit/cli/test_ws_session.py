"""The terminal client's session: ordering, backoff, redaction, and reconnect + resume
against a small in-process apex.v1 server (the real edge is covered by tests/e2e)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from apex_cli.ws_session import (
    ApexSession,
    Backoff,
    ConnectFailed,
    EventSequencer,
    ServerError,
    redact,
)
from apex_core.protocol import is_terminal_event

APEX = [Subprotocol("apex.v1")]


def ev(
    seq: int, type_: str = "agent_thinking", agent: str = "data", **extra: Any
) -> dict[str, Any]:
    return {"type": type_, "run_id": "r-1", "thread_id": "t-1", "seq": seq, "agent": agent, **extra}


def test_sequencer_drops_duplicates_and_holds_events_after_a_gap() -> None:
    order = EventSequencer()
    assert [e["seq"] for e in order.push(ev(1))] == [1]
    assert order.push(ev(1)) == []
    assert order.push(ev(3)) == []
    assert order.has_gap
    assert [e["seq"] for e in order.push(ev(2))] == [2, 3]
    assert not order.has_gap
    assert order.last_seq == 3


def test_sequencer_starts_after_a_given_seq() -> None:
    order = EventSequencer(after_seq=5)
    assert order.push(ev(5)) == []
    assert [e["seq"] for e in order.push(ev(6))] == [6]


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(7))
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (9, 4.0)]:
        delay = backoff.delay(attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_tokens_are_redacted() -> None:
    frame = {"type": "connection_ready", "user_id": "demo-user-1", "session_token": "eyJ.secret"}
    assert redact(frame) == {
        "type": "connection_ready",
        "user_id": "demo-user-1",
        "session_token": "[redacted]",
    }


class FakeEdge:
    """Enough of apex.v1 to test a client: a five-event run, a drop after ``drop_after`` events."""

    def __init__(self, drop_after: int | None = None, *, early: bool = False) -> None:
        self.drop_after = drop_after
        self.early = early
        self.bearers: list[str | None] = []
        self.resumes: list[int] = []
        self.user_messages: list[dict[str, Any]] = []
        self.events = [ev(1, "agent_started", "supervisor")] + [ev(s) for s in (2, 3, 4)]
        self.events.append(ev(5, "agent_completed", "supervisor", final=True, response="# R"))

    async def handler(self, ws: ServerConnection) -> None:
        auth = ws.request.headers.get("Authorization") if ws.request else None
        self.bearers.append(auth)
        await ws.send(
            json.dumps(
                {
                    "type": "connection_ready",
                    "user_id": "demo-user-1",
                    "demo": True,
                    "session_token": "session-token-1",
                }
            )
        )
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "user_message":
                self.user_messages.append(frame)
                if self.early:  # the run's first event overtakes the answer
                    await ws.send(json.dumps(self.events[0]))
                await ws.send(
                    json.dumps(
                        {
                            "type": "message_accepted",
                            "client_message_id": frame["client_message_id"],
                            "thread_id": "t-1",
                            "run_id": "r-1",
                        }
                    )
                )
            elif frame["type"] == "resume":
                self.resumes.append(frame["after_seq"])
                for event in self.events:
                    if event["seq"] <= frame["after_seq"]:
                        continue
                    if self.drop_after is not None and event["seq"] > self.drop_after:
                        self.drop_after = None
                        await ws.close(1001, "rotating")
                        return
                    await ws.send(json.dumps(event))
            elif frame["type"] == "get_thread":
                await ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "not_found",
                            "message": "no such thread",
                            "retryable": False,
                        }
                    )
                )


async def _chat_turn(edge: FakeEdge) -> tuple[list[int], dict[str, Any], list[str]]:
    notices: list[str] = []
    async with serve(edge.handler, "127.0.0.1", 0, subprotocols=APEX) as server:
        port = server.sockets[0].getsockname()[1]
        session = ApexSession(
            f"ws://127.0.0.1:{port}/ws",
            backoff=Backoff(base=0.01, cap=0.02),
            on_notice=notices.append,
        )
        await session.connect()
        accepted = await session.send_message("Analyze my AI costs")
        seen: list[int] = []
        terminal = await session.follow_run(
            str(accepted["run_id"]), on_event=lambda e: seen.append(int(e["seq"]))
        )
        await session.close()
    return seen, terminal, notices


def test_a_run_is_followed_to_its_final_event() -> None:
    edge = FakeEdge()
    seen, terminal, _ = asyncio.run(_chat_turn(edge))
    assert seen == [1, 2, 3, 4, 5]
    assert terminal["final"] is True
    assert edge.resumes == [0]
    assert edge.bearers == [None]


def test_a_dropped_connection_reconnects_as_the_same_demo_user_and_resumes() -> None:
    edge = FakeEdge(drop_after=2)
    seen, terminal, notices = asyncio.run(_chat_turn(edge))
    assert seen == [1, 2, 3, 4, 5]
    assert is_terminal_event(terminal)
    assert edge.resumes == [0, 2]
    assert edge.bearers == [None, "Bearer session-token-1"]
    assert any("1001" in n for n in notices)
    assert "reconnected" in notices


def test_events_that_overtake_message_accepted_are_not_lost() -> None:
    edge = FakeEdge(early=True)
    seen, terminal, _ = asyncio.run(_chat_turn(edge))
    assert seen == [1, 2, 3, 4, 5]
    assert terminal["final"] is True
    assert edge.resumes == [1]


def test_a_user_token_is_sent_as_a_bearer_header() -> None:
    async def body(edge: FakeEdge) -> None:
        async with serve(edge.handler, "127.0.0.1", 0, subprotocols=APEX) as server:
            port = server.sockets[0].getsockname()[1]
            session = ApexSession(f"ws://127.0.0.1:{port}/ws", token="user-jwt")
            await session.connect()
            await session.close()

    edge = FakeEdge()
    asyncio.run(body(edge))
    assert edge.bearers == ["Bearer user-jwt"]


def test_an_error_frame_is_raised_with_its_code() -> None:
    async def body() -> None:
        edge = FakeEdge()
        async with serve(edge.handler, "127.0.0.1", 0, subprotocols=APEX) as server:
            port = server.sockets[0].getsockname()[1]
            session = ApexSession(f"ws://127.0.0.1:{port}/ws")
            await session.connect()
            try:
                await session.request({"type": "get_thread", "thread_id": "t-x"}, "thread")
            finally:
                await session.close()

    with pytest.raises(ServerError, match="not_found: no such thread"):
        asyncio.run(body())


def test_connecting_to_nothing_fails_clearly() -> None:
    async def body() -> None:
        async with serve(FakeEdge().handler, "127.0.0.1", 0, subprotocols=APEX) as server:
            port = server.sockets[0].getsockname()[1]
        await ApexSession(f"ws://127.0.0.1:{port}/ws", open_timeout=2).connect()

    with pytest.raises(ConnectFailed, match=r"cannot connect to ws://127\.0\.0\.1:"):
        asyncio.run(body())


def test_get_thread_follows_the_pages_to_the_end() -> None:
    pages: dict[str | None, dict[str, Any]] = {
        None: {
            "messages": [
                {"message_id": "m1", "run_id": "r1"},
                {"message_id": "m2", "run_id": "r1"},
            ],
            "runs": [{"run_id": "r1", "status": "completed"}],
            "next_cursor": "m2",
        },
        "m2": {
            "messages": [{"message_id": "m3", "run_id": "r2"}],
            "runs": [{"run_id": "r2", "status": "running"}],
            "next_cursor": None,
        },
    }
    asked: list[Any] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "connection_ready", "user_id": "u", "demo": False}))
        async for raw in ws:
            frame = json.loads(raw)
            asked.append(frame.get("cursor"))
            page = pages[frame.get("cursor")]
            await ws.send(
                json.dumps(
                    {
                        "type": "thread",
                        "thread_id": "t-1",
                        "title": "T",
                        "cursor": frame.get("cursor"),
                        **page,
                    }
                )
            )

    async def body() -> dict[str, Any]:
        async with serve(handler, "127.0.0.1", 0, subprotocols=APEX) as server:
            port = server.sockets[0].getsockname()[1]
            session = ApexSession(f"ws://127.0.0.1:{port}/ws")
            await session.connect()
            try:
                return await session.get_thread("t-1")
            finally:
                await session.close()

    thread = asyncio.run(body())
    assert asked == [None, "m2"]
    assert [m["message_id"] for m in thread["messages"]] == ["m1", "m2", "m3"]
    assert [r["run_id"] for r in thread["runs"]] == ["r1", "r2"]
    assert thread["next_cursor"] is None
