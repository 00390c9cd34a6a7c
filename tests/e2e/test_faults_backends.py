"""Pub/Sub or Firestore unreachable or slow: nothing accepted is lost, sockets stay open.

The product's processes reach the emulators through the stack's TCP proxies;
``pause`` holds every byte (what a SIGSTOPped emulator looks like), ``drop``
resets every connection, ``slow_down`` delays every call.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.conftest import StartFaultStack
from tests.e2e.fault_checks import EventTap, assert_run_delivered_once
from tests.e2e.ws_client import ApexClient, Frame, connect, run

PROMPT = "Analyze my AI costs"
PUBLISH_TIMEOUT_SECONDS = 3.0
STORE_TIMEOUT_SECONDS = 3.0
RESEND_WITHIN_SECONDS = 120.0


async def resend_until_accepted(client: ApexClient, frame: Frame) -> Frame:
    """Send ``frame`` until it is accepted, backing off after each retryable refusal."""
    deadline = time.monotonic() + RESEND_WITHIN_SECONDS
    while True:
        await client.send(frame)
        answer = await client.next_of("message_accepted", "error", within=60)
        if answer["type"] == "message_accepted":
            return answer
        assert answer["retryable"] is True, answer
        assert time.monotonic() < deadline, f"still refused after {RESEND_WITHIN_SECONDS} s"
        await asyncio.sleep(1.0)


@pytest.mark.parametrize("fault", ["pause", "drop"])
def test_pubsub_unreachable_refuses_new_messages_retryably_and_the_run_in_flight_finishes(
    fault_stack: StartFaultStack, fault: str
) -> None:
    stack = fault_stack(
        AGENT_STEP_DELAY_MS="200", EDGE_PUBLISH_TIMEOUT_SECONDS=str(PUBLISH_TIMEOUT_SECONDS)
    )
    tap = EventTap(stack.project)

    async def body() -> tuple[str, list[Frame], str, list[Frame]]:
        async with connect(stack.ws_url, token=stack.token("lee")) as client:
            first = await client.request(
                {"type": "user_message", "text": PROMPT, "client_message_id": "before"},
                "message_accepted",
            )
            in_flight = str(first["run_id"])
            head = await client.run_events(in_flight, 2, within=90)
            getattr(stack.pubsub_proxy, fault)()
            try:
                refused = await client.request(
                    {"type": "user_message", "text": PROMPT, "client_message_id": "during"},
                    "error",
                    within=PUBLISH_TIMEOUT_SECONDS + 20,
                )
                assert refused["code"] == "unavailable", refused
                assert refused["retryable"] is True
                assert refused["client_message_id"] == "during"
                await client.request({"type": "ping"}, "pong")
                accepted_types = {f["type"] for f in client.kept()}
                assert "message_accepted" not in accepted_types, "nothing accepted while down"
            finally:
                stack.pubsub_proxy.restore()
            # A client re-sends a retryable refusal; the bus may need a moment to reconnect.
            again = await resend_until_accepted(
                client, {"type": "user_message", "text": PROMPT, "client_message_id": "during"}
            )
            retried = str(again["run_id"])
            in_flight_events = head + await client.collect_run(in_flight, within=180)
            retried_events = await client.collect_run(retried, within=180)
            return in_flight, in_flight_events, retried, retried_events

    try:
        in_flight, in_flight_events, retried, retried_events = run(body, within=290)
        assert_run_delivered_once(
            in_flight_events, stack.stored_events(in_flight), run_id=in_flight
        )
        assert_run_delivered_once(retried_events, stack.stored_events(retried), run_id=retried)
        tap.drain()
        tap.assert_one_content_per_seq(in_flight)
        tap.assert_one_content_per_seq(retried)
        assert stack.run_doc(retried)["attempts"] >= 1
    finally:
        tap.close()


def test_firestore_unreachable_mid_run_edge_answers_unavailable_and_the_run_completes(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(
        AGENT_STEP_DELAY_MS="200", EDGE_STORE_TIMEOUT_SECONDS=str(STORE_TIMEOUT_SECONDS)
    )

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url, token=stack.token("max")) as client:
            accepted = await client.request(
                {"type": "user_message", "text": PROMPT, "client_message_id": "store-down"},
                "message_accepted",
            )
            run_id, thread_id = str(accepted["run_id"]), str(accepted["thread_id"])
            head = await client.run_events(run_id, 2, within=90)
            stack.firestore_proxy.drop()
            try:
                thread = await client.request(
                    {"type": "get_thread", "thread_id": thread_id}, "error", within=60
                )
                assert (thread["code"], thread["retryable"]) == ("unavailable", True), thread
                await client.send({"type": "resume", "run_id": run_id, "after_seq": 0})
                resumed = await client.next_matching(
                    lambda f: f.get("type") == "error" and f.get("request_type") == "resume",
                    within=60,
                )
                assert (resumed["code"], resumed["retryable"]) == ("unavailable", True), resumed
                await client.request({"type": "ping"}, "pong")
            finally:
                stack.firestore_proxy.restore()
            tail = await client.collect_run(run_id, within=200)
            answer = await client.request({"type": "get_thread", "thread_id": thread_id}, "thread")
            assert [r["status"] for r in answer["runs"]] == ["completed"]
            return run_id, head + tail

    run_id, events = run(body, within=290)
    # The live tail and the failed resume's replay may overlap: the edge sends each seq once.
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)
    assert stack.run_doc(run_id)["status"] == "completed"


def test_slow_firestore_two_seconds_a_call_the_run_completes_in_order(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack()

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url, token=stack.token("noa")) as client:
            accepted = await client.request(
                {"type": "user_message", "text": "hello!", "client_message_id": "slow"},
                "message_accepted",
            )
            stack.firestore_proxy.slow_down(2.0)
            run_id = str(accepted["run_id"])
            return run_id, await client.collect_run(run_id, within=240)

    run_id, events = run(body, within=280)
    stack.firestore_proxy.restore()
    assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)
    assert events[-1]["result"]["intent"] == "off_topic"
