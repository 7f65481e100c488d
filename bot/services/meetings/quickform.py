"""Parsing what a secretary types: `/schedule 03/12 19:30 Nhà văn hóa thôn 3`.

Written the way people write it: an optional kind first ("chuyên đề", "thường kỳ", "bất
thường"), an optional "ngày", a date as day/month with an optional year (dd/mm, dd/mm/yy,
dd/mm/yyyy; `/`, `.` or `-`), an optional "lúc", a time (19:30, 19h30, 19h, 19g30, "7 giờ",
"7 giờ 30", "7 giờ rưỡi") with an optional part of the day (sáng, trưa, chiều, tối, đêm: "7 giờ
tối" is 19:00), then the place (an optional "tại"; may be empty: the branch's usual place is
used). Each failure is a `MeetingError` naming exactly what was wrong, so the person can fix
that part. Digits are ASCII only (`bot.inputs`), and every date lies in
`bot.inputs.date_in_window`: nothing downstream meets year 9999. Nothing here schedules: the
conversation shows what was understood and asks before anything is announced.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.inputs import date_in_window, latest_date, parse_int
from bot.services.context import ServiceContext
from bot.services.meetings.common import (
    DEFAULT_CONFIG,
    PLACE_MAX,
    MeetingConfig,
    MeetingError,
    check_length,
)
from bot.services.vn_calendar import VN_TZ, ReadableDay, local_to_utc, to_local
from storage.models.meetings import MeetingKind

# [0-9], not \d: `re` takes '٣' and '²' for digits.
_DATE = r"(?P<dt>(?P<d>[0-9]{1,2})[/.\-](?P<m>[0-9]{1,2})(?:[/.\-](?P<y>[0-9]{4}|[0-9]{2}))?)"
# A word ends at a space, the end, or punctuation: "7 giờ tối" but not "7 giờ tốiX".
_END = r"(?=[\s,;]|$)"
_TIME = (
    r"(?P<t>(?P<h>[0-9]{1,2})(?:"
    r":(?P<mi>[0-9]{2})"
    r"|\s*(?:h|g|giờ)(?:\s*(?P<mi2>[0-9]{1,2})(?:\s*phút)?|\s*(?P<half>rưỡi))?"
    rf"){_END})"
)
_PART = rf"(?:\s*,?\s*(?P<part>sáng|trưa|chiều|tối|đêm){_END})?"
_KIND_WORDS = r"chuyên\s+đề|thường\s+kỳ|thường\s+kì|bất\s+thường|đột\s+xuất"
_KIND = rf"(?:(?:buổi\s+)?(?:sinh\s+hoạt\s+)?(?P<{{name}}>{_KIND_WORDS}){_END}\s*)?"
_FORM = re.compile(
    rf"^\s*{_KIND.format(name='kind')}(?:ngày\s+)?{_DATE}\s*,?\s+(?:(?:vào\s+)?lúc\s+)?"
    rf"{_TIME}{_PART}\s*,?(?:\s*{_KIND.format(name='kind2')})?"
    r"(?:\s*(?:(?:tại|ở)\s+)?(?P<place>.*?))?\s*$",
    re.S | re.I,
)
_DATE_ONLY = re.compile(rf"^\s*(?:ngày\s+)?{_DATE}\s*$", re.I)
_TIME_ONLY = re.compile(rf"^\s*(?:lúc\s+)?{_TIME}{_PART}\s*$", re.I)

# A branch meets in waking hours; a start outside them is asked about, not refused
# (a night watch may meet late), so a typo like "03:00" for "13:00" is caught before it is sent.
EARLIEST = time(6, 0)
LATEST = time(22, 0)

# What each kind word means (the words are matched case-blind, spaces collapsed).
_KINDS = {
    "chuyên đề": MeetingKind.THEMATIC,
    "thường kỳ": MeetingKind.REGULAR,
    "thường kì": MeetingKind.REGULAR,
    "bất thường": MeetingKind.EXTRAORDINARY,
    "đột xuất": MeetingKind.EXTRAORDINARY,
}


@dataclass(frozen=True)
class QuickForm:
    starts_at: datetime  # aware UTC
    place: str | None  # None: use the branch's usual place
    kind: MeetingKind = MeetingKind.REGULAR


def odd_hour(at: time) -> bool:
    """A start before 06:00 or after 22:00: worth a question before anybody is told."""
    return at < EARLIEST or at > LATEST


def _match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """Phones send Vietnamese composed or decomposed; the patterns are written composed. The
    text as typed is tried first, so a place keeps the very characters it was written with."""
    return pattern.match(text) or pattern.match(unicodedata.normalize("NFC", text))


def _kind(raw: str | None) -> MeetingKind | None:
    return None if raw is None else _KINDS[" ".join(raw.lower().split())]


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
        raise MeetingError("mtg.error.too_far", latest=ReadableDay(latest_date(today)))
    return day


def check_start(starts_at: datetime, now: datetime, tz: ZoneInfo = VN_TZ) -> None:
    """A meeting's start: in the future, on a day within the window."""
    if starts_at <= now:
        raise MeetingError("meetings.error.in_past")
    check_day(to_local(starts_at, tz).date(), to_local(now, tz).date())


