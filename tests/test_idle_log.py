"""An idle bot keeps its log quiet: a job that did nothing logs nothing at INFO.

The live-count and progress editors tick every 2-3 seconds; they (and APScheduler's own
"Running job" / "executed successfully" lines) used to fill 85% of an idle bot's log.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import time_machine
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.jobs import register_all
from bot.clock import SystemClock
from bot.logs import setup_logging
from bot.scheduler import JobContext, create_registry, run_job
from storage.db import create_session_factory

T0 = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


class _NoEdits:
    """A bot that must not be asked for anything: an idle pass edits nothing."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"an idle job called bot.{name}")


async def test_class20_idle_jobs_log_nothing_at_info(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    registry = create_registry()
    register_all(registry)
    ctx = JobContext(create_session_factory(engine), SystemClock(), bot=cast(Bot, _NoEdits()))
    with time_machine.travel(T0, tick=False):
        for spec in registry.specs.values():  # the first pass (a catch-up) may set things up
            assert await run_job(spec, ctx, "idle")
    caplog.clear()
    with (
        time_machine.travel(T0 + timedelta(seconds=3), tick=False),
        caplog.at_level(logging.DEBUG, logger="bot"),
    ):
        for name in ("meetings.live_counts", "broadcasts.progress", "outbox.tick"):
            assert await run_job(registry.specs[name], ctx, "idle")
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert info == [], [r.getMessage() for r in info]
    assert any("job meetings.live_counts done" in r.getMessage() for r in caplog.records)


async def test_class20_a_job_that_did_something_logs_one_info_line(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async def busy(_ctx: JobContext) -> int:
        return 2

    registry = create_registry()
    spec = registry.add("busy", busy, every=timedelta(seconds=30))
    ctx = JobContext(create_session_factory(engine), SystemClock())
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.INFO, logger="bot"):
        assert await run_job(spec, ctx, "p")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 1 and "job busy done" in lines[0] and "did 2" in lines[0]


def test_class20_apscheduler_run_lines_are_below_the_log_level() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", stream=io.StringIO())
        executor = logging.getLogger("apscheduler.executors.default")
        assert not executor.isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
