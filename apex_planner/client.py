"""One planner call: POST the message to ``/chat/completions``, validate the tool call.

Standard library HTTP (``urllib``), one request, a timeout from the settings.
Every way it can fail (unreachable, timeout, HTTP error, not JSON, no tool
call, arguments that are not a valid query) is a :class:`PlannerFailed` whose
message says what happened; the caller then answers with the deterministic
parser and says so in an ``agent_thinking`` event.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from apex_core.errors import ApexError
from apex_core.query.errors import InvalidQuery
from apex_core.query.model import Query
from apex_core.query.tool_schema import TOOL_NAME, query_from_tool_arguments
from apex_core.query.vocabulary import Vocabulary
from apex_planner.prompt import request_body
from apex_planner.settings import PlannerSettings

MAX_RESPONSE_BYTES: Final = 1 << 20


class PlannerFailed(ApexError):
    """The planner gave no usable query; the deterministic parser answers instead."""

    code = "planner_failed"
    retryable = True


@dataclass(frozen=True, slots=True)
class PlannerUsage:
    """The planner call's own tokens, to price with genai-prices and show in the result."""

    model: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The query the model chose, and what asking it used."""

    query: Query
    usage: PlannerUsage


def plan(
    text: str,
    vocabulary: Vocabulary,
    settings: PlannerSettings,
    *,
    previous: Query | None = None,
    spike_day: date | None = None,
) -> Plan:
    """Ask the configured model for the query ``text`` means; :class:`PlannerFailed` if it
    does not give a valid one in time."""
    body = request_body(text, vocabulary, model=settings.model, previous=previous)
    response = _post(settings, body)
    arguments, usage = _tool_call(response, settings.model)
    try:
        query = query_from_tool_arguments(arguments, vocabulary, spike_day=spike_day)
    except InvalidQuery as error:
        raise PlannerFailed(
            f"the planner's tool call is not a valid query: {error.message}"
        ) from error
    return Plan(query, usage)


def _post(settings: PlannerSettings, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked in settings
        settings.completions_url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    where = settings.completions_url
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as reply:  # noqa: S310
            raw = reply.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode(errors="replace")
        raise PlannerFailed(
            f"the planner at {where} answered HTTP {error.code}: {detail}"
        ) from error
    except TimeoutError as error:
        raise PlannerFailed(
            f"the planner at {where} did not answer within {settings.timeout_seconds:g} s"
        ) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise PlannerFailed(
                f"the planner at {where} did not answer within {settings.timeout_seconds:g} s"
            ) from error
        raise PlannerFailed(f"the planner at {where} is unreachable: {error.reason}") from error
    except OSError as error:
        raise PlannerFailed(f"the planner at {where} failed: {error}") from error
    if len(raw) > MAX_RESPONSE_BYTES:
        raise PlannerFailed(f"the planner's answer is over {MAX_RESPONSE_BYTES} bytes")
    try:
        decoded = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PlannerFailed(f"the planner's answer is not JSON: {raw[:120]!r}") from error
    if not isinstance(decoded, dict):
        raise PlannerFailed(f"the planner's answer is not a JSON object: {raw[:120]!r}")
    return decoded


def _tool_call(response: dict[str, Any], model: str) -> tuple[str, PlannerUsage]:
    """The arguments of the response's ``query_usage`` call, and the call's token usage."""
    try:
        message = response["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        call = next(c for c in calls if c["function"]["name"] == TOOL_NAME)
        arguments = call["function"]["arguments"]
    except (KeyError, IndexError, TypeError, StopIteration, AttributeError) as error:
        raise PlannerFailed(
            f"the planner's answer has no {TOOL_NAME} tool call: {json.dumps(response)[:200]}"
        ) from error
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    counts = response.get("usage") or {}
    usage = PlannerUsage(
        model=str(response.get("model") or model),
        input_tokens=_count(counts.get("prompt_tokens")),
        output_tokens=_count(counts.get("completion_tokens")),
    )
    return arguments, usage


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
