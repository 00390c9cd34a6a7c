"""The planner client against recorded tool-call transcripts replayed by a local server.

The model is faked only at the seam: a real HTTP request to a real socket,
answered with a chat-completions response in the API's shape. Every failure
must become a PlannerFailed, on which the caller answers with the parser.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apex_core.query.codec import query_from_json
from apex_core.query.parser import Parsed, parse
from apex_core.query.tool_schema import QUERY_TOOL
from apex_planner.client import PlannerFailed, plan
from apex_planner.settings import PlannerSettings, PlannerSettingsError
from tests.unit.planner.replay_server import ReplayState, replay_server
from tests.unit.query.shapes import shape
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS

TRANSCRIPTS = Path(__file__).resolve().parents[2] / "fixtures" / "planner"


def transcript(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TRANSCRIPTS / name).read_text())
    return data


@pytest.fixture
def server() -> Iterator[tuple[PlannerSettings, ReplayState]]:
    with replay_server() as (base_url, state):
        settings = PlannerSettings(
            base_url=base_url, model="gpt-4o-mini", api_key="sk-test", timeout_seconds=5
        )
        yield settings, state


@pytest.mark.parametrize(
    "name", ["gpt4o_last_week.json", "spike_nov_24.json", "only_anthropic.json", "team_most.json"]
)
def test_a_tool_call_gives_the_query_the_parser_gives(
    server: tuple[PlannerSettings, ReplayState], name: str
) -> None:
    settings, state = server
    recorded = transcript(name)
    state.answer_json(recorded["response"])
    previous = None
    if recorded["previous"]:
        first = parse(recorded["previous"], DEMO, facts=DEMO_FACTS)
        assert isinstance(first, Parsed)
        previous = first.query
    result = plan(
        recorded["question"], DEMO, settings, previous=previous, spike_day=DEMO_FACTS.spike_day
    )
    parsed = parse(recorded["question"], DEMO, previous=previous, facts=DEMO_FACTS)
    assert isinstance(parsed, Parsed)
    assert shape(result.query) == shape(parsed.query)
    counts = recorded["response"]["usage"]
    assert (result.usage.model, result.usage.input_tokens, result.usage.output_tokens) == (
        recorded["response"]["model"],
        counts["prompt_tokens"],
        counts["completion_tokens"],
    )


def test_the_request_is_an_openai_chat_completion_with_the_forced_tool(
    server: tuple[PlannerSettings, ReplayState],
) -> None:
    settings, state = server
    state.answer_json(transcript("only_anthropic.json")["response"])
    first = parse("How much did we spend on gpt-4o last week?", DEMO)
    assert isinstance(first, Parsed)
    plan("only for anthropic", DEMO, settings, previous=first.query)
    (request,) = state.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    assert body["tools"] == [QUERY_TOOL]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "query_usage"}}
    assert body["messages"][-1] == {"role": "user", "content": "only for anthropic"}
    context = json.loads(body["messages"][1]["content"].removeprefix("The user's data: "))
    assert context["model"] == list(DEMO.models)
    assert context["last_day"] == "2025-11-25"
    assert query_from_json(context["previous_query"]) == first.query


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("prose_instead_of_a_call.json", "has no query_usage tool call"),
        (
            "unknown_model.json",
            "not a valid query: arguments.filters[0].values[0]: 'gpt-5' is not a model",
        ),
    ],
)
def test_an_answer_that_is_not_a_valid_query_fails(
    server: tuple[PlannerSettings, ReplayState], name: str, message: str
) -> None:
    settings, state = server
    state.answer_json(transcript(name)["response"])
    with pytest.raises(PlannerFailed) as caught:
        plan(transcript(name)["question"], DEMO, settings)
    assert message in caught.value.message


def test_an_http_error_fails_with_its_status(server: tuple[PlannerSettings, ReplayState]) -> None:
    settings, state = server
    state.answer_json({"error": {"message": "Rate limit reached", "type": "requests"}}, status=429)
    with pytest.raises(PlannerFailed, match="answered HTTP 429") as caught:
        plan("spend last week", DEMO, settings)
    assert "Rate limit reached" in caught.value.message
    assert caught.value.retryable


def test_not_json_fails(server: tuple[PlannerSettings, ReplayState]) -> None:
    settings, state = server
    state.status, state.answer = 200, b"<html>bad gateway</html>"
    with pytest.raises(PlannerFailed, match="not JSON"):
        plan("spend last week", DEMO, settings)


def test_a_slow_planner_times_out(server: tuple[PlannerSettings, ReplayState]) -> None:
    settings, state = server
    state.hold = True
    quick = PlannerSettings(base_url=settings.base_url, model=settings.model, timeout_seconds=0.2)
    with pytest.raises(PlannerFailed, match=r"did not answer within 0.2 s"):
        plan("spend last week", DEMO, quick)
    state.released.set()


def test_an_unreachable_planner_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = PlannerSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_seconds=2)
    with pytest.raises(PlannerFailed, match="unreachable"):
        plan("spend last week", DEMO, settings)


def test_settings_are_off_by_default_and_checked_when_set() -> None:
    assert PlannerSettings.from_env({}) is None
    assert PlannerSettings.from_env({"PLANNER_BASE_URL": " "}) is None
    settings = PlannerSettings.from_env(
        {
            "PLANNER_BASE_URL": "http://127.0.0.1:11434/v1/",
            "PLANNER_MODEL": "qwen2.5:7b-instruct",
            "PLANNER_API_KEY": "secret-value",
            "PLANNER_TIMEOUT_SECONDS": "4.5",
        }
    )
    assert settings is not None
    assert settings.completions_url == "http://127.0.0.1:11434/v1/chat/completions"
    assert settings.timeout_seconds == 4.5
    assert "secret-value" not in repr(settings)
    with pytest.raises(PlannerSettingsError, match="PLANNER_MODEL must name the model"):
        PlannerSettings.from_env({"PLANNER_BASE_URL": "https://api.openai.com/v1"})
    with pytest.raises(PlannerSettingsError, match="PLANNER_BASE_URL must be an http"):
        PlannerSettings.from_env({"PLANNER_BASE_URL": "api.openai.com", "PLANNER_MODEL": "m"})
    with pytest.raises(PlannerSettingsError, match="PLANNER_TIMEOUT_SECONDS must be in"):
        PlannerSettings.from_env(
            {
                "PLANNER_BASE_URL": "https://x/v1",
                "PLANNER_MODEL": "m",
                "PLANNER_TIMEOUT_SECONDS": "0",
            }
        )
