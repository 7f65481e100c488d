"""Never at night: the one rule for when an automatic message may leave.

What the bot sends on its own leaves only in waking hours, 07:00-21:00 local unless a caller
passes a district's own hours; what falls due at night is held to the next morning by its
`not_before`, so a restart cannot send it early either. "On its own" is decided by who caused
the message, never by its outbox kind: whatever a scheduled job queues (`run_job` runs every
job inside `automatically()`), of any kind (reminders, nudges, escalations, roster and plan
notices, broadcast reminders, and an `answer` such as the notice that an answer was closed
automatically), is held. A list of "automatic kinds" had let a job's notice of another kind
out at night (trust class 12); the rule now holds for a kind or a job not written yet.
Two exceptions:

- a person just caused it: what a person's update, a button or the command line causes is
  told at once (outside `automatically()`), as a phone call would be, and the person who
  acted is awake;
- it would be too late in the morning: `latest` (a meeting's start less an hour) caps the
  hold, so a meeting at 06:30 still gets its reminder before it starts.

Whoever renders such a message ("hôm nay", "ngày mai") asks `send_moment` for the moment it
will leave and words the day from that, never from the moment it was queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_automatic: ContextVar[bool] = ContextVar("outbox_automatic", default=False)


@dataclass(frozen=True)
class Waking:
    """Local waking hours: from `start` (inclusive) to `end` (exclusive)."""

    start: time = time(7)
    end: time = time(21)
    tz: ZoneInfo = ZoneInfo("Asia/Ho_Chi_Minh")

    def awake(self, at: datetime) -> bool:
        return self.start <= at.astimezone(self.tz).time() < self.end

    def next(self, at: datetime) -> datetime:
        """`at` when awake, else the next morning's start."""
        if self.awake(at):
            return at
        local = at.astimezone(self.tz)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.start, tzinfo=self.tz).astimezone(at.tzinfo)


DEFAULT_WAKING = Waking()


def is_automatic() -> bool:
    return _automatic.get()


@contextlib.contextmanager
def automatically() -> Iterator[None]:
    """Messages queued inside are the bot's own (a scheduled job runs): waking hours apply."""
    token = _automatic.set(True)
    try:
        yield
    finally:
        _automatic.reset(token)


def send_moment(
    kind: str,
    at: datetime,
    *,
    latest: datetime | None = None,
    waking: Waking | None = None,
) -> datetime:
    """When a message of `kind` due at `at` leaves: `at`, or the next waking moment for one a
    job queues, whatever its kind (never past `latest`, never before `at`)."""
    if not is_automatic():
        return at
    held = (waking or DEFAULT_WAKING).next(at)
    if latest is not None:
        held = min(held, max(at, latest))
    return held
