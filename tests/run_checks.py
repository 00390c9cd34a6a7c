"""What a complete analysis run looks like, checked the same way by the unit tests
(agents on an in-memory sink), the integration tests (the functions on the
emulators) and the end-to-end tests (through the edge)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from apex_core.protocol import EVENT_TYPES, is_terminal_event

SUB_AGENTS: Final = ("triage", "data", "optimization", "reporting")
FIVE_TYPES: Final = EVENT_TYPES - {"agent_error"}
"""The event types every sub-agent of a successful run emits."""
RESULT_KEYS: Final = {"total_cost_usd", "by_day", "by_model", "recommendations", "unpriced", "rows"}


def assert_complete_analysis(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Seq 1..N with no gap or duplicate; every sub-agent emitted the five types; one
    terminal event, the last: the supervisor's final ``agent_completed`` with a
    markdown report and the ``apex analyze --json`` result. Returns that event."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), (
        "in order, no gap, no duplicate"
    )
    for agent in SUB_AGENTS:
        types = {e["type"] for e in events if e["agent"] == agent}
        assert types == FIVE_TYPES, f"{agent} emitted {sorted(types)}"
    assert [e for e in events if is_terminal_event(e)] == [events[-1]]
    final = events[-1]
    assert final["type"] == "agent_completed"
    assert final["final"] is True
    assert set(final["result"]) >= RESULT_KEYS
    assert final["response"].startswith("# AI cost analysis")
    return final
