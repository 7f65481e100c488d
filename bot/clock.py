"""A clock the services ask instead of calling `datetime.now` themselves.

Tests move wall-clock time with time-machine; the clock also gives the local zone so
"today" and "this month" mean Vietnam's, whatever the server's zone is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Aware UTC now; time-machine can move it in tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.astimezone(tz)
