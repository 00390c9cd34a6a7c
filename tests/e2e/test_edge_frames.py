"""Client frames and run events through a real edge process, Pub/Sub and Firestore emulators.

The run_agent function is not running here: the tests play its part where
needed, storing events in Firestore and publishing them to ``apex-events`` as
it does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from apex_core import schema
from apex_core.protocol import utc_now_rfc3339
from tests.e2e.conftest import EdgeCloud, EdgeLauncher, EdgeProcess
from tests.e2e.ws_client import ApexClient, Frame, connect, refusal, run

pytestmark = pytest.mark.emulators


def new_user() -> str:
    return f"user-{secrets.token_hex(4)}"


def event(run_id: str, thread_id: str, seq: int, **extra: Any) -> Frame:
    """A run event as run_agent emits it (triage thinking unless told otherwise)."""
    base: Frame = {
        "type": "agent_thinking",
        "run_id": run_id,
        "thread_id": thread_id,
        "seq": seq,
        "ts": utc_now_rfc3339(),
        "agent": "triage",
        "text": f"step {seq}",
    }
    return {**base, **extra}


async def send_message(
    client: ApexClient, text: str = "Analyze my AI costs", **fields: str
) -> Frame:
    return await client.request(
        {"type": "user_message", "text": text, **fields}, "message_accepted"
    )


async def in_thread(call: Any, *args: Any) -> Any:
    """Run a blocking emulator call without blocking the sockets' loop."""
    return await asyncio.to_thread(call, *args)


# ---------------------------------------------------------------- bad frames


def test_bad_frames_get_error_frames_and_the_connection_stays_open(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            not_json = await client.expect_error("{not json")
            assert not_json["code"] == "invalid_frame"
            assert not_json["retryable"] is False
            unknown = await client.expect_error({"type": "shout"})
            assert unknown["code"] == "unknown_type"
            missing = await client.expect_error({"type": "get_thread"})
            assert missing["code"] == "invalid_frame"
            assert "thread_id" in missing["message"]
            too_long = await client.expect_error({"type": "user_message", "text": "x" * 4001})
            assert too_long["code"] == "invalid_frame"
            assert "text" in too_long["message"]
            extra = await client.expect_error({"type": "ping", "user_id": "someone-else"})
            assert extra["code"] == "invalid_frame"
            assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}

    run(body)


