"""Scheduler backbone: catch-up after downtime, one runner per job, failures retried."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SystemClock
from bot.outbox import OutboxMessage, enqueue
from bot.scheduler import JobContext, JobRegistry, SchedulerJobs, create_registry, run_job
from sandbox.testing import run_sandbox
from storage.db import create_session_factory
from storage.models import JobLease, OutboxEntry
from tests.test_outbox import fast_config, running_sender

T0 = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)  # 18:00 in Hà Nội
MEETING_REMINDER_AT = T0 + timedelta(hours=1)


async def remind_due_meetings(ctx: JobContext) -> None:
    """A feature job: the reminder for a meeting is enqueued once its time has come."""
    if ctx.clock.now() < MEETING_REMINDER_AT:
        return
    async with ctx.session_factory() as s, s.begin():
        await enqueue(
            s,
            OutboxMessage(
                chat_id=77,
                text="Nhắc họp chi bộ: Thứ Năm, 03/12/2026 lúc 19:30",
                kind="reminder",
                dedupe_key="meeting:1:reminder",
                not_before=MEETING_REMINDER_AT,
            ),
        )


async def test_reminder_due_while_down_is_sent_once_after_startup(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    ctx = JobContext(sf, SystemClock())
    async with run_sandbox() as sb:
        sb.add_user(77, "Bí thư", started=True)

        async def start_bot_once() -> None:
            """What start-up does: sender, then the catch-up pass and the periodic jobs."""
            registry = create_registry()
            registry.add("meeting.reminders", remind_due_meetings, every=timedelta(minutes=1))
            scheduler = AsyncIOScheduler(timezone="Asia/Ho_Chi_Minh")
            async with running_sender(sb, sf, fast_config()) as sender:
                ctx.sender = sender
                jobs = SchedulerJobs(registry, scheduler, ctx)
                await jobs.start()
                assert scheduler.get_job("meeting.reminders") is not None
                # Give the sender a moment to deliver whatever is due (an event wait).
                with contextlib.suppress(TimeoutError):
                    await sb.wait_for(lambda: sb.bot_messages(77) or None, timeout=1.0)
                await jobs.stop()

        with time_machine.travel(T0):
            await start_bot_once()  # up before the reminder time: nothing due yet
        assert sb.bot_messages(77) == []
        # The bot is down from T0 until two hours later, past the reminder time.
        with time_machine.travel(T0 + timedelta(hours=2)):
            await start_bot_once()
            assert [m["text"] for m in sb.bot_messages(77)] == [
                "Nhắc họp chi bộ: Thứ Năm, 03/12/2026 lúc 19:30"
            ]
        with time_machine.travel(T0 + timedelta(hours=3)):
            await start_bot_once()  # a second restart neither re-enqueues nor resends
        assert len(sb.bot_messages(77)) == 1
    async with sf() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
    assert [(r.state, r.attempts) for r in rows] == [("sent", 1)]


async def test_one_process_runs_each_job_until_its_lease_lapses(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    ran: list[str] = []

    async def job(_ctx: JobContext) -> None:
        ran.append("x")

    a, b = JobRegistry(holder="proc-a"), JobRegistry(holder="proc-b")
    spec = a.add("nudges", job, every=timedelta(minutes=1), lease=timedelta(minutes=2))
    b.add("nudges", job, every=timedelta(minutes=1), lease=timedelta(minutes=2))
    ctx = JobContext(sf, SystemClock())
    with time_machine.travel(T0, tick=False):
        assert await run_job(spec, ctx, a.holder)
        assert not await run_job(spec, ctx, b.holder)
        assert await run_job(spec, ctx, a.holder)  # the holder renews on its own ticks
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):  # proc-a died
        assert await run_job(spec, ctx, b.holder)
        assert not await run_job(spec, ctx, a.holder)
    assert len(ran) == 3
    async with sf() as s:
        lease = await s.get(JobLease, "nudges")
    assert lease is not None and lease.holder == "proc-b" and lease.runs == 3


async def test_a_failing_job_is_logged_and_runs_next_tick(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sf = create_session_factory(engine)
    calls: list[int] = []

    async def flaky(_ctx: JobContext) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    registry = JobRegistry(holder="p")
    spec = registry.add("flaky", flaky, every=timedelta(seconds=30))
    ctx = JobContext(sf, SystemClock())
    with caplog.at_level(logging.DEBUG, logger="bot.scheduler"):
        assert await run_job(spec, ctx, "p")
        async with sf() as s:
            lease = await s.get(JobLease, "flaky")
            assert lease is not None and lease.last_error == "RuntimeError: database hiccup"
        assert await run_job(spec, ctx, "p")
    async with sf() as s:
        lease = await s.get(JobLease, "flaky")
    assert lease is not None and lease.last_error is None and lease.runs == 2
    assert any("job flaky failed" in r.getMessage() for r in caplog.records)
    assert any("job flaky done in" in r.getMessage() for r in caplog.records)


async def test_jobs_are_installed_with_explicit_options_and_stable_ids() -> None:
    async def job(_ctx: JobContext) -> None:
        return None

    registry = create_registry()
    registry.add("quarter.start", job, every=timedelta(hours=1), misfire_grace_time=600)
    scheduler = AsyncIOScheduler(timezone="Asia/Ho_Chi_Minh")
    scheduler.start(paused=True)
    ctx = JobContext(None, SystemClock())  # type: ignore[arg-type]
    registry.install(scheduler, ctx)
    registry.install(scheduler, ctx)  # replace_existing: installing twice keeps one of each
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert len(scheduler.get_jobs()) == 2
    scheduler.shutdown(wait=False)
    assert set(jobs) == {"outbox.tick", "quarter.start"}
    assert jobs["quarter.start"].misfire_grace_time == 600
    assert jobs["quarter.start"].coalesce is True and jobs["quarter.start"].max_instances == 1


def _two_jobs(holder: str, ran: list[str]) -> JobRegistry:
    """A reminders job (every minute) and a daily plan job, as the meetings feature has."""

    async def reminders(_ctx: JobContext) -> None:
        ran.append(f"{holder}:reminders")

    async def plan(_ctx: JobContext) -> None:
        ran.append(f"{holder}:plan")

    registry = JobRegistry(holder=holder)
    registry.add("meetings.reminders", reminders, every=timedelta(minutes=1))
    registry.add("meetings.plan", plan, every=timedelta(days=1))
    return registry


async def test_graceful_restart_catch_up_runs_every_job_at_once(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    ran: list[str] = []
    ctx = JobContext(sf, SystemClock())
    with time_machine.travel(T0, tick=False):
        for holder in ("before-restart", "after-restart"):
            scheduler = AsyncIOScheduler(timezone="Asia/Ho_Chi_Minh")
            jobs = SchedulerJobs(_two_jobs(holder, ran), scheduler, ctx)
            await jobs.start()
            await jobs.stop()  # a clean stop gives its leases back
    assert ran == [
        "before-restart:reminders",
        "before-restart:plan",
        "after-restart:reminders",
        "after-restart:plan",
    ]
    async with sf() as s:
        leases = (await s.scalars(select(JobLease))).all()
    assert {(lease.name, lease.holder) for lease in leases} >= {
        ("meetings.reminders", None),
        ("meetings.plan", None),
    }


async def test_crashed_process_leases_lapse_and_catch_up_retries_then(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    ran: list[str] = []
    ctx = JobContext(sf, SystemClock())
    with time_machine.travel(T0, tick=False):
        crashed = _two_jobs("crashed", ran)
        await crashed.catch_up(ctx)  # ran, then died without stopping: leases still held
        scheduler = AsyncIOScheduler(timezone="Asia/Ho_Chi_Minh")
        scheduler.start(paused=True)
        jobs = SchedulerJobs(_two_jobs("restarted", ran), scheduler, ctx)
        await jobs.start()
        retries = {j.id: j.trigger.run_date for j in scheduler.get_jobs() if "catch-up" in j.id}
        await jobs.stop()
        scheduler.shutdown(wait=False)
    assert ran == ["crashed:reminders", "crashed:plan"]  # held: not run by the new process yet
    # It is retried the moment each lease lapses: 2 min for reminders, and the daily job's
    # lease is capped (10 min), not 2 days.
    assert {k: v.astimezone(UTC) for k, v in retries.items()} == {
        "meetings.reminders.catch-up": T0 + timedelta(minutes=2, seconds=1),
        "meetings.plan.catch-up": T0 + timedelta(minutes=10, seconds=1),
    }
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=1), tick=False):
        restarted = _two_jobs("restarted", ran)
        assert await restarted.catch_up(ctx) == {"meetings.reminders": True, "meetings.plan": True}
