"""An answer's chart data as unicode text in ``apex chat``."""

from __future__ import annotations

from apex_cli.chart_text import chart_lines, sparkline
from apex_cli.chat_render import RunView, render_run


def test_a_sparkline_runs_from_the_lowest_to_the_highest_block() -> None:
    assert sparkline([1.0, 2.0, 3.0]) == "▁▅█"
    assert sparkline([2.0, 2.0]) == "▁▁"


def test_a_line_chart_is_a_sparkline_between_its_first_and_last_label() -> None:
    chart = {
        "type": "line",
        "labels": ["2025-10-01", "2025-10-02", "2025-10-03"],
        "series": [{"name": "cost", "values": [0.5, 4.0, 1.0]}],
    }
    assert chart_lines(chart) == ["2025-10-01 ▁█▂ 2025-10-03  (max 4.00)"]


def test_a_bar_chart_scales_each_bar_to_the_largest_value() -> None:
    chart = {
        "type": "bar",
        "labels": ["gpt-4o", "mini"],
        "series": [{"name": "cost", "values": [2.0, 1.0]}],
    }
    assert chart_lines(chart) == ["gpt-4o " + "█" * 24 + " 2.00", "mini   " + "█" * 12 + " 1.00"]


def test_malformed_chart_data_draws_nothing() -> None:
    assert chart_lines(None) == []
    assert chart_lines({"type": "bar", "labels": ["a"], "series": [{"values": [1, 2]}]}) == []


def test_the_final_event_of_a_question_shows_its_chart() -> None:
    view = RunView()
    view.apply({
        "type": "agent_completed", "agent": "supervisor", "seq": 1, "final": True,
        "response": "You spent $3.00.",
        "result": {"chart": {"type": "bar", "labels": ["a"], "series": [{"values": [3.0]}]}},
    })  # fmt: skip
    assert view.chart == ["a " + "█" * 24 + " 3.00"]
    assert render_run(view) is not None