def test_oversized_frame_closes_with_1009(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            await client.send({"type": "user_message", "text": "x" * 9000})
            closed = await client.wait_closed()
            assert closed.code == 1009

    run(body)


# ---------------------------------------------------------------- user_message


def test_user_message_is_stored_and_published(edge: EdgeProcess, edge_cloud: EdgeCloud) -> None:
    user = new_user()

    async def body() -> Frame:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            return await send_message(client, "  Analyze my\nAI costs  ", client_message_id="m-1")

    accepted = run(body)
    run_id, thread_id = accepted["run_id"], accepted["thread_id"]
    assert accepted == {
        "type": "message_accepted",
        "client_message_id": "m-1",
        "thread_id": schema.thread_id_for(user, "m-1"),
        "run_id": schema.run_id_for(user, "m-1"),
    }

    request = edge_cloud.pull_request(run_id)
    assert request.ordering_key == thread_id
    assert request.attributes == {"run_id": run_id, "thread_id": thread_id, "user_id": user}
    assert request.data.pop("submitted_at").endswith("Z")
    assert request.data == {
        "run_id": run_id,
        "thread_id": thread_id,
        "user_id": user,
        "text": "  Analyze my\nAI costs  ",
        "client_message_id": "m-1",
    }

    thread = edge_cloud.doc(schema.thread_path(thread_id))
    assert thread is not None
    assert thread["user_id"] == user
    assert thread["title"] == "Analyze my AI costs"
    assert thread["last_run_id"] == run_id
    message = edge_cloud.doc(schema.message_path(thread_id, schema.user_message_id(run_id)))
    assert message is not None
    assert {k: message[k] for k in ("user_id", "role", "text", "run_id")} == {
        "user_id": user,
        "role": "user",
        "text": "  Analyze my\nAI costs  ",
        "run_id": run_id,
    }
    stored_run = edge_cloud.doc(schema.run_path(run_id))
    assert stored_run is not None
    assert stored_run["status"] == "queued"
    assert stored_run["user_id"] == user
    assert stored_run["thread_id"] == thread_id
    assert stored_run["last_seq"] == 0
    assert stored_run["cancel_requested"] is False


def test_same_client_message_id_is_the_same_run(edge: EdgeProcess, edge_cloud: EdgeCloud) -> None:
    user = new_user()

    async def body() -> tuple[Frame, Frame]:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            first = await send_message(client, client_message_id="same")
        # Again on a new connection, as after a reconnect.
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            second = await send_message(client, client_message_id="same")
        return first, second

    first, second = run(body)
    assert first == second
    thread_id = first["thread_id"]
    assert edge_cloud.runs_of_thread(thread_id) == [first["run_id"]]
    assert len(edge_cloud.user_messages(thread_id)) == 1
    # Still queued, so the request went out again (an earlier publish may have failed).
    published = edge_cloud.pull_requests(first["run_id"], 2)
    assert [p.data["run_id"] for p in published] == [first["run_id"]] * 2


def test_a_follow_up_message_joins_the_thread(edge: EdgeProcess, edge_cloud: EdgeCloud) -> None:
    user = new_user()

    async def body() -> tuple[Frame, Frame, Frame, Frame]:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            first = await send_message(client, "First question")
            second = await send_message(client, "And then?", thread_id=first["thread_id"])
            threads = await client.request({"type": "list_threads"}, "threads")
            thread = await client.request(
                {"type": "get_thread", "thread_id": first["thread_id"]}, "thread"
            )
            return first, second, threads, thread

    first, second, threads, thread = run(body)
    assert second["thread_id"] == first["thread_id"]
    assert second["run_id"] != first["run_id"]
    assert first["client_message_id"] is None

    assert len(threads["threads"]) == 1
    listed = threads["threads"][0]
    assert listed["thread_id"] == first["thread_id"]
    assert listed["title"] == "First question"
    assert listed["last_run_id"] == second["run_id"]
    assert listed["updated_at"].endswith("Z")

    assert thread["thread_id"] == first["thread_id"]
    assert thread["title"] == "First question"
    assert [(m["role"], m["text"], m["run_id"]) for m in thread["messages"]] == [
        ("user", "First question", first["run_id"]),
        ("user", "And then?", second["run_id"]),
    ]
    assert thread["messages"][0]["message_id"] == schema.user_message_id(first["run_id"])
    assert [(r["run_id"], r["status"], r["last_seq"]) for r in thread["runs"]] == [
        (first["run_id"], "queued", 0),
        (second["run_id"], "queued", 0),
    ]
    assert all(r["created_at"].endswith("Z") for r in thread["runs"])
    for accepted in (first, second):
        assert edge_cloud.pull_request(accepted["run_id"]).ordering_key == first["thread_id"]


def test_list_threads_is_newest_first_and_user_scoped(edge: EdgeProcess) -> None:
    user, other = new_user(), new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            older = await send_message(client, "older")
            newer = await send_message(client, "newer")
        async with connect(edge.ws_url, token=edge.token(other)) as intruder:
            await send_message(intruder, "someone else's")
            async with connect(edge.ws_url, token=edge.token(user)) as client:
                listed = await client.request({"type": "list_threads"}, "threads")
        assert [t["thread_id"] for t in listed["threads"]] == [
            newer["thread_id"],
            older["thread_id"],
        ]

    run(body)


# ---------------------------------------------------------------- ownership


def test_another_users_thread_and_run_are_not_found(
    edge: EdgeProcess, edge_cloud: EdgeCloud
) -> None:
    owner, intruder = new_user(), new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(owner)) as client:
            accepted = await send_message(client)
        thread_id, run_id = accepted["thread_id"], accepted["run_id"]
        async with connect(edge.ws_url, token=edge.token(intruder)) as client:
            foreign = [
                await client.expect_error({"type": "get_thread", "thread_id": thread_id}),
                await client.expect_error({"type": "resume", "run_id": run_id, "after_seq": 0}),
                await client.expect_error({"type": "cancel", "run_id": run_id}),
                await client.expect_error(
                    {"type": "user_message", "text": "hi", "thread_id": thread_id}
                ),
            ]
            missing = [
                await client.expect_error({"type": "get_thread", "thread_id": "t-missing"}),
                await client.expect_error({"type": "resume", "run_id": "r-missing"}),
                await client.expect_error({"type": "cancel", "run_id": "r-missing"}),
                await client.expect_error(
                    {"type": "user_message", "text": "hi", "thread_id": "t-missing"}
                ),
            ]
            assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}
        for seen, absent in zip(foreign, missing, strict=True):
            assert seen["code"] == absent["code"] == "not_found"
            assert seen["retryable"] is False
            # The same words whether the id exists for someone else or not at all.
            normalized = seen["message"].replace(thread_id, "ID").replace(run_id, "ID")
            assert normalized == absent["message"].replace("t-missing", "ID").replace(
                "r-missing", "ID"
            )
        stored = edge_cloud.doc(schema.run_path(run_id))
        assert stored is not None
        assert stored["cancel_requested"] is False

    run(body)


