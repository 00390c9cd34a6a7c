"""A run past its deadline ends as ``timed_out``: partial events kept, one terminal agent_error."""

from __future__ import annotations

from tests.e2e.conftest import StartFaultStack
from tests.e2e.fault_checks import assert_run_delivered_once
from tests.e2e.ws_client import Frame, connect, run


def test_a_run_past_its_deadline_is_timed_out_and_keeps_its_partial_events(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(RUN_DEADLINE_SECONDS="2", AGENT_STEP_DELAY_MS="400")

    async def body() -> tuple[str, list[Frame]]:
        async with connect(stack.ws_url, token=stack.token("pia")) as client:
            accepted = await client.request(
                {"type": "user_message", "text": "Analyze my AI costs"}, "message_accepted"
            )
            run_id = str(accepted["run_id"])
            return run_id, await client.collect_run(run_id, within=120)

    run_id, events = run(body, within=200)
    assert_run_delivered_once(
        events, stack.stored_events(run_id), run_id=run_id, status="timed_out"
    )
    terminal = events[-1]
    assert (terminal["code"], terminal["retryable"]) == ("timed_out", True)
    assert len(events) > 2, "the events before the deadline are kept"
    run_doc = stack.run_doc(run_id)
    assert run_doc["status"] == "timed_out"
    assert run_doc["error"]["code"] == "timed_out"
    assert run_doc["last_seq"] == terminal["seq"]
