"""A clock the services ask instead of calling `datetime.now` themselves.

Tests move wall-clock time with time-machine; the clock also gives the local zone so
"today" and "this month" mean Vietnam's, whatever the server's zone is.

Trying the bot against the local stand-in, a person may want to see what it does next week:
`CLOCK_START` (or the demo's clock control) shifts this process's clock by an offset. The shift is
refused unless the bot talks to a Bot API on this machine (see `bot.settings`), so a bot connected
to Telegram always runs on the real time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


_offset = timedelta(0)


def shift_to(instant: datetime) -> timedelta:
    """Make `SystemClock` read `instant` now (ticking on from there); returns the offset."""
    global _offset
    _offset = instant - datetime.now(UTC)
    return _offset


def shift_by(delta: timedelta) -> timedelta:
    """Move `SystemClock` forward (or back) by `delta`; returns the new offset."""
    global _offset
    _offset += delta
    return _offset


def offset() -> timedelta:
    """How far this process's clock is shifted from the real time (zero unless trying)."""
    return _offset


class SystemClock:
    """Aware UTC now (shifted only when trying the bot locally); time-machine can move it in
    tests."""

    def now(self) -> datetime:
        return datetime.now(UTC) + _offset


def local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.astimezone(tz)
