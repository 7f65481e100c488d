"""Bounds for everything a person (or a forged button) can hand the bot as a number or a date.

One parser for every integer from outside (callback data, command arguments, typed digits):
ASCII digits only (`str.isdigit()` also accepts '²' and '٣', which `int()` then rejects or
reads differently), and a value that fits a 64-bit database column. Dates a person enters lie
in a sane window, so nothing downstream (an .ics export, a calendar) meets year 9999.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

ID_MAX = 2**63 - 1  # BIGINT: Telegram user and chat ids
ROW_ID_MAX = 2**31 - 1  # INTEGER primary keys (meetings, branches, members, ...)
SMALL_MAX = 10_000  # pages, counts, years, months, days
DIGITS = re.compile(r"[0-9]{1,19}")
# How far ahead a person may put a meeting (or any date they type): about two years.
DATE_AHEAD_DAYS = 2 * 366


def parse_int(text: str | int, *, lo: int = 0, hi: int = ID_MAX, signed: bool = False) -> int:
    """`text` as an int within [lo, hi], or ValueError. Only the digits 0-9 (and a leading '-'
    when `signed`) are accepted; an int passes through the same bounds."""
    if isinstance(text, bool):
        raise ValueError("not a number")
    if isinstance(text, int):
        value = text
    else:
        raw = text.strip()
        negative = signed and raw.startswith("-")
        digits = raw[1:] if negative else raw
        if not DIGITS.fullmatch(digits):
            raise ValueError("not a number")
        value = -int(digits) if negative else int(digits)
    if not lo <= value <= hi:
        raise ValueError("out of range")
    return value


def try_int(text: str, *, lo: int = 0, hi: int = ID_MAX) -> int | None:
    """`parse_int`, or None where it refuses (for optional command arguments)."""
    try:
        return parse_int(text, lo=lo, hi=hi)
    except ValueError:
        return None


# Periods typed after a command (/nudges 12/2026, /coverage 2027-Q1, /feedback_stats 2026):
# ASCII digits only, like every number ('１２' and '١٢' are not 12). Callers bound the year.
_YEAR = re.compile(r"([0-9]{4})")
_QUARTER = re.compile(r"([0-9]{4})-?[Qq]([1-4])")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})|([0-9]{1,2})/([0-9]{4})")


def typed_year(text: str) -> int | None:
    """`2026` as 2026; anything else None."""
    m = _YEAR.fullmatch(text.strip())
    return int(m.group(1)) if m else None


def typed_quarter(text: str) -> tuple[int, int] | None:
    """`2027-Q1` or `2027Q1` (any case) as (2027, 1); anything else None."""
    m = _QUARTER.fullmatch(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def typed_month(text: str) -> tuple[int, int] | None:
    """`12/2026` or `2026-12` as (2026, 12), a month 1-12; anything else None."""
    m = _MONTH.fullmatch(text.strip())
    if m is None:
        return None
    year, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    return (int(year), int(month)) if 1 <= int(month) <= 12 else None


_DAY = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})")


def typed_day(text: str) -> date | None:
    """`15/01/2027` (or with '.' or '-') as that day; a day that does not exist (31/02) or
    anything else None."""
    m = _DAY.fullmatch(text.strip())
    if m is None:
        return None
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


_DAY_MONTH = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})")


def typed_day_near(text: str, today: date) -> date | None:
    """`05/01` as the 5th of January nearest `today` (last year, this year or next), or
    `05/01/2027` as that day: how people name a meeting. Anything else None."""
    full = typed_day(text)
    if full is not None:
        return full
    m = _DAY_MONTH.fullmatch(text.strip())
    if m is None:
        return None
    days = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            days.append(date(year, int(m.group(2)), int(m.group(1))))
        except ValueError:
            continue
    return min(days, key=lambda d: abs((d - today).days)) if days else None


def latest_date(today: date) -> date:
    """The last day a person may choose: about two years ahead."""
    return today + timedelta(days=DATE_AHEAD_DAYS)


def date_in_window(day: date, today: date) -> bool:
    """Not before today, not beyond `latest_date`."""
    return today <= day <= latest_date(today)


def _bounded(lo: int, hi: int, *, signed: bool = False) -> Any:
    def check(value: object) -> int:
        if not isinstance(value, str | int):
            raise ValueError("not a number")
        return parse_int(value, lo=lo, hi=hi, signed=signed)

    return BeforeValidator(check)


# Bounded integer types for pydantic models fed from outside (callback data, drafts): a
# malformed or oversized value fails validation instead of reaching the database.
RowId = Annotated[int, _bounded(1, ROW_ID_MAX)]  # INTEGER primary keys
TelegramId = Annotated[int, _bounded(1, ID_MAX)]  # Telegram user ids
TelegramChatId = Annotated[int, _bounded(-ID_MAX, ID_MAX, signed=True)]  # groups are negative
SmallInt = Annotated[int, _bounded(0, SMALL_MAX)]  # pages, years, months, days, counts
