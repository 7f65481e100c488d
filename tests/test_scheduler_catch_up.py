"""A clock jump makes an interval job's next run the last one due, found in one stride (it used
to be walked an interval at a time: a month at 2 s is 1.3 million steps on the event loop)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from apscheduler.job import Job

from bot.scheduler import CatchUpInterval


def _job(trigger: CatchUpInterval, next_run: datetime) -> Job:
    job = Job.__new__(Job)
    job.trigger = trigger
    job.next_run_time = next_run
    return job


def test_a_month_jump_lists_at_most_two_run_times_quickly() -> None:
    start = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    trigger = CatchUpInterval(seconds=2, start_date=start, timezone=UTC)
    job = _job(trigger, start + timedelta(seconds=2))
    now = start + timedelta(days=31, seconds=1)
    began = time.perf_counter()
    runs = job._get_run_times(now)
    assert time.perf_counter() - began < 0.05
    assert 1 <= len(runs) <= 2 and runs[-1] <= now < runs[-1] + timedelta(seconds=2)
    assert (runs[-1] - start).total_seconds() % 2 == 0  # still on the interval's grid


def test_an_ordinary_tick_is_the_next_interval() -> None:
    start = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    trigger = CatchUpInterval(seconds=30, start_date=start, timezone=UTC)
    previous = start + timedelta(seconds=30)
    assert trigger.get_next_fire_time(previous, previous + timedelta(seconds=1)) == previous + (
        timedelta(seconds=30)
    )
