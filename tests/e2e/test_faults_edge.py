"""The edge killed, stopped or rotated mid-run: the client reconnects, resumes, loses nothing.

A demo user keeps its identity across reconnects with the ``session_token`` of
its first ``connection_ready``; after the fault it reconnects (to the restarted
instance or to another one) and sends ``resume`` with the last seq it has.
"""

from __future__ import annotations

import asyncio
import signal
import time

from google.cloud.pubsub_v1 import SubscriberClient
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from apex_core import names
from apex_core.protocol import is_terminal_event
from emulators.stack import EDGE_PROCESS
from tests.e2e.conftest import StartFaultStack
from tests.e2e.fault_checks import assert_run_delivered_once
from tests.e2e.fault_stack import FaultStack, wait_until
from tests.e2e.ws_client import ApexClient, Frame, connect, run

PROMPT = "Analyze my AI costs"
SLOW_STEPS = {"AGENT_STEP_DELAY_MS": "100"}
RECONNECT_WITHIN_SECONDS = 240.0


async def reconnect_and_resume(
    url: str, token: str, run_id: str, after_seq: int, *, user_id: str
) -> list[Frame]:
    """Reconnect and resume ``run_id`` after ``after_seq`` until its terminal event, as the
    CLI and the page do: a refused or closed connection (the edge restarting, a 1001) is
    reconnected, resuming after the last seq in order; events are put in seq order, each
    once (on a new socket a live event may arrive before the replay of the resume). A seq
    received twice must have the same content."""
    deadline = time.monotonic() + RECONNECT_WITHIN_SECONDS
    got: dict[int, Frame] = {}

    def in_order() -> list[Frame]:
        frames = []
        for seq in range(after_seq + 1, after_seq + 1 + len(got)):
            if seq not in got:
                break
            frames.append(got[seq])
        return frames

    while not in_order() or not is_terminal_event(in_order()[-1]):
        last = after_seq + len(in_order())
        try:
            async with connect(url, token=token, via="subprotocol") as client:
                assert client.user_id == user_id, "the session token kept the demo identity"
                await client.send({"type": "resume", "run_id": run_id, "after_seq": last})
                while not in_order() or not is_terminal_event(in_order()[-1]):
                    (frame,) = await client.run_events(run_id, 1, within=60)
                    seq = int(frame["seq"])
                    assert got.setdefault(seq, frame) == frame, f"seq {seq} sent twice, differing"
        except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not reconnect and resume: {exc!r}") from exc
            await asyncio.sleep(0.5)  # the edge is restarting: poll its port again
    return in_order()


async def start_run(client: ApexClient, tag: str) -> tuple[str, list[Frame]]:
    accepted = await client.request(
        {"type": "user_message", "text": PROMPT, "client_message_id": tag}, "message_accepted"
    )
    run_id = str(accepted["run_id"])
    return run_id, await client.run_events(run_id, 3, within=150)


def edge_subscriptions(stack: FaultStack) -> set[str]:
    client = SubscriberClient()
    try:
        found = client.list_subscriptions(request={"project": f"projects/{stack.project}"})
        return {
            s.name
            for s in found
            if s.name.rsplit("/", 1)[-1].startswith(names.EDGE_EVENTS_SUBSCRIPTION_PREFIX)
        }
    finally:
        client.close()


def test_edge_killed_mid_run_restarts_and_the_client_resumes_every_event(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(**SLOW_STEPS)

    async def body() -> tuple[str, list[Frame], int]:
        async with connect(stack.ws_url) as client:
            token, user_id = str(client.ready["session_token"]), client.user_id
            run_id, head = await start_run(client, "edge-kill")
            killed = stack.kill(EDGE_PROCESS)
            closed = await client.wait_closed(within=30)
            assert closed.code != 1011
        tail = await reconnect_and_resume(
            stack.ws_url, token, run_id, head[-1]["seq"], user_id=user_id
        )
        return run_id, head + tail, killed

    run_id, events, killed = run(body, within=280)
    stack.wait_restarted(EDGE_PROCESS, killed)
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)


