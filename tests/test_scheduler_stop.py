"""A clean stop lets a job in progress finish: APScheduler's executor used to cancel it, and
every stop that caught a tick logged a traceback (seen in `test_ctrl_c_after_a_roster_solve`)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.scheduler import stop_scheduler


async def test_a_job_running_at_stop_finishes_and_nothing_is_logged_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def tick() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    scheduler = AsyncIOScheduler()
    scheduler.start()
    scheduler.add_job(tick, DateTrigger())
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(stop_scheduler(scheduler, grace=10))
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the job rather than cancelling it
    release.set()
    await asyncio.wait_for(stopping, 10)
    await asyncio.sleep(0)
    assert finished == [True] and not scheduler.running
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_job_past_the_grace_is_cancelled_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler = AsyncIOScheduler()
    scheduler.start()
    scheduler.add_job(stuck, DateTrigger())
    await asyncio.wait_for(started.wait(), 10)
    await stop_scheduler(scheduler, grace=0.01)
    await asyncio.sleep(0)  # AsyncIOScheduler.shutdown runs on the loop's next turn
    assert not scheduler.running
    assert "1 jobs still running" in caplog.text
