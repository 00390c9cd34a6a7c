"""The chart data of an answer (``result.chart``) as unicode text for ``apex chat``.

A ``line`` chart (spend over time) is a sparkline of block characters with its
first and last label; a ``bar`` chart (a ranking) is one bar per label, scaled
to the largest value. Pure: plain strings, no terminal I/O.
"""

from __future__ import annotations

from typing import Any, Final

SPARKS: Final = "▁▂▃▄▅▆▇█"
BAR_WIDTH: Final = 24
MAX_BARS: Final = 12


def _numbers(chart: Any) -> tuple[list[str], list[float]] | None:
    """Labels and the first series' values, or ``None`` when the data is not a chart."""
    if not isinstance(chart, dict):
        return None
    labels, series = chart.get("labels"), chart.get("series")
    if not isinstance(labels, list) or not isinstance(series, list) or not series:
        return None
    first = series[0]
    values = first.get("values") if isinstance(first, dict) else None
    if not isinstance(values, list) or len(values) != len(labels) or not values:
        return None
    numbers = [float(v) if isinstance(v, int | float) else 0.0 for v in values]
    return [str(label) for label in labels], numbers


def sparkline(values: list[float]) -> str:
    """``▁▃█▅``: each value as a block, lowest to highest."""
    low, high = min(values), max(values)
    span = high - low
    return "".join(
        SPARKS[0 if span == 0 else round((v - low) / span * (len(SPARKS) - 1))] for v in values
    )


def chart_lines(chart: Any) -> list[str]:
    """The chart as lines of text (none when ``chart`` is missing or malformed)."""
    found = _numbers(chart)
    if found is None:
        return []
    labels, values = found
    if chart.get("type") == "line":
        return [f"{labels[0]} {sparkline(values)} {labels[-1]}  (max {max(values):,.2f})"]
    top = max(values) or 1.0
    width = max(len(label) for label in labels[:MAX_BARS])
    return [
        f"{label.ljust(width)} {'█' * max(1, round(value / top * BAR_WIDTH)) if value > 0 else ''} {value:,.2f}"
        for label, value in zip(labels[:MAX_BARS], values[:MAX_BARS], strict=True)
    ]
