"""Which cells of a roll-up a query keeps, and which group of a breakdown a cell falls in.

Feature cells and end-user cells are two tables (the roll-up does not keep
features x end users): a query about end users (a filter or breakdown) reads the
end-user table, every other query the feature table, and a query naming both is
refused with :class:`~apex_core.answers.errors.CannotAnswer`. Stored end-user cells
are summed per price period (``UsageRollup.merge_user_periods``), so an end-user
query over some days, not the whole data, is refused too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final

from apex_core.answers.errors import CannotAnswer
from apex_core.cost import FeatureCell, FeatureKey, UsageRollup, UserCell, UserKey
from apex_core.query.model import Dimension, FilterDimension, Query
from apex_core.query.periods import Period, week_start

Key = FeatureKey | UserKey
Cell = FeatureCell | UserCell
BATCH_LABELS: Final = {True: "batch", False: "interactive"}


def uses_end_users(query: Query) -> bool:
    """True when the query must read the end-user table; raises when it also needs features."""
    users = query.breakdown == "end_user" or query.filter_on("end_user") is not None
    features = query.breakdown == "feature" or query.filter_on("feature") is not None
    if users and features:
        raise CannotAnswer(
            "your usage is summed by feature and by end user separately, not by both at once; "
            "ask about features or about end users"
        )
    if users and (not query.period.is_whole or query.comparison is not None):
        raise CannotAnswer(
            "end-user usage is stored summed over each run of days with the same prices, not "
            "day by day, so it answers only over all your data; drop the dates or ask by feature"
        )
    return users


def in_period(day: str, period: Period) -> bool:
    """True when the ISO ``day`` lies in ``period`` (always, for the whole data)."""
    if period.start is None or period.end is None:
        return True
    return period.start.isoformat() <= day <= period.end.isoformat()


def _value(key: Key, dimension: FilterDimension) -> str:
    if dimension == "batch":
        return "true" if key.batch else "false"
    if dimension == "feature":
        return key.feature if isinstance(key, FeatureKey) else ""
    if dimension == "end_user":
        return key.end_user if isinstance(key, UserKey) else ""
    return key.provider if dimension == "provider" else key.model


def matches(query: Query, key: Key, *, filters: bool = True) -> bool:
    """True when the cell of ``key`` is in the query's period and (``filters``) its filters."""
    if not in_period(key.day, query.period):
        return False
    return not filters or all(_value(key, f.dimension) in f.values for f in query.filters)


def cells(
    query: Query, rollup: UsageRollup, *, period: Period | None = None, filters: bool = True
) -> Iterator[tuple[Key, Cell]]:
    """The cells the query keeps (of ``period`` instead of the query's own, when given)."""
    scoped = query if period is None else _with_period(query, period)
    table: dict[FeatureKey, FeatureCell] | dict[UserKey, UserCell] = (
        rollup.user_cells if uses_end_users(query) else rollup.cells
    )
    for key, cell in table.items():
        if matches(scoped, key, filters=filters):
            yield key, cell


def _with_period(query: Query, period: Period) -> Query:
    return Query(
        kind="measure", measures=query.measures, breakdown=query.breakdown,
        filters=query.filters, period=period,
    )  # fmt: skip


def group_of(key: Key, dimension: Dimension) -> str:
    """The label of the group ``key`` falls in when broken down by ``dimension``."""
    if dimension == "day":
        return key.day
    if dimension == "week":
        return week_start(date.fromisoformat(key.day)).isoformat()
    if dimension == "month":
        return key.day[:7]
    if dimension == "batch":
        return BATCH_LABELS[key.batch]
    return _value(key, dimension)


TIME_DIMENSIONS: Final = frozenset({"day", "week", "month"})