def test_cancel_sets_cancel_requested(edge: EdgeProcess, edge_cloud: EdgeCloud) -> None:
    user = new_user()

    async def body() -> tuple[Frame, Frame]:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            accepted = await send_message(client)
            answer = await client.request(
                {"type": "cancel", "run_id": accepted["run_id"]}, "cancel_requested"
            )
            return accepted, answer

    accepted, answer = run(body)
    assert answer == {"type": "cancel_requested", "run_id": accepted["run_id"]}
    stored = edge_cloud.doc(schema.run_path(accepted["run_id"]))
    assert stored is not None
    assert stored["cancel_requested"] is True


# ---------------------------------------------------------------- run events


def test_events_reach_every_socket_of_their_user_and_no_one_else(
    edge: EdgeProcess, edge_cloud: EdgeCloud
) -> None:
    alice, bob = new_user(), new_user()

    async def body() -> None:
        async with (
            connect(edge.ws_url, token=edge.token(alice)) as tab_one,
            connect(edge.ws_url, token=edge.token(alice), via="subprotocol") as tab_two,
            connect(edge.ws_url, token=edge.token(bob)) as bobs,
        ):
            accepted = await send_message(tab_one)
            run_id, thread_id = accepted["run_id"], accepted["thread_id"]
            alices_event = event(run_id, thread_id, 1, type="agent_started", agent="supervisor")
            alices_event.pop("text")
            await in_thread(edge_cloud.publish_event, alice, alices_event)
            # Bob's event shares the ordering key, so it is delivered after Alice's:
            # if Alice's reached Bob's socket, it would come first.
            bobs_event = event(run_id, thread_id, 2)
            await in_thread(edge_cloud.publish_event, bob, bobs_event)

            assert await tab_one.run_events(run_id, 1) == [alices_event]
            assert await tab_two.run_events(run_id, 1) == [alices_event]
            assert await bobs.run_events(run_id, 1) == [bobs_event]

    run(body)


def test_out_of_order_and_duplicate_events_arrive_in_order_once(
    edge: EdgeProcess, edge_cloud: EdgeCloud
) -> None:
    user = new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            accepted = await send_message(client)
            run_id, thread_id = accepted["run_id"], accepted["thread_id"]
            events = [event(run_id, thread_id, seq) for seq in range(1, 8)]
            # 1 and 2 are stored but never published live: the edge reads them
            # when 3 shows the gap. 5 arrives after 6 (not stored yet): held back.
            for stored in events[:2]:
                await in_thread(edge_cloud.store_event, stored)
            for seq in (3, 3, 1, 4, 6, 5, 4, 6, 7):
                await in_thread(edge_cloud.publish_event, user, events[seq - 1])
            received = await client.run_events(run_id, 7)
            assert [e["seq"] for e in received] == [1, 2, 3, 4, 5, 6, 7]
            assert received == events
            # Nothing else of that run is pending: the next one is a fresh event.
            final = event(
                run_id,
                thread_id,
                8,
                type="agent_completed",
                agent="supervisor",
                final=True,
                summary="done",
                response="# Report",
                result={},
            )
            final.pop("text")
            await in_thread(edge_cloud.publish_event, user, final)
            assert await client.collect_run(run_id) == [final]

    run(body)


