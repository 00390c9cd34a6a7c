"""Finding the days a message names: dates, ranges, months and relative words.

:func:`find_dates` returns every :class:`DateMention` in the message, in order,
with its character span. Absolute dates without a year ("Nov 24") take the
latest such day on or before the data's last day; relative words resolve
against that last day (:func:`apex_core.query.periods.relative`). A mention
that cannot be resolved ("Feb 30", "last week" with no data) keeps the reason
in ``problem``. Comparisons ("vs the week before", "week over week") are
mentions too, with ``before`` or ``over`` set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from apex_core.query.periods import Period, Unit, absolute, month_of, relative

Before = Literal["day", "week", "month", "period"]

_MONTHS: Final = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MON: Final = (
    r"(?P<{g}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY: Final = r"(?P<{g}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR: Final = r"(?:,?\s+(?P<{g}>(?:19|20)\d\d))?"
_NUMBER_WORDS: Final = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14, "thirty": 30,
}  # fmt: skip
_N: Final = r"(?P<n>\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"


def _date_pattern(suffix: str) -> str:
    """A date in any accepted spelling, groups named with ``suffix``."""
    iso = rf"(?P<iso{suffix}>\d{{4}}-\d{{2}}-\d{{2}})"
    mon_day = (
        _MON.format(g=f"m{suffix}")
        + r"\s*"
        + _DAY.format(g=f"d{suffix}")
        + _YEAR.format(g=f"y{suffix}")
    )
    day_mon = (
        _DAY.format(g=f"dd{suffix}")
        + r"\s+(?:of\s+)?"
        + _MON.format(g=f"mm{suffix}")
        + _YEAR.format(g=f"yy{suffix}")
    )
    return rf"(?:{iso}|{mon_day}|{day_mon})"


@dataclass(frozen=True, slots=True)
class DateMention:
    """Words of the message that name days, or the span to compare with."""

    start: int
    end: int
    """Character span in the message."""
    period: Period | None = None
    before: Before | None = None
    """``the week before`` / ``the previous period``: the span before the main period."""
    over: Unit | None = None
    """``week over week``: this span against the one before."""
    problem: str | None = None


_Handler = Callable[[re.Match[str], date | None], DateMention]


def find_dates(text: str, *, last_day: date | None) -> tuple[DateMention, ...]:
    """Every mention of days in ``text``, in order, none overlapping."""
    lowered = text.lower()
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern, handler in _RULES:
        for match in pattern.finditer(lowered):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            found.append(handler(match, last_day))
            taken.append((match.start(), match.end()))
    return tuple(sorted(found, key=lambda m: m.start))


def _day_of(match: re.Match[str], suffix: str, last_day: date | None) -> date | str:
    """The date of the groups ending in ``suffix``, or why there is none."""
    groups = match.groupdict()
    if iso := groups.get(f"iso{suffix}"):
        try:
            return date.fromisoformat(iso)
        except ValueError:
            return f"{iso} is not a date"
    if groups.get(f"m{suffix}"):
        month, day, year = groups[f"m{suffix}"], groups[f"d{suffix}"], groups[f"y{suffix}"]
    else:
        month, day, year = groups[f"mm{suffix}"], groups[f"dd{suffix}"], groups[f"yy{suffix}"]
    return _calendar_day(_MONTHS[month[:3]], int(day), int(year) if year else None, last_day)


def _calendar_day(month: int, day: int, year: int | None, last_day: date | None) -> date | str:
    if year is None:
        if last_day is None:
            return "a date without a year needs usage data to place it"
        year = (
            last_day.year if (month, day) <= (last_day.month, last_day.day) else last_day.year - 1
        )
    try:
        return date(year, month, day)
    except ValueError:
        return f"{day} {date(2000, month, 1):%b} {year} is not a date"


def _single(match: re.Match[str], last_day: date | None) -> DateMention:
    day = _day_of(match, "", last_day)
    if isinstance(day, str):
        return DateMention(match.start(), match.end(), problem=day)
    return DateMention(match.start(), match.end(), absolute(day, day))


def _range(match: re.Match[str], last_day: date | None) -> DateMention:
    first = _day_of(match, "", last_day)
    second = _day_of(match, "2", last_day)
    if isinstance(first, str) or isinstance(second, str):
        problem = first if isinstance(first, str) else second
        return DateMention(match.start(), match.end(), problem=str(problem))
    groups = match.groupdict()
    if second < first and not (groups["y2"] or groups["yy2"] or groups["iso2"]):
        second = _calendar_day(second.month, second.day, first.year, None)
        if isinstance(second, date) and second < first:
            second = _calendar_day(second.month, second.day, first.year + 1, None)
    if isinstance(second, str) or second < first:
        problem = second if isinstance(second, str) else f"{match.group()} ends before it starts"
        return DateMention(match.start(), match.end(), problem=problem)
    return DateMention(match.start(), match.end(), absolute(first, second))


def _short_range(match: re.Match[str], last_day: date | None) -> DateMention:
    """``Oct 1-7`` or ``1-7 Oct``: one month, two days."""
    groups = match.groupdict()
    month = _MONTHS[(groups.get("m") or groups["mm"])[:3]]
    year = groups.get("y") or groups.get("yy")
    first = _calendar_day(month, int(match.group("a")), int(year) if year else None, last_day)
    if isinstance(first, str):
        return DateMention(match.start(), match.end(), problem=first)
    try:
        second = first.replace(day=int(match.group("b")))
    except ValueError:
        return DateMention(
            match.start(), match.end(), problem=f"{match.group('b')} is not a day of {first:%B %Y}"
        )
    if second < first:
        return DateMention(
            match.start(), match.end(), problem=f"{match.group()} ends before it starts"
        )
    return DateMention(match.start(), match.end(), absolute(first, second))


def _month(match: re.Match[str], last_day: date | None) -> DateMention:
    if iso := match.groupdict().get("isomonth"):
        year_text, month_text = iso.split("-")
        month, year = int(month_text), int(year_text)
        if not 1 <= month <= 12:
            return DateMention(match.start(), match.end(), problem=f"{iso} is not a month")
    else:
        month = _MONTHS[match.group("mon")[:3]]
        year_given = match.groupdict().get("year")
        if year_given:
            year = int(year_given)
        elif last_day is None:
            return DateMention(
                match.start(),
                match.end(),
                problem="a month without a year needs usage data to place it",
            )
        else:
            year = last_day.year if month <= last_day.month else last_day.year - 1
    start, end = month_of(year, month)
    return DateMention(match.start(), match.end(), Period(start, end, f"{start:%B %Y}"))


def _relative(name: str) -> _Handler:
    def handler(match: re.Match[str], last_day: date | None) -> DateMention:
        if last_day is None:
            return DateMention(
                match.start(),
                match.end(),
                problem=f'"{match.group()}" needs usage data to count back from',
            )
        count = match.groupdict().get("n")
        n = 1 if count is None else _NUMBER_WORDS.get(count) or int(count)
        if n < 1:
            return DateMention(
                match.start(), match.end(), problem=f'"{match.group()}" names no days'
            )
        return DateMention(match.start(), match.end(), relative(name, last_day, n=n))

    return handler


def _before(unit: Before) -> _Handler:
    def handler(match: re.Match[str], last_day: date | None) -> DateMention:
        return DateMention(match.start(), match.end(), before=unit)

    return handler


def _over(unit: Unit) -> _Handler:
    def handler(match: re.Match[str], last_day: date | None) -> DateMention:
        return DateMention(match.start(), match.end(), over=unit)

    return handler


def _whole(match: re.Match[str], last_day: date | None) -> DateMention:
    """``all time``, ``overall``: the whole data, said explicitly (a follow-up widens to it)."""
    return DateMention(match.start(), match.end(), Period())


def _rule(pattern: str, handler: _Handler) -> tuple[re.Pattern[str], _Handler]:
    return re.compile(rf"(?<![\w-]){pattern}(?![\w-])"), handler


_MONTH_ALONE: Final = _MON.format(g="mon")
_RULES: Final[tuple[tuple[re.Pattern[str], _Handler], ...]] = (
    _rule(rf"(?:between|from)\s+{_date_pattern('')}\s+(?:and|to|until|till|through|-)\s+{_date_pattern('2')}", _range),
    _rule(rf"{_date_pattern('')}\s*(?:to|until|till|through|-|\u2013)\s*{_date_pattern('2')}", _range),
    _rule(_MON.format(g="m") + r"\s*(?P<a>[0-3]?\d)\s*(?:-|\u2013|to)\s*(?P<b>[0-3]?\d)" + _YEAR.format(g="y"), _short_range),
    _rule(r"(?P<a>[0-3]?\d)\s*(?:-|\u2013|to)\s*(?P<b>[0-3]?\d)\s+" + _MON.format(g="mm") + _YEAR.format(g="yy"), _short_range),
    _rule(_date_pattern(""), _single),
    _rule(rf"(?:{_MONTH_ALONE},?\s+(?P<year>(?:19|20)\d\d)|(?P<isomonth>\d{{4}}-\d{{2}}))", _month),
    _rule(rf"(?!may\b){_MONTH_ALONE}", _month),
    _rule(r"(?:in|during|for|of|since)\s+(?P<mon>may)", _month),
    _rule(r"(?:the\s+)?day\s+before\s+yesterday", _relative("day_before_yesterday")),
    _rule(r"(?:the\s+)?(?:day|24\s+hours)\s+before|(?:the\s+)?(?:previous|prior|preceding)\s+day", _before("day")),
    _rule(r"(?:the\s+)?week\s+before|(?:the\s+)?(?:previous|prior|preceding)\s+week", _before("week")),
    _rule(r"(?:the\s+)?month\s+before|(?:the\s+)?(?:previous|prior|preceding)\s+month", _before("month")),
    _rule(r"(?:the\s+)?(?:previous|prior|preceding)\s+period|(?:the\s+)?period\s+before|before\s+that", _before("period")),
    _rule(r"day[\s-]+over[\s-]+day|dod", _over("day")),
    _rule(r"week[\s-]+over[\s-]+week|wow", _over("week")),
    _rule(r"month[\s-]+over[\s-]+month|mom", _over("month")),
    _rule(r"today", _relative("today")),
    _rule(r"yesterday", _relative("yesterday")),
    _rule(r"(?:the\s+)?(?:latest|most\s+recent|last)\s+day(?!s)", _relative("latest")),
    _rule(r"(?:this|current|the\s+current)\s+week", _relative("this_week")),
    _rule(r"last\s+week", _relative("last_week")),
    _rule(r"(?:this|current|the\s+current)\s+month|month\s+to\s+date|mtd", _relative("this_month")),
    _rule(r"last\s+month", _relative("last_month")),
    _rule(r"(?:this|current|the\s+current)\s+year|year\s+to\s+date|ytd", _relative("this_year")),
    _rule(r"last\s+year", _relative("last_year")),
    _rule(rf"(?:(?:the\s+)?(?:last|past|previous|recent)\s+)?{_N}\s+days", _relative("last_days")),
    _rule(rf"(?:(?:the\s+)?(?:last|past|previous|recent)\s+)?{_N}\s+weeks", _relative("last_weeks")),
    _rule(rf"(?:(?:the\s+)?(?:last|past|previous|recent)\s+)?{_N}\s+months", _relative("last_months")),
    _rule(r"(?:the\s+)?past\s+(?:7\s+days|week)", _relative("last_weeks")),
    _rule(r"(?:the\s+)?past\s+month", _relative("last_months")),
    _rule(r"all[\s-]+time|overall|(?:the\s+)?whole\s+(?:period|time|data)|all\s+(?:my|our|the)\s+data|ever", _whole),
)  # fmt: skip
