"""Parsing what a secretary types: `/schedule 03/12 19:30 Nhà văn hóa thôn 3`.

Dates are day/month with an optional year (dd/mm, dd/mm/yy, dd/mm/yyyy; `/`, `.` or `-`);
times are 24-hour with a colon or the Vietnamese `h` (19:30, 19h30, 19h). The rest is the place
(may be empty: the branch's usual place is used). Each failure is a `MeetingError` naming
exactly what was wrong, so the person can fix that part. Digits are ASCII only (`bot.inputs`),
and every date lies in `bot.inputs.date_in_window`: nothing downstream meets year 9999.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.inputs import date_in_window, latest_date, parse_int
from bot.services.meetings.common import (
    DEFAULT_CONFIG,
    PLACE_MAX,
    MeetingConfig,
    MeetingError,
    check_length,
)
from bot.services.meetings.context import MeetingContext
from bot.services.vn_calendar import VN_TZ, local_to_utc, to_local

# [0-9], not \d: `re` takes '٣' and '²' for digits.
_DATE = r"(?P<dt>(?P<d>[0-9]{1,2})[/.\-](?P<m>[0-9]{1,2})(?:[/.\-](?P<y>[0-9]{4}|[0-9]{2}))?)"
_TIME = r"(?P<t>(?P<h>[0-9]{1,2})(?::(?P<mi>[0-9]{2})|[hH](?P<mi2>[0-9]{2})?))"
_FORM = re.compile(rf"^\s*{_DATE}\s+{_TIME}(?:\s+(?P<place>.*?))?\s*$", re.S)
_DATE_ONLY = re.compile(rf"^\s*{_DATE}\s*$")
_TIME_ONLY = re.compile(rf"^\s*{_TIME}\s*$")


@dataclass(frozen=True)
class QuickForm:
    starts_at: datetime  # aware UTC
    place: str | None  # None: use the branch's usual place


def _num(raw: str) -> int:
    return parse_int(raw, hi=9999)


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    return 2000 + _num(raw) if len(raw) == 2 else _num(raw)


def check_day(day: date, today: date) -> date:
    """A day a person chose: not before today, not beyond the window `bot.inputs` allows."""
    if day < today:
        raise MeetingError("meetings.error.in_past")
    if not date_in_window(day, today):
        raise MeetingError("mtg.error.too_far", latest=f"{latest_date(today):%d/%m/%Y}")
    return day


def check_start(starts_at: datetime, now: datetime, tz: ZoneInfo = VN_TZ) -> None:
    """A meeting's start: in the future, on a day within the window."""
    if starts_at <= now:
        raise MeetingError("meetings.error.in_past")
    check_day(to_local(starts_at, tz).date(), to_local(now, tz).date())


def meeting_start(day: date, at: time, ctx: MeetingContext) -> datetime:
    """The wizard's chosen day and time as the UTC start (in the future, within the window)."""
    starts_at = local_to_utc(day, at, ctx.tz)
    check_start(starts_at, ctx.now(), ctx.tz)
    return starts_at


def calendar_day(year: int, month: int, day: int, today: date) -> date:
    """A day pressed on the calendar (the data may be forged: checked like a typed one)."""
    try:
        chosen = date(year, month, day)
    except ValueError:
        raise MeetingError("meetings.error.bad_date", date=f"{day:02d}/{month:02d}") from None
    return check_day(chosen, today)


def _make_date(day: int, month: int, year: int, shown: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise MeetingError("meetings.error.bad_date", date=shown) from None


def _make_time(hour: int, minute: int, shown: str) -> time:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise MeetingError("meetings.error.bad_time", time=shown)
    return time(hour, minute)


def _resolve_date(
    day: int, month: int, year: int | None, today: date, shown: str, config: MeetingConfig
) -> date:
    """A date without a year is this year's, or next year's when it is long past."""
    if year is not None:
        return _make_date(day, month, year, shown)
    try:
        this_year = date(today.year, month, day)
    except ValueError:
        # 29/02 outside a leap year may still be valid next year.
        return _make_date(day, month, today.year + 1, shown)
    if today - this_year > timedelta(days=config.next_year_after_days):
        return _make_date(day, month, today.year + 1, shown)
    return this_year


def parse_date(
    text: str, now: datetime, tz: ZoneInfo = VN_TZ, *, config: MeetingConfig = DEFAULT_CONFIG
) -> date:
    """One wizard step: a typed date, today or later within the window."""
    match = _DATE_ONLY.match(text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    today = to_local(now, tz).date()
    day, month = _num(match["d"]), _num(match["m"])
    return check_day(
        _resolve_date(day, month, _year(match["y"]), today, match["dt"], config), today
    )


def parse_time(text: str) -> time:
    """One wizard step: a typed time, 19:30 / 19h30 / 19h."""
    match = _TIME_ONLY.match(text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    minute = match["mi"] or match["mi2"] or "0"
    return _make_time(_num(match["h"]), _num(minute), match["t"])


def parse_quick_form(
    text: str, now: datetime, tz: ZoneInfo = VN_TZ, *, config: MeetingConfig = DEFAULT_CONFIG
) -> QuickForm:
    """`03/12 19:30 Nhà văn hóa thôn 3` -> a future UTC start and a place."""
    match = _FORM.match(text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    today = to_local(now, tz).date()
    day, month = _num(match["d"]), _num(match["m"])
    local_day = _resolve_date(day, month, _year(match["y"]), today, match["dt"], config)
    minute = match["mi"] or match["mi2"] or "0"
    at = _make_time(_num(match["h"]), _num(minute), match["t"])
    starts_at = local_to_utc(local_day, at, tz)
    if starts_at <= now:
        raise MeetingError("meetings.error.in_past")
    check_day(local_day, today)
    place = match["place"]
    if place is not None:
        place = check_length(" ".join(place.split()), PLACE_MAX, "meetings.error.place_too_long")
    return QuickForm(starts_at=starts_at, place=place or None)


def format_quick_form(starts_at: datetime, place: str | None, tz: ZoneInfo = VN_TZ) -> str:
    """The quick form that schedules this meeting again (shown as a hint, parsed back)."""
    loc = to_local(starts_at, tz)
    text = f"{loc:%d/%m/%Y} {loc:%H:%M}"
    return f"{text} {place}" if place else text
