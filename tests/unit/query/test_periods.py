"""Period arithmetic and finding days in a message: month ends, leap years, ranges across
months and years, data ending mid-week or on a Sunday, and dates that do not exist."""

from __future__ import annotations

from datetime import date

import pytest

from apex_core.query.dates import find_dates
from apex_core.query.periods import (
    Period,
    absolute,
    is_calendar_month,
    month_of,
    preceding,
    relative,
    span_label,
)

TUESDAY = date(2025, 11, 25)
SUNDAY = date(2025, 11, 30)


@pytest.mark.parametrize(
    ("year", "month", "last"),
    [(2024, 2, 29), (2025, 2, 28), (2000, 2, 29), (2100, 2, 28), (2025, 4, 30), (2025, 12, 31)],
)
def test_month_ends_and_leap_years(year: int, month: int, last: int) -> None:
    assert month_of(year, month) == (date(year, month, 1), date(year, month, last))


@pytest.mark.parametrize(
    ("name", "last", "start", "end"),
    [
        (
            "last_week",
            TUESDAY,
            date(2025, 11, 17),
            date(2025, 11, 23),
        ),  # mid-week: the full week before
        ("last_week", SUNDAY, date(2025, 11, 24), date(2025, 11, 30)),  # a Sunday ends a full week
        ("this_week", TUESDAY, date(2025, 11, 24), TUESDAY),
        ("this_week", date(2025, 11, 24), date(2025, 11, 24), date(2025, 11, 24)),
        ("last_month", TUESDAY, date(2025, 10, 1), date(2025, 10, 31)),
        ("last_month", SUNDAY, date(2025, 11, 1), SUNDAY),  # the month ends with the data
        ("last_month", date(2024, 3, 15), date(2024, 2, 1), date(2024, 2, 29)),
        ("last_month", date(2025, 1, 10), date(2024, 12, 1), date(2024, 12, 31)),
        ("this_month", date(2024, 2, 29), date(2024, 2, 1), date(2024, 2, 29)),
        ("this_year", TUESDAY, date(2025, 1, 1), TUESDAY),
        ("last_year", TUESDAY, date(2024, 1, 1), date(2024, 12, 31)),
        ("yesterday", TUESDAY, TUESDAY, TUESDAY),
        ("day_before_yesterday", date(2025, 3, 1), date(2025, 2, 28), date(2025, 2, 28)),
    ],
)
def test_relative_periods_count_back_from_the_data(
    name: str, last: date, start: date, end: date
) -> None:
    period = relative(name, last)
    assert (period.start, period.end) == (start, end)
    assert period.relative_to == last
    assert period.is_relative


def test_rolling_spans() -> None:
    assert relative("last_days", date(2024, 3, 2), n=3) == Period(
        date(2024, 2, 29), date(2024, 3, 2), "the last 3 days", date(2024, 3, 2)
    )
    weeks = relative("last_weeks", TUESDAY, n=2)
    assert (weeks.start, weeks.days) == (date(2025, 11, 12), 14)
    months = relative("last_months", date(2024, 3, 31), n=1)
    assert (months.start, months.end) == (date(2024, 3, 1), date(2024, 3, 31))
    clipped = relative("last_months", date(2025, 3, 30), n=1)  # 30 Feb does not exist
    assert clipped.start == date(2025, 3, 1)


def test_preceding() -> None:
    day = absolute(date(2025, 3, 1), date(2025, 3, 1))
    assert preceding(day, "day") == Period(date(2025, 2, 28), date(2025, 2, 28), "the day before")
    week = preceding(day, "week")
    assert (week.start, week.end) == (date(2025, 2, 22), date(2025, 2, 28))
    march = absolute(date(2024, 3, 1), date(2024, 3, 31))
    assert is_calendar_month(march)
    february = preceding(march)
    assert (february.start, february.end, february.label) == (
        date(2024, 2, 1),
        date(2024, 2, 29),
        "February 2024",
    )
    across_year = preceding(absolute(date(2025, 1, 1), date(2025, 1, 31)), "month")
    assert (across_year.start, across_year.end) == (date(2024, 12, 1), date(2024, 12, 31))
    span = preceding(absolute(date(2025, 10, 28), date(2025, 11, 3)))
    assert (span.start, span.end) == (date(2025, 10, 21), date(2025, 10, 27))
    relative_week = preceding(relative("last_week", TUESDAY), "week")
    assert relative_week.relative_to == TUESDAY
    assert relative_week.label == "the week before"
    with pytest.raises(ValueError, match="whole data"):
        preceding(Period())


