"""Processes killed for real: the supervisor restarts them and no accepted run is lost.

Each test starts a :class:`~tests.e2e.fault_stack.FaultStack` of its own (functions and
edge supervised like ``scripts/dev`` does), sends signals to process groups and
checks, after the fault healed, that every run ended once and reached its user.
"""

from __future__ import annotations

import signal

from emulators.processes import tcp_ready
from tests.e2e.conftest import StartFaultStack
from tests.e2e.fault_checks import EventTap, assert_run_delivered_once
from tests.e2e.fault_stack import wait_until
from tests.e2e.ws_client import connect, run

PROMPT = "Analyze my AI costs"
# Slow enough steps that a kill lands mid-run on a loaded machine.
SLOW_STEPS = {"AGENT_STEP_DELAY_MS": "250", "RUN_LEASE_SECONDS": "10"}


def test_a_killed_function_is_restarted_logged_and_serves_again(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack()
    old = stack.kill("ingest_usage", signal.SIGKILL)
    stack.wait_restarted("ingest_usage", old)
    assert tcp_ready("127.0.0.1", stack.ports.ingest_usage)()
    crash = [
        r for r in stack.reports if r.startswith(f"ingest_usage (pid {old}) killed by SIGKILL")
    ]
    assert crash, f"no crash report naming the exit status; reports: {stack.reports}"
    wait_until(
        lambda: any(r.startswith("ingest_usage is ready again") for r in stack.reports),
        within=30,
        what="the supervisor reporting ingest_usage ready",
    )
    assert stack.supervisor.restarts("ingest_usage") == 1
    assert stack.supervisor.restarts("run_agent") == 0


def test_run_agent_killed_mid_run_completes_once_and_the_user_sees_it(
    fault_stack: StartFaultStack,
) -> None:
    stack = fault_stack(**SLOW_STEPS)
    tap = EventTap(stack.project)

    async def body() -> tuple[str, list[dict[str, object]], int]:
        async with connect(stack.ws_url, token=stack.token("kim")) as client:
            accepted = await client.request(
                {"type": "user_message", "text": PROMPT, "client_message_id": "kill-run-agent"},
                "message_accepted",
            )
            run_id = str(accepted["run_id"])
            head = await client.run_events(run_id, 4, within=90)
            killed = stack.kill("run_agent")
            tail = await client.collect_run(run_id, within=200)
            return run_id, head + tail, killed

    try:
        run_id, events, killed = run(body, within=240)
        stack.wait_restarted("run_agent", killed)
        assert_run_delivered_once(events, stack.stored_events(run_id), run_id=run_id)
        run_doc = stack.run_doc(run_id)
        assert run_doc["status"] == "completed"
        assert run_doc["attempts"] >= 2, "the run was resumed by a second delivery"
        tap.drain()
        tap.assert_one_content_per_seq(run_id)
    finally:
        tap.close()