def test_resume_replays_stored_events_then_the_live_tail(
    edge: EdgeProcess, edge_cloud: EdgeCloud
) -> None:
    user = new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            accepted = await send_message(client)
        run_id, thread_id = accepted["run_id"], accepted["thread_id"]
        events = [event(run_id, thread_id, seq) for seq in range(1, 9)]
        for stored in events[:4]:
            await in_thread(edge_cloud.store_event, stored)
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            await client.send({"type": "resume", "run_id": run_id, "after_seq": 1})
            # While the replay reads Firestore, more events are stored and published,
            # some of them ones the replay also finds: each must arrive exactly once.
            for live in events[3:8]:
                if live["seq"] > 4:  # run_agent stores an event before publishing it
                    await in_thread(edge_cloud.store_event, live)
                await in_thread(edge_cloud.publish_event, user, live)
            received = await client.run_events(run_id, 7)
            assert [e["seq"] for e in received] == [2, 3, 4, 5, 6, 7, 8]
            assert received == events[1:]

    run(body)


def test_resume_after_the_end_sends_nothing_old(edge: EdgeProcess, edge_cloud: EdgeCloud) -> None:
    user = new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            accepted = await send_message(client)
            run_id, thread_id = accepted["run_id"], accepted["thread_id"]
            for seq in (1, 2):
                await in_thread(edge_cloud.store_event, event(run_id, thread_id, seq))
            await client.send({"type": "resume", "run_id": run_id, "after_seq": 2})
            third = event(run_id, thread_id, 3)
            await in_thread(edge_cloud.store_event, third)
            await in_thread(edge_cloud.publish_event, user, third)
            assert await client.run_events(run_id, 1) == [third]

    run(body)


# ---------------------------------------------------------------- limits


def test_rate_limit_refuses_then_closes_a_flood(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start(
        "ratelimit", {"EDGE_USER_MESSAGES_PER_MINUTE": "2", "EDGE_RATE_LIMIT_STRIKES": "3"}
    )

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            for _ in range(2):
                await send_message(client)
            for _ in range(2):
                refused = await client.expect_error({"type": "user_message", "text": "more"})
                assert refused["code"] == "rate_limited"
                assert refused["retryable"] is True
                assert refused["retry_after_ms"] > 0
            # Other frames are not limited.
            assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}
            await client.send({"type": "user_message", "text": "flood"})
            closed = await client.wait_closed()
            assert closed.code == 1008
            assert [f["code"] for f in client.kept() if f["type"] == "error"] == ["rate_limited"]

    run(body)


def test_too_many_sockets_for_one_user_is_429(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("sockets", {"EDGE_MAX_SOCKETS_PER_USER": "2"})
    user = new_user()

    async def body() -> None:
        async with (
            connect(edge.ws_url, token=edge.token(user)),
            connect(edge.ws_url, token=edge.token(user)),
        ):
            answer = await refusal(edge.ws_url, token=edge.token(user))
            assert answer.status == 429
        # Once one closes, the user may connect again.
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            assert client.user_id == user

    run(body)


def test_token_expiry_closes_with_1008(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user(), ttl_seconds=2)) as client:
            closed = await client.wait_closed(within=15)
            assert closed.code == 1008
            assert "token expired" in closed.reason

    run(body)


def test_connection_lifetime_closes_with_1001(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("lifetime", {"EDGE_MAX_CONNECTION_SECONDS": "1"})

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            closed = await client.wait_closed(within=15)
            assert closed.code == 1001
            assert closed.reason == "connection lifetime reached, reconnect and resume"

    run(body)


def test_error_frames_are_json_objects_with_the_protocol_fields(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            await client.send_raw(b"\xff\xfe")
            raw = await client.ws.recv()
            frame = json.loads(raw)
            assert {"type", "code", "message", "retryable"} <= set(frame)
            assert frame["type"] == "error"

    run(body)


def test_a_gap_that_never_fills_is_skipped_after_the_gap_wait(
    edge_launcher: EdgeLauncher, edge_cloud: EdgeCloud
) -> None:
    edge = edge_launcher.start("gapwait", {"EDGE_GAP_WAIT_SECONDS": "1"})
    user = new_user()

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(user)) as client:
            accepted = await send_message(client)
            run_id, thread_id = accepted["run_id"], accepted["thread_id"]
            # Seq 2 is lost: neither stored nor published.
            for seq in (1, 3):
                await in_thread(edge_cloud.publish_event, user, event(run_id, thread_id, seq))
            received = await client.run_events(run_id, 2, within=15)
            assert [e["seq"] for e in received] == [1, 3]
            # The late seq 2 is now behind the cursor: dropped, and 4 follows 3.
            for seq in (2, 4):
                await in_thread(edge_cloud.publish_event, user, event(run_id, thread_id, seq))
            assert [e["seq"] for e in await client.run_events(run_id, 1)] == [4]

    run(body)