def meeting_start(day: date, at: time, ctx: ServiceContext) -> datetime:
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


# Part of the day -> (hours read as written, hours that take +12). "7 giờ tối" is 19:00,
# "19 giờ tối" too; "19 giờ sáng" contradicts itself and is refused.
_PARTS: dict[str, tuple[range, range]] = {
    "sáng": (range(0, 13), range(0)),
    "trưa": (range(10, 15), range(1, 3)),
    "chiều": (range(12, 20), range(1, 8)),
    "tối": (range(17, 24), range(5, 12)),
    "đêm": (range(21, 24), range(8, 12)),
}


def _with_part(hour: int, part: str | None, shown: str) -> int:
    if part is None:
        return hour
    part = part.lower()
    if part == "đêm" and hour in (0, 12):
        return 0
    if part == "đêm" and 0 < hour < 5:
        return hour
    as_is, later = _PARTS[part]
    if hour in as_is:
        return hour
    if hour in later:
        return hour + 12
    raise MeetingError("mtg.error.time_part", time=shown)


def _time_of(match: re.Match[str]) -> time:
    """The time a match spells: minutes after ':', 'h', 'g' or 'giờ' ("rưỡi" is 30), the hour
    moved by the part of the day."""
    shown = match["t"] + (f" {match['part']}" if match["part"] else "")
    minute = _num(match["mi"] or match["mi2"] or ("30" if match["half"] else "0"))
    hour = _num(match["h"])
    if hour > 23 or minute > 59:
        raise MeetingError("meetings.error.bad_time", time=match["t"])
    return _make_time(_with_part(hour, match["part"], shown), minute, match["t"])


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
    match = _match(_DATE_ONLY, text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    today = to_local(now, tz).date()
    day, month = _num(match["d"]), _num(match["m"])
    return check_day(
        _resolve_date(day, month, _year(match["y"]), today, match["dt"], config), today
    )


def parse_time(text: str) -> time:
    """One wizard step: a typed time, 19:30 / 19h30 / 19g30 / 7 giờ tối."""
    match = _match(_TIME_ONLY, text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    return _time_of(match)


def parse_quick_form(
    text: str, now: datetime, tz: ZoneInfo = VN_TZ, *, config: MeetingConfig = DEFAULT_CONFIG
) -> QuickForm:
    """`03/12 19:30 Nhà văn hóa thôn 3` -> a future UTC start, a place and a kind."""
    match = _match(_FORM, text)
    if not match:
        raise MeetingError("meetings.error.form_unparsable")
    today = to_local(now, tz).date()
    day, month = _num(match["d"]), _num(match["m"])
    local_day = _resolve_date(day, month, _year(match["y"]), today, match["dt"], config)
    at = _time_of(match)
    starts_at = local_to_utc(local_day, at, tz)
    if starts_at <= now:
        raise MeetingError("meetings.error.in_past")
    check_day(local_day, today)
    place = match["place"]
    if place is not None:
        place = check_length(" ".join(place.split()), PLACE_MAX, "meetings.error.place_too_long")
    kind = _kind(match["kind"]) or _kind(match["kind2"]) or MeetingKind.REGULAR
    return QuickForm(starts_at=starts_at, place=place or None, kind=kind)


def format_quick_form(starts_at: datetime, place: str | None, tz: ZoneInfo = VN_TZ) -> str:
    """The quick form that schedules this meeting again (shown as a hint, parsed back)."""
    loc = to_local(starts_at, tz)
    text = f"{loc:%d/%m/%Y} {loc:%H:%M}"
    # "tại" keeps a place that begins like a part of the day or a kind ("Sáng ...") a place.
    return f"{text} tại {place}" if place else text
