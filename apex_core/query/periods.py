"""``Period``: the days a question is about, and the date arithmetic behind it.

Periods are inclusive ranges of whole UTC days. Relative words ("last week",
"yesterday") are resolved against the **last day of the user's data**, not
the wall clock, and the resolved period keeps that day in ``relative_to`` so
an answer can say "last week (27 Oct - 2 Nov 2025, relative to the end of
your data on 5 Nov)". Pure: no clock, no I/O.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

Unit = Literal["day", "week", "month"]

WHOLE_LABEL: Final = "all your data"


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive days ``start``..``end``; both ``None`` means all of the user's data."""

    start: date | None = None
    end: date | None = None
    label: str = WHOLE_LABEL
    """How to name it in an answer: the user's words ("last week") or the dates."""
    relative_to: date | None = None
    """The data's last day when the user's words were relative; ``None`` for absolute dates."""

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValueError(f"a period needs both start and end or neither, got {self!r}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"a period's start {self.start} is after its end {self.end}")
        if not self.label:
            raise ValueError("a period needs a label")

    @property
    def is_whole(self) -> bool:
        """True when the period is all of the user's data."""
        return self.start is None

    @property
    def is_relative(self) -> bool:
        """True when the user's words were relative to the end of the data."""
        return self.relative_to is not None

    @property
    def days(self) -> int | None:
        """How many days it spans (``None`` for the whole data)."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).days + 1

    def overlaps(self, first: date, last: date) -> bool:
        """True when some day of the period lies in ``first``..``last``."""
        if self.start is None or self.end is None:
            return True
        return self.start <= last and self.end >= first


def day_label(day: date) -> str:
    """``6 Oct 2025``."""
    return f"{day.day} {day:%b %Y}"


def span_label(start: date, end: date) -> str:
    """``6 Oct 2025``, ``1-7 Oct 2025``, ``27 Oct - 2 Nov 2025`` or across years."""
    if start == end:
        return day_label(start)
    if start.year != end.year:
        return f"{day_label(start)} - {day_label(end)}"
    if start.month != end.month:
        return f"{start.day} {start:%b} - {day_label(end)}"
    return f"{start.day}-{end.day} {end:%b %Y}"


def absolute(start: date, end: date, label: str | None = None) -> Period:
    """The days ``start``..``end`` as the user named them."""
    return Period(start, end, label or span_label(start, end))


def month_of(year: int, month: int) -> tuple[date, date]:
    """First and last day of a calendar month (leap years included)."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def is_calendar_month(period: Period) -> bool:
    """True when the period is exactly one calendar month."""
    if period.start is None or period.end is None:
        return False
    return (period.start, period.end) == month_of(period.start.year, period.start.month)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def last_days(n: int, last: date, label: str) -> Period:
    """The ``n`` days ending on the data's last day."""
    return Period(last - timedelta(days=n - 1), last, label, relative_to=last)


def relative(name: str, last: date, *, n: int = 1) -> Period:
    """Resolve a relative name against the data's last day ``last``.

    A usage export ends with the most recent full day, so ``today``,
    ``yesterday`` and ``latest`` are the last day itself. ``this week``/``this
    month``/``this year`` run from the start of the calendar unit holding the
    last day to the last day. ``last week``/``last month``/``last year`` are
    the most recent *complete* calendar unit ending on or before the last day
    (weeks run Monday to Sunday: data ending on a Wednesday gets the full week
    before; data ending on a Sunday gets the week that ends that day).
    ``last_days``/``last_weeks``/``last_months`` are rolling spans of ``n``
    units ending on the last day.
    """
    if name in ("today", "yesterday", "latest"):
        return Period(last, last, name if name != "latest" else "the latest day", relative_to=last)
    if name == "day_before_yesterday":
        day = last - timedelta(days=1)
        return Period(day, day, "the day before yesterday", relative_to=last)
    if name == "this_week":
        return Period(week_start(last), last, "this week", relative_to=last)
    if name == "last_week":
        end = last if last.weekday() == 6 else week_start(last) - timedelta(days=1)
        return Period(end - timedelta(days=6), end, "last week", relative_to=last)
    if name == "this_month":
        return Period(last.replace(day=1), last, "this month", relative_to=last)
    if name == "last_month":
        month_end = month_of(last.year, last.month)[1] == last
        start, end = month_of(
            *((last.year, last.month) if month_end else _month_before(last.year, last.month))
        )
        return Period(start, end, "last month", relative_to=last)
    if name == "this_year":
        return Period(date(last.year, 1, 1), last, "this year", relative_to=last)
    if name == "last_year":
        year = last.year if (last.month, last.day) == (12, 31) else last.year - 1
        return Period(date(year, 1, 1), date(year, 12, 31), "last year", relative_to=last)
    if name == "last_days":
        return last_days(n, last, "the last day" if n == 1 else f"the last {n} days")
    if name == "last_weeks":
        return last_days(7 * n, last, "the last week" if n == 1 else f"the last {n} weeks")
    if name == "last_months":
        start = _add_months(last, -n) + timedelta(days=1)
        label = "the last month" if n == 1 else f"the last {n} months"
        return Period(start, last, label, relative_to=last)
    raise ValueError(f"unknown relative period {name!r}")


RELATIVE_NAMES: Final = (
    "today",
    "yesterday",
    "latest",
    "day_before_yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_year",
    "last_year",
    "last_days",
    "last_weeks",
    "last_months",
)
"""Every name :func:`relative` resolves (the planner's tool schema lists them too)."""


def preceding(period: Period, unit: Unit | None = None) -> Period:
    """The span just before ``period``: one ``unit`` long, or as long as ``period``.

    ``the day before`` a day, ``the week before`` (7 days) a day or a week, and
    ``the month before`` a calendar month (the previous calendar month) or any
    other span (the 30 days before it). Without a unit, the same number of days.
    The result keeps ``relative_to``: it is as relative as the period it follows.
    """
    if period.start is None or period.end is None:
        raise ValueError("the whole data has no period before it")
    if unit == "month" or (unit is None and is_calendar_month(period)):
        if is_calendar_month(period):
            start, end = month_of(*_month_before(period.start.year, period.start.month))
            return Period(start, end, f"{start:%B %Y}", period.relative_to)
        length = 30
    elif unit == "week":
        length = 7
    elif unit == "day":
        length = 1
    else:
        length = (period.end - period.start).days + 1
    end = period.start - timedelta(days=1)
    start = end - timedelta(days=length - 1)
    return Period(start, end, _before_label(length, unit, period), period.relative_to)


def _before_label(length: int, unit: Unit | None, period: Period) -> str:
    if length == 1:
        return "the day before"
    if unit == "week" and period.days == 7:
        return "the week before"
    return f"the {length} days before"


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
