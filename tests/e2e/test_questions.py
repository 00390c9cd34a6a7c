"""Questions over the WebSocket: upload a known usage file through ingest, ask, and check the
exact figures, names and rankings of each answer against costs computed here row by row
with genai-prices (tests/question_usage.py), not with the code under test."""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import jwt
import pytest

from apex_core.protocol import is_terminal_event
from tests.conftest import RunningStack
from tests.e2e.ws_client import ApexClient, Frame, connect, run
from tests.question_usage import ROWS, Line, dollars, price_of, usage_csv

pytestmark = pytest.mark.emulators

WEEK_BEFORE = Line(
    "2025-09-24T09:00:00Z", "openai", "gpt-4o", 3000, 0, 600, 2, "support-chat", "u1"
)
USAGE = [WEEK_BEFORE, *ROWS]


def _token(stack: RunningStack, sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, stack.jwt_secret, "HS256")


def _upload(stack: RunningStack, token: str, data: bytes) -> dict[str, Any]:
    conn = http.client.HTTPConnection(stack.stack.host, stack.stack.ports.ingest_usage, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/usage?filename=usage.csv",
            body=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 201, body
    assert isinstance(body, dict)
    return body


def _sum(rows: list[Line], model: str | None = None) -> Decimal:
    return sum((price_of(r, model) for r in rows), Decimal(0))


def _day(row: Line) -> str:
    return row.at[:10]


async def _ask(client: ApexClient, text: str, thread_id: str | None = None) -> tuple[Frame, str]:
    frame: Frame = {"type": "user_message", "text": text}
    if thread_id is not None:
        frame["thread_id"] = thread_id
    accepted = await client.request(frame, "message_accepted")
    events = await client.collect_run(accepted["run_id"])
    final = events[-1]
    assert is_terminal_event(final)
    assert final["type"] == "agent_completed", final
    return final, str(accepted["thread_id"])


def test_questions_get_the_figure_they_asked_for(stack: RunningStack) -> None:
    user = f"question-user-{secrets.token_hex(4)}"
    token = _token(stack, user)
    uploaded = _upload(stack, token, usage_csv(USAGE))
    assert uploaded["rows"]["imported"] == len(USAGE)

    async def body() -> dict[str, Frame]:
        answers: dict[str, Frame] = {}
        async with connect(stack.stack.ws_url, token=token) as client:
            answers["last_week"], thread = await _ask(
                client, "How much did we spend on gpt-4o last week?"
            )
            answers["week_before"], _ = await _ask(client, "and the week before?", thread)
            answers["top"], _ = await _ask(client, "top 2 models by cost")
            answers["why"], _ = await _ask(client, "Why did costs spike on Oct 6?")
            answers["what_if"], _ = await _ask(client, "what if support-chat used gpt-4o-mini")
            answers["unknown"], _ = await _ask(client, "How much did we spend on team-zeta?")
        # a follow-up after a reconnect: the previous query is stored with the thread
        async with connect(stack.stack.ws_url, token=token) as client:
            answers["again"], _ = await _ask(client, "and the week before?", thread)
        return answers

    answers = run(body, within=300.0)

    gpt4o = [r for r in USAGE if r.model == "gpt-4o"]
    last_week = _sum([r for r in gpt4o if "2025-09-29" <= _day(r) <= "2025-10-05"])
    assert answers["last_week"]["response"].startswith(
        f"You spent {dollars(last_week)} on model gpt-4o last week (29 Sep - 5 Oct 2025"
    )
    assert answers["last_week"]["result"]["figures"]["cost"] == float(round(last_week, 6))

    before = _sum([r for r in gpt4o if "2025-09-22" <= _day(r) <= "2025-09-28"])
    assert answers["week_before"]["response"].startswith(
        f"You spent {dollars(before)} on model gpt-4o the week before (22-28 Sep 2025"
    )
    # after the reconnect the thread's stored query (22-28 Sep) is what "the week before" refines;
    # the week before that has no usage, and the answer says so
    again = answers["again"]
    assert again["response"].startswith(
        "I understood: cost; model gpt-4o; the week before (15-21 Sep 2025"
    )
    assert again["result"]["parsed"]["reason"] == "no_data"

    by_model: dict[str, Decimal] = defaultdict(Decimal)
    for row in USAGE:
        by_model[row.model] += price_of(row)
    ranked = sorted(by_model.items(), key=lambda item: -item[1])
    top = answers["top"]
    assert top["result"]["table"]["rows"] == [
        {"model": m, "cost": float(round(c, 6))} for m, c in ranked[:2]
    ]
    assert f"is {ranked[0][0]}: {dollars(ranked[0][1])}" in top["response"]
    assert f"| {ranked[1][0]} | {dollars(ranked[1][1])} |" in top["response"]

    spike_day = _sum([r for r in USAGE if _day(r) == "2025-10-06"])
    baseline = _sum([r for r in USAGE if "2025-09-29" <= _day(r) <= "2025-10-05"]) / 7
    why = answers["why"]["response"]
    assert why.startswith(
        f"You spent {dollars(spike_day)} on 6 Oct 2025, up {dollars(spike_day - baseline)}"
    )
    assert f"from {dollars(baseline)} in the 7 days before" in why
    assert "Driven by model gpt-4o" in why
    assert "feature support-chat" in why

    chat = [r for r in USAGE if r.feature == "support-chat"]
    now, mini = _sum(chat), _sum(chat, "gpt-4o-mini")
    assert answers["what_if"]["response"].startswith(
        f"Switching to gpt-4o-mini would have cost {dollars(mini)} instead of {dollars(now)} on "
        f"feature support-chat over all your data: {dollars(now - mini)} less"
    )

    unknown = answers["unknown"]
    assert unknown["result"]["intent"] == "not_understood"
    assert '"team-zeta" is not a name in your usage' in unknown["response"]
    assert "You could ask:" in unknown["response"]
    assert "total_cost_usd" not in unknown["result"], "never the full report silently"
