"""Vietnamese calendar helpers: how dates read, which days are holidays, months and quarters.

Dates are written the Vietnamese way in both languages ("Thứ Năm, 03/12/2026 lúc 19:30",
"Thursday, 03/12/2026 at 19:30"): day/month/year, 24-hour time.

A *working day* here is any day that is not a public holiday or Tết day (including observed and
substituted days off) in the `holidays` package's VN calendar. Weekends count as working days on
purpose: branch meetings in villages and residential areas are often held on Saturday or Sunday
evenings, and the issue asks only that holidays and Tết be avoided.

A regular meeting belongs to its month, so a holiday shift never leaves the month: it moves to
the next working day in the month, or, when the holidays run to the month's end (Tết at the end
of January), back to the last working day before the rule date.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import holidays

if TYPE_CHECKING:
    from bot.i18n import CatalogI18n

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_WEEKDAYS: dict[str, tuple[str, ...]] = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_AT = {"vi": "lúc", "en": "at"}
_HOLIDAY_LANGUAGE = {"vi": "vi", "en": "en_US"}


def _locale(locale: str | None) -> str:
    return locale if locale in _WEEKDAYS else "vi"


def weekday_name(d: date, locale: str | None = "vi") -> str:
    return _WEEKDAYS[_locale(locale)][d.weekday()]


def format_date(d: date, locale: str | None = "vi") -> str:
    """'Thứ Năm, 03/12/2026'."""
    return f"{weekday_name(d, locale)}, {d:%d/%m/%Y}"


def format_time(t: time) -> str:
    return f"{t:%H:%M}"


def to_local(dt: datetime, tz: tzinfo = VN_TZ) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: store and pass aware UTC datetimes")
    return dt.astimezone(tz)


def format_datetime(dt: datetime, locale: str | None = "vi", tz: tzinfo = VN_TZ) -> str:
    """An aware datetime as the person reads it: 'Thứ Năm, 03/12/2026 lúc 19:30'.

    The one formatter of a moment for people: every screen, notice and deadline uses it, so
    no text reads "hạn 17:00 10/12/2026" beside "Thứ Năm, 10/12/2026 lúc 17:00"."""
    loc = to_local(dt, tz)
    return f"{format_date(loc.date(), locale)} {_AT[_locale(locale)]} {format_time(loc.time())}"


def relative_datetime(
    i18n: CatalogI18n, locale: str, moment: datetime, at: datetime, tz: ZoneInfo = VN_TZ
) -> str:
    """`moment` as read by someone who gets the message at `at`: "hôm nay lúc 19:30", "ngày
    mai lúc 19:30", else the full date. The one place that says today or tomorrow: `at` is the
    moment the message leaves (`bot.outbox.send_moment`), never the one it was queued."""
    day, then = to_local(at, tz).date(), to_local(moment, tz)
    clock = format_time(then.time())
    if then.date() == day:
        return i18n.t("day.today_at", locale, time=clock)
    if then.date() == day + timedelta(days=1):
        return i18n.t("day.tomorrow_at", locale, time=clock)
    return format_datetime(moment, locale, tz)


def local_to_utc(d: date, t: time, tz: ZoneInfo = VN_TZ) -> datetime:
    """A wall-clock date and time in `tz` as an aware UTC datetime."""
    return datetime.combine(d, t, tzinfo=tz).astimezone(UTC)


# Holidays ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _calendar(language: str) -> holidays.HolidayBase:
    # The object fills in years lazily as dates are asked about.
    return holidays.country_holidays("VN", language=language)


def holiday_name(d: date, locale: str | None = "vi") -> str | None:
    """The holiday's name in the person's language, or None on a working day."""
    name = _calendar(_HOLIDAY_LANGUAGE[_locale(locale)]).get(d)
    return str(name) if name else None


def is_holiday(d: date) -> bool:
    return d in _calendar("vi")


def is_working_day(d: date) -> bool:
    return not is_holiday(d)


def next_working_day(d: date) -> date:
    """`d` itself when it is a working day, else the first working day after it."""
    while is_holiday(d):
        d += timedelta(days=1)
    return d


# An office's day ends at 17:00; its days are Monday to Friday, holidays and Tết excepted (unlike
# a branch's meetings, which are often held at weekends).
OFFICE_DAY_END = time(17, 0)


def is_office_day(d: date) -> bool:
    return d.weekday() < 5 and not is_holiday(d)


def office_deadline(start: datetime, allowed: timedelta, tz: ZoneInfo = VN_TZ) -> datetime:
    """A deadline `allowed` after `start`, as an office reads one: the end (17:00 local) of
    the day it falls on, or of the next office day when that one is a weekend or a holiday;
    never an odd minute ("lúc 02:54") carried over from when the clock started."""
    day = to_local(start + allowed, tz).date()
    while not is_office_day(day):
        day += timedelta(days=1)
    return local_to_utc(day, OFFICE_DAY_END, tz)


def shift_within_month(d: date) -> date:
    """The date a meeting on `d` moves to: `d`, else the next working day in the same month,
    else (holidays to the month's end) the last working day before `d`."""
    forward = next_working_day(d)
    if forward.month == d.month:
        return forward
    back = d
    while is_holiday(back):
        back -= timedelta(days=1)
    return back


# Months and quarters -------------------------------------------------------------------------


_QUARTER = {"vi": "quý {roman}/{year}", "en": "Q{n} {year}"}
_ROMAN = ("I", "II", "III", "IV")


@runtime_checkable
class Readable(Protocol):
    """A value a refusal carries that reads differently per language (a quarter): the answer
    renders it with `label` in the person's language instead of `str`."""

    def label(self, locale: str | None) -> str: ...


@dataclass(frozen=True)
class ReadableDay:
    """A day a refusal carries, read as the house writes it ('Thứ Năm, 03/12/2026') in the
    person's language: formatted where the language is known, never in the service."""

    day: date

    def label(self, locale: str | None) -> str:
        return format_date(self.day, locale)

    def __str__(self) -> str:  # the operator's line (CLI), in the default language
        return self.label("vi")


@dataclass(frozen=True)
class ReadableMoment:
    """A moment a refusal carries ('Thứ Năm, 03/12/2026 lúc 19:30'), like `ReadableDay`."""

    at: datetime
    tz: tzinfo = VN_TZ

    def label(self, locale: str | None) -> str:
        return format_datetime(self.at, locale, self.tz)

    def __str__(self) -> str:
        return self.label("vi")


def format_quarter(year: int, quarter: int, locale: str | None = "vi") -> str:
    """A quarter as people read it: 'quý IV/2026' ('Q4 2026'); the one formatter of quarters
    ('2026-Q4' is only what a person may type after a command)."""
    template = _QUARTER[_locale(locale)]
    return template.format(roman=_ROMAN[quarter - 1], n=quarter, year=year)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def rule_date(year: int, month: int, day: int) -> date:
    """The rule's day in a month; a day past the month's end means its last day (31 -> 30/4)."""
    return date(year, month, min(max(day, 1), days_in_month(year, month)))


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def month_of(dt: datetime, tz: ZoneInfo = VN_TZ) -> tuple[int, int]:
    """The local (year, month) an aware datetime falls in."""
    loc = to_local(dt, tz)
    return loc.year, loc.month


def month_bounds(year: int, month: int, tz: ZoneInfo = VN_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a local month as aware UTC datetimes."""
    ny, nm = add_months(year, month, 1)
    return local_to_utc(date(year, month, 1), time(0), tz), local_to_utc(
        date(ny, nm, 1), time(0), tz
    )


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1


def quarter_months(quarter: int) -> tuple[int, int, int]:
    first = (quarter - 1) * 3 + 1
    return first, first + 1, first + 2


def quarter_bounds(year: int, quarter: int, tz: ZoneInfo = VN_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a local quarter as aware UTC datetimes."""
    first = quarter_months(quarter)[0]
    start, _ = month_bounds(year, first, tz)
    _, end = month_bounds(year, first + 2, tz)
    return start, end
