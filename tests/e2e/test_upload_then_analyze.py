"""Upload, then analyse: the whole product (edge + functions) over real sockets.

A signed-in user uploads the BurstGPT sample through ``ingest_usage`` and asks
"Analyze my AI costs" over the WebSocket; the report is computed from the upload
(exactly what the cost engine computes over the same file locally), not from a
demo dataset.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
import urllib.parse
from typing import Any

import jwt
import pytest

from apex_core.cost import accumulate, analyze, read_usage
from apex_core.protocol import is_terminal_event
from tests.conftest import SHARED_DATA, RunningStack
from tests.e2e.ws_client import Frame, connect, run

pytestmark = pytest.mark.emulators

BURSTGPT = SHARED_DATA / "burstgpt" / "BurstGPT_1_first400.csv"
MAPPING = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"


def _token(stack: RunningStack, sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, stack.jwt_secret, "HS256")


def _upload(stack: RunningStack, token: str, data: bytes) -> tuple[int, dict[str, Any]]:
    query = urllib.parse.urlencode({"filename": BURSTGPT.name, "model": MAPPING})
    conn = http.client.HTTPConnection(stack.stack.host, stack.stack.ports.ingest_usage, timeout=30)
    try:
        conn.request(
            "POST",
            f"/api/usage?{query}",
            body=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert isinstance(body, dict)
    return response.status, body


def test_an_uploaded_trace_is_what_the_agents_analyse(stack: RunningStack) -> None:
    user = f"upload-user-{secrets.token_hex(4)}"
    token = _token(stack, user)
    data = BURSTGPT.read_bytes()
    status, uploaded = _upload(stack, token, data)
    assert status == 201, uploaded
    assert uploaded["rows"]["imported"] == 400

    async def body() -> list[Frame]:
        async with connect(stack.stack.ws_url, token=token) as client:
            assert (client.user_id, client.ready["demo"]) == (user, False)
            accepted = await client.request(
                {"type": "user_message", "text": "Analyze my AI costs"}, "message_accepted"
            )
            return await client.collect_run(accepted["run_id"])

    events = run(body)
    final = events[-1]
    assert is_terminal_event(final)
    assert final["type"] == "agent_completed", final
    assert not any(e.get("tool") == "load_demo_dataset" for e in events)
    result = final["result"]

    expected = analyze(accumulate(read_usage(data, model_mapping=MAPPING))).to_json()
    assert result["total_cost_usd"] == expected["total_cost_usd"] > 0
    rows = {key: result["rows"][key] for key in ("read", "imported", "rejected")}
    assert rows == {"read": 400, "imported": 400, "rejected": 0}
    assert {m["model"] for m in result["by_model"]} == {"gpt-3.5-turbo", "gpt-4"}
    assert result["by_model"] == expected["by_model"]
