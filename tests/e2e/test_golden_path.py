"""The golden path end to end: real emulators, the real functions and edge, real sockets.

A demo user connects, asks "Analyze my AI costs", watches every agent work and
receives the final report; Firestore then holds the thread, both messages,
the completed run and every event at its seq, exactly as streamed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from apex_core import schema
from tests.conftest import RunningStack
from tests.e2e.ws_client import Frame, connect, run
from tests.run_checks import assert_complete_analysis

PROMPT = "Analyze my AI costs"


def assert_complete_run(events: list[Frame], run_id: str, thread_id: str) -> Frame:
    """A complete analysis (``tests.run_checks``), all of it of this run and thread."""
    assert {(e["run_id"], e["thread_id"]) for e in events} == {(run_id, thread_id)}
    return dict(assert_complete_analysis(events))


def firestore_client(stack: RunningStack) -> firestore.Client:
    return firestore.Client(project=stack.project)


def test_golden_path_streams_every_agent_and_persists_everything(stack: RunningStack) -> None:
    async def body() -> tuple[str, list[Frame], Frame]:
        async with connect(stack.stack.ws_url) as client:
            assert client.ready["demo"] is True
            assert client.ready["protocol"] == "apex.v1"
            assert client.ready["session_token"]
            accepted = await client.request(
                {"type": "user_message", "text": PROMPT, "client_message_id": "golden-1"},
                "message_accepted",
            )
            events = await client.collect_run(accepted["run_id"])
            return client.user_id, events, accepted

    user_id, events, accepted = run(body)
    run_id, thread_id = accepted["run_id"], accepted["thread_id"]
    assert accepted["client_message_id"] == "golden-1"
    final = assert_complete_run(events, run_id, thread_id)
    # every dollar figure in the result is a number the engine computed
    assert final["result"]["total_cost_usd"] > 0
    assert final["result"]["recommendations"], "the demo dataset must yield recommendations"

    db = firestore_client(stack)
    thread = db.document(schema.thread_path(thread_id)).get().to_dict()
    assert thread is not None
    assert (thread["user_id"], thread["title"], thread["last_run_id"]) == (user_id, PROMPT, run_id)
    messages: dict[str, dict[str, Any]] = {}
    for snap in db.collection(f"threads/{thread_id}/messages").stream():
        doc = snap.to_dict()
        assert doc is not None
        messages[snap.id] = doc
    assert set(messages) == {schema.user_message_id(run_id), schema.assistant_message_id(run_id)}
    assert messages[schema.user_message_id(run_id)]["text"] == PROMPT
    assert messages[schema.assistant_message_id(run_id)]["role"] == "assistant"
    assert messages[schema.assistant_message_id(run_id)]["text"] == final["response"]
    run_doc = db.document(schema.run_path(run_id)).get().to_dict()
    assert run_doc is not None
    assert (run_doc["status"], run_doc["user_id"], run_doc["last_seq"]) == (
        "completed",
        user_id,
        len(events),
    )
    assert run_doc["result"] == final["result"]
    stored = {
        int(snap.id): snap.to_dict() for snap in db.collection(f"runs/{run_id}/events").stream()
    }
    assert stored == {event["seq"]: event for event in events}


def test_resent_client_message_id_is_the_same_run(stack: RunningStack) -> None:
    async def body() -> tuple[Frame, Frame, list[Frame], list[Frame]]:
        async with connect(stack.stack.ws_url) as client:
            frame = {"type": "user_message", "text": PROMPT, "client_message_id": "again-1"}
            first = await client.request(frame, "message_accepted")
            events = await client.collect_run(first["run_id"])
            second = await client.request(frame, "message_accepted")
            # a ping round trip: anything the re-send might have started would be queued by now
            await client.request({"type": "ping"}, "pong")
            return first, second, events, client.kept()

    first, second, events, leftovers = run(body)
    assert (second["run_id"], second["thread_id"]) == (first["run_id"], first["thread_id"])
    assert not [f for f in leftovers if f.get("run_id") == first["run_id"]]
    db = firestore_client(stack)
    query = db.collection("runs").where(filter=FieldFilter("client_message_id", "==", "again-1"))
    runs = list(query.stream())
    assert [snap.id for snap in runs] == [first["run_id"]]
    assert len(list(db.collection(f"runs/{first['run_id']}/events").stream())) == len(events)


def test_reconnect_and_resume_gets_every_remaining_event_once(stack: RunningStack) -> None:
    async def body() -> tuple[list[Frame], list[Frame], str, str]:
        async with connect(stack.stack.ws_url) as client:
            token = str(client.ready["session_token"])
            user_id = client.user_id
            accepted = await client.request(
                {"type": "user_message", "text": PROMPT}, "message_accepted"
            )
            run_id = str(accepted["run_id"])
            head = await client.run_events(run_id, 1)
        # disconnected after the first event; the run goes on without us
        async with connect(stack.stack.ws_url, token=token, via="subprotocol") as again:
            assert again.user_id == user_id
            assert again.subprotocol == "apex.v1"
            await again.send({"type": "resume", "run_id": run_id, "after_seq": head[-1]["seq"]})
            tail = await again.collect_run(run_id)
        return head, tail, run_id, str(accepted["thread_id"])

    head, tail, run_id, thread_id = run(body)
    assert head[0]["seq"] == 1
    assert_complete_run(head + tail, run_id, thread_id)


def test_ten_concurrent_users_each_see_only_their_own_run(stack: RunningStack) -> None:
    async def one_user(index: int) -> tuple[str, Frame, list[Frame], list[Frame]]:
        async with connect(stack.stack.ws_url) as client:
            accepted = await client.request(
                {"type": "user_message", "text": f"{PROMPT} #{index}"}, "message_accepted"
            )
            events = await client.collect_run(accepted["run_id"], within=90)
            await client.request({"type": "ping"}, "pong")
            return client.user_id, accepted, events, client.kept()

    async def body() -> list[tuple[str, Frame, list[Frame], list[Frame]]]:
        return list(await asyncio.gather(*(one_user(i) for i in range(10))))

    results = run(body, within=180)
    assert len({user for user, *_ in results}) == 10
    run_ids = {accepted["run_id"] for _, accepted, _, _ in results}
    for _user, accepted, events, kept in results:
        assert_complete_run(events, accepted["run_id"], accepted["thread_id"])
        foreign: list[Any] = [f for f in kept if f.get("run_id") in run_ids - {accepted["run_id"]}]
        assert foreign == [], "a user received another user's run events"