def test_edge_killed_mid_run_the_client_resumes_on_another_instance(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(**SLOW_STEPS)
    other_url = stack.start_edge("edge-2")

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url) as client:
            token, user_id = str(client.ready["session_token"]), client.user_id
            run_id, head = await start_run(client, "edge-kill-other")
            stack.kill(EDGE_PROCESS)
            await client.wait_closed(within=30)
        tail = await reconnect_and_resume(
            other_url, token, run_id, head[-1]["seq"], user_id=user_id
        )
        return run_id, head + tail

    run_id, events = run(body, within=280)
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)


def test_edge_sigterm_closes_with_1001_deletes_its_subscription_and_loses_no_run(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(**SLOW_STEPS)
    before = edge_subscriptions(stack)
    assert len(before) == 1, before

    async def body() -> tuple[str, list[Frame], float]:
        async with connect(stack.ws_url) as client:
            token, user_id = str(client.ready["session_token"]), client.user_id
            run_id, head = await start_run(client, "edge-sigterm")
            stopped_at = time.monotonic()
            stack.kill(EDGE_PROCESS, signal.SIGTERM)
            closed = await client.wait_closed(within=10)
            closed_after = time.monotonic() - stopped_at
            assert (closed.code, closed.reason) == (
                1001,
                "server shutting down, reconnect and resume",
            )
        tail = await reconnect_and_resume(
            stack.ws_url, token, run_id, head[-1]["seq"], user_id=user_id
        )
        return run_id, head + tail, closed_after

    run_id, events, closed_after = run(body, within=280)
    assert closed_after < 10, "closed within Cloud Run's SIGTERM grace"
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)
    exits = [r for r in stack.reports if r.startswith(f"{EDGE_PROCESS} (pid")]
    assert exits, f"the supervisor saw the edge exit; reports: {stack.reports}"
    assert "exit code 0" in exits[0], "a clean exit after SIGTERM"
    after = edge_subscriptions(stack)
    assert not before & after, "the stopped instance deleted its subscription"
    assert len(after) == 1, "the restarted instance has one of its own"


def test_connection_lifetime_closes_with_1001_and_the_client_resumes(
    fault_stack: StartFaultStack,
) -> None:
    # Steps slow enough that the run outlasts the first socket's lifetime.
    stack = fault_stack(AGENT_STEP_DELAY_MS="400", EDGE_MAX_CONNECTION_SECONDS="5")

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url) as client:
            token, user_id = str(client.ready["session_token"]), client.user_id
            accepted = await client.request(
                {"type": "user_message", "text": PROMPT, "client_message_id": "lifetime"},
                "message_accepted",
            )
            run_id = str(accepted["run_id"])
            closed = await client.wait_closed(within=30)
            assert (closed.code, closed.reason) == (
                1001,
                "connection lifetime reached, reconnect and resume",
            )
            head = [f for f in client.kept() if f.get("run_id") == run_id and "seq" in f]
        if head and is_terminal_event(head[-1]):  # the run ended within the first lifetime
            return run_id, head
        after = head[-1]["seq"] if head else 0
        tail = await reconnect_and_resume(stack.ws_url, token, run_id, after, user_id=user_id)
        return run_id, head + tail

    run_id, events = run(body, within=280)
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)


def test_subscription_deleted_underneath_the_edge_is_recreated_and_nothing_is_lost(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(**SLOW_STEPS)
    (subscription,) = edge_subscriptions(stack)

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url, token=stack.token("oli")) as client:
            run_id, head = await start_run(client, "subscription-deleted")
            admin = SubscriberClient()
            try:
                admin.delete_subscription(request={"subscription": subscription}, timeout=10)
            finally:
                admin.close()
            return run_id, head + await client.collect_run(run_id, within=200)

    run_id, events = run(body, within=280)
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)
    wait_until(
        lambda: subscription in edge_subscriptions(stack),
        within=60,
        what="the edge recreating its events subscription",
    )
    assert "the events stream ended" in stack.log(EDGE_PROCESS)