def test_period_invariants() -> None:
    with pytest.raises(ValueError, match="both start and end"):
        Period(date(2025, 1, 1), None)
    with pytest.raises(ValueError, match="after its end"):
        Period(date(2025, 1, 2), date(2025, 1, 1), "x")
    assert Period().is_whole
    assert Period().days is None
    assert Period().overlaps(date(2025, 1, 1), date(2025, 1, 2))
    assert not absolute(date(2025, 3, 1), date(2025, 3, 31)).overlaps(
        date(2025, 4, 1), date(2025, 4, 30)
    )


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2025, 10, 6), date(2025, 10, 6), "6 Oct 2025"),
        (date(2025, 10, 1), date(2025, 10, 7), "1-7 Oct 2025"),
        (date(2025, 10, 27), date(2025, 11, 2), "27 Oct - 2 Nov 2025"),
        (date(2024, 12, 30), date(2025, 1, 5), "30 Dec 2024 - 5 Jan 2025"),
    ],
)
def test_span_labels(start: date, end: date, label: str) -> None:
    assert span_label(start, end) == label


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("on 2025-10-06", date(2025, 10, 6), date(2025, 10, 6)),
        ("October 2025", date(2025, 10, 1), date(2025, 10, 31)),
        ("between Oct 1 and Oct 7", date(2025, 10, 1), date(2025, 10, 7)),
        ("Nov 24", date(2025, 11, 24), date(2025, 11, 24)),
        ("24th of November", date(2025, 11, 24), date(2025, 11, 24)),
        (
            "Dec 24",
            date(2024, 12, 24),
            date(2024, 12, 24),
        ),  # after the data's last day: the year before
        (
            "from Dec 28 to Jan 3",
            date(2024, 12, 28),
            date(2025, 1, 3),
        ),  # a range across the new year
        ("Oct 28 - Nov 3", date(2025, 10, 28), date(2025, 11, 3)),
        ("Feb 2024", date(2024, 2, 1), date(2024, 2, 29)),
        ("february 29, 2024", date(2024, 2, 29), date(2024, 2, 29)),
        ("in may", date(2025, 5, 1), date(2025, 5, 31)),
    ],
)
def test_absolute_dates(text: str, start: date, end: date) -> None:
    (mention,) = find_dates(text, last_day=TUESDAY)
    assert mention.period is not None
    assert mention.problem is None
    assert (mention.period.start, mention.period.end) == (start, end)
    assert not mention.period.is_relative


def test_may_the_verb_is_not_a_month() -> None:
    assert find_dates("may I see the spend?", last_day=TUESDAY) == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Feb 29 2025", "29 Feb 2025 is not a date"),
        ("2025-13-01", "2025-13-01 is not a date"),
        ("Nov 31", "31 Nov 2024 is not a date"),  # after 25 Nov: placed in 2024
        ("between Nov 9 and Nov 2 2025", "ends before it starts"),
    ],
)
def test_dates_that_do_not_exist_say_why(text: str, problem: str) -> None:
    (mention,) = find_dates(text, last_day=TUESDAY)
    assert mention.period is None
    assert mention.problem is not None
    assert problem in mention.problem


def test_relative_words_need_data_to_count_back_from() -> None:
    (mention,) = find_dates("last week", last_day=None)
    assert mention.problem is not None
    assert "needs usage data" in mention.problem


def test_comparison_words() -> None:
    mentions = find_dates("last week vs the week before, week over week", last_day=TUESDAY)
    assert [(m.before, m.over) for m in mentions] == [(None, None), ("week", None), (None, "week")]
