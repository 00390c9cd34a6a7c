"""The answer in words: one direct sentence with the figure first, then the table behind it,
then the assumptions (chart data goes in the run's ``result``, not in the text).

Dollars follow the report's one money rule (:func:`apex_core.cost.format_usd`:
cents from a dollar up, three significant figures below), rounded half-even from
the exact ``Decimal`` the engine computed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from apex_core.answers.execute import Result, Row
from apex_core.answers.scope import TIME_DIMENSIONS
from apex_core.answers.what_if import Repricing
from apex_core.answers.why import Change, Explanation
from apex_core.cost.analysis.report import format_usd
from apex_core.query.describe import DIMENSION_WORDS, MEASURE_WORDS, filter_phrase, period_phrase
from apex_core.query.model import Measure, Query
from apex_core.query.periods import Period

CENT: Final = Decimal("0.01")
MONEY: Final = frozenset({"cost", "cost_per_request", "cost_per_1k_tokens"})


def money(value: Decimal) -> str:
    """``$1,234.56``; ``$0.247`` below a dollar; ``-$3.00`` below zero (the report's rule)."""
    return format_usd(value)


def shown(measure: Measure, value: Decimal | int | None) -> str:
    """A measure as the answer shows it."""
    if value is None:
        return "n/a"
    if measure == "share_of_spend":
        return percent(Decimal(value))
    if measure in MONEY:
        return money(Decimal(value))
    return f"{value:,}"


def percent(share: Decimal) -> str:
    """``18.2%``."""
    return f"{(share * 100).quantize(Decimal('0.1'), ROUND_HALF_EVEN)}%"


def when(period: Period) -> str:
    """``on 6 Oct 2025`` / ``last week (…)`` / ``in October 2025`` / ``over all your data``."""
    if period.is_whole:
        return "over all your data"
    if period.is_relative:
        return period_phrase(period)
    return f"on {period_phrase(period)}" if period.days == 1 else f"in {period_phrase(period)}"


def scope(query: Query) -> str:
    """`` on model gpt-4o`` (with its leading space), or nothing without filters."""
    return " on " + " and ".join(filter_phrase(f) for f in query.filters) if query.filters else ""


def headline(result: Result) -> str:
    """The direct sentence of a ``measure`` answer."""
    query = result.query
    measure = query.measures[0]
    if query.comparison is not None and result.comparison is not None:
        now, before = result.total.cost, result.comparison.cost
        if measure != "cost":
            return (
                f"{MEASURE_WORDS[measure].capitalize()}{scope(query)} {when(query.period)}: "
                f"{shown(measure, result.value(measure))}, against "
                f"{shown(measure, result.comparison.value(measure, whole=result.comparison_spend))} "
                f"{period_phrase(query.comparison)}."
            )
        return f"You spent {money(now)}{scope(query)} {when(query.period)}, {_change(now, before)} {money(before)} {period_phrase(query.comparison)}."
    if query.breakdown is not None and result.rows:
        return _breakdown(result, result.rows[0])
    if measure == "cost":
        share = ""
        if query.filters and result.period_spend:
            share = (
                f", {percent(result.total.cost / result.period_spend)} of all spend in that period"
            )
        return f"You spent {money(result.total.cost)}{scope(query)} {when(query.period)}{share}."
    return (
        f"{MEASURE_WORDS[measure].capitalize()}{scope(query)} {when(query.period)}: "
        f"{shown(measure, result.value(measure))}."
    )


def _change(now: Decimal, before: Decimal) -> str:
    delta = now - before
    direction = "up" if delta >= 0 else "down"
    rate = f" ({percent(abs(delta) / before)})" if before else ""
    return f"{direction} {money(abs(delta))}{rate} from"


def _breakdown(result: Result, first: Row) -> str:
    query = result.query
    measure = query.measures[0]
    dimension = query.breakdown or "day"
    value = shown(measure, result.value(measure, first.tally))
    if dimension in TIME_DIMENSIONS and query.ranking is None:
        peak = max(result.rows, key=lambda row: (row.tally.cost, row.label))
        return (
            f"You spent {money(result.total.cost)}{scope(query)} {when(query.period)}; the most on "
            f"{DIMENSION_WORDS[dimension]} {peak.label}, {money(peak.tally.cost)}."
        )
    most = "least" if query.ranking is not None and query.ranking.direction == "bottom" else "most"
    of_total = ""
    if measure == "cost" and result.total.cost:
        of_total = f", {percent(first.tally.cost / result.total.cost)} of the {money(result.total.cost)} in scope"
    word = (
        "spent"
        if measure in ("cost", "share_of_spend")
        else f"had the {most} {MEASURE_WORDS[measure]}"
    )
    verb = f"spent the {most}" if word == "spent" else word
    return (
        f"The {DIMENSION_WORDS[dimension]} that {verb}{scope(query)} {when(query.period)} is "
        f"{first.label}: {value}{of_total}."
    )


def why_sentence(query: Query, why: Explanation) -> str:
    """The direct sentence of a ``why`` answer, naming the driver."""
    baseline = why.baseline
    scaled = "" if why.scale == 1 else ", its daily average over the same number of days"
    text = (
        f"You spent {money(why.now)}{scope(query)} {when(query.period)}, "
        f"{_change(why.now, baseline)} {money(baseline)} in {period_phrase(query.comparison)}"
        if query.comparison is not None
        else ""
    )
    text += f"{scaled}."
    drivers = [d for d in (why.driver("model"), why.driver("feature")) if d is not None]
    if drivers:
        text += " Driven by " + " and ".join(_driver(d) for d in drivers) + "."
    return text


def _driver(change: Change) -> str:
    sign = "+" if change.change >= 0 else "-"
    cause = (
        ("more requests" if change.volume >= 0 else "fewer requests")
        if change.effect == "volume"
        else ("a higher cost per request" if change.price >= 0 else "a lower cost per request")
    )
    return f"{change.dimension.replace('_', ' ')} {change.label} ({sign}{money(abs(change.change))}, mostly {cause})"


def what_if_sentence(query: Query, repricing: Repricing) -> str:
    """The direct sentence of a ``what_if`` answer."""
    lever = {
        "switch_model": f"Switching to {repricing.target_model}"
        if repricing.target_model
        else "Routing short answers to a cheaper model",
        "prompt_caching": "Prompt caching",
        "batch": "The batch API",
        "response_cache": "A response cache",
    }[repricing.lever]
    if not repricing.current:
        return f"{lever} would change nothing{scope(query)} {when(query.period)}: no usage in scope it applies to."
    return (
        f"{lever} would have cost {money(repricing.changed)} instead of {money(repricing.current)}"
        f"{scope(query)} {when(query.period)}: {money(repricing.saving)} less, about "
        f"{money(repricing.monthly_saving)} a month."
    )


def table_markdown(result: Result) -> str:
    """The table behind the figure, as markdown."""
    query = result.query
    column = DIMENSION_WORDS[query.breakdown] if query.breakdown else "scope"
    header = [column.capitalize(), *(MEASURE_WORDS[m] for m in query.measures)]
    rows = result.rows or (Row(_scope_label(query), result.total),)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [shown(m, result.value(m, row.tally)) for m in query.measures]
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    if result.groups > len(rows) and result.rows:
        lines.append(f"\n{len(rows)} of {result.groups} groups shown.")
    return "\n".join(lines)


def _scope_label(query: Query) -> str:
    return ", ".join(filter_phrase(f) for f in query.filters) or "all usage"


def answer_markdown(sentence: str, table: str | None, assumptions: tuple[str, ...]) -> str:
    """Sentence, table, assumptions."""
    parts = [sentence]
    if table:
        parts.append(table)
    if assumptions:
        parts.append("Assumptions:\n" + "\n".join(f"- {item}" for item in assumptions))
    return "\n\n".join(parts)
