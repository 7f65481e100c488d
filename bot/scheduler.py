"""Scheduler backbone: APScheduler triggers, the database decides what is due.

Each job is a module-level `async def job(ctx: JobContext) -> None` that reads the database
(reminder times, nudge deadlines, quarter starts) and enqueues outbox messages with dedupe keys,
so running it twice, or late, is harmless. That is what makes the catch-up pass simple: at
start-up every job runs once and handles whatever came due while the bot was down.

With several processes, a lease row per job (`job_leases`, compare-and-set, both dialects) lets
one process run it; the holder keeps renewing it on its ticks, others take over when it lapses.
Runs are logged with their duration; a failure is logged, recorded on the lease row and the job
simply runs again on its next tick.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.repositories.outbox import JobLeaseRepository

log = logging.getLogger("bot.scheduler")


@dataclass
class JobContext:
    """What jobs receive: long-lived objects only, never a session (jobs open their own)."""

    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    extra: dict[str, Any] = field(default_factory=dict)


JobFunc = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    trigger: BaseTrigger
    misfire_grace_time: int = 60
    coalesce: bool = True
    catch_up: bool = True
    lease: timedelta = timedelta(minutes=5)


@dataclass
class JobRegistry:
    """The jobs features contribute; installed into the app's AsyncIOScheduler at start-up."""

    specs: dict[str, JobSpec] = field(default_factory=dict)
    holder: str = field(default_factory=lambda: f"{uuid.uuid4().hex[:12]}")

    def add(
        self,
        name: str,
        func: JobFunc,
        trigger: BaseTrigger | None = None,
        *,
        every: timedelta | None = None,
        misfire_grace_time: int = 60,
        coalesce: bool = True,
        catch_up: bool = True,
        lease: timedelta | None = None,
    ) -> JobSpec:
        if trigger is None:
            if every is None:
                raise ValueError("give a trigger or every=")
            trigger = IntervalTrigger(seconds=every.total_seconds())
        spec = JobSpec(
            name,
            func,
            trigger,
            misfire_grace_time=misfire_grace_time,
            coalesce=coalesce,
            catch_up=catch_up,
            lease=lease or max(timedelta(seconds=30), (every or timedelta(minutes=5)) * 2),
        )
        self.specs[name] = spec
        return spec

    def install(self, scheduler: AsyncIOScheduler, ctx: JobContext) -> None:
        for spec in self.specs.values():
            scheduler.add_job(
                run_job,
                trigger=spec.trigger,
                args=[spec, ctx, self.holder],
                id=spec.name,
                name=spec.name,
                replace_existing=True,
                misfire_grace_time=spec.misfire_grace_time,
                coalesce=spec.coalesce,
                max_instances=1,
            )

    async def catch_up(self, ctx: JobContext) -> dict[str, bool]:
        """Run every catch-up job once now (at start-up): what came due while down is done."""
        return {
            spec.name: await run_job(spec, ctx, self.holder)
            for spec in self.specs.values()
            if spec.catch_up
        }


async def run_job(spec: JobSpec, ctx: JobContext, holder: str) -> bool:
    """Run one job under its lease; True when it ran (False: another process holds it)."""
    now = ctx.clock.now()
    try:
        async with ctx.session_factory() as s, s.begin():
            acquired = await JobLeaseRepository(s).try_acquire(
                spec.name, holder, now, now + spec.lease
            )
    except Exception:
        log.exception("job %s: could not take its lease; next tick retries", spec.name)
        return False
    if not acquired:
        log.debug("job %s: held by another process", spec.name)
        return False
    started = time.monotonic()
    error: str | None = None
    try:
        await spec.func(ctx)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception(
            "job %s failed after %.3fs; next tick retries", spec.name, time.monotonic() - started
        )
    else:
        log.info("job %s done in %.3fs", spec.name, time.monotonic() - started)
    try:
        async with ctx.session_factory() as s, s.begin():
            await JobLeaseRepository(s).finish(spec.name, holder, ctx.clock.now(), error)
    except Exception:
        log.exception("job %s: recording its run failed", spec.name)
    return True


# ---- built-in jobs ----------------------------------------------------------------------
async def outbox_tick(ctx: JobContext) -> None:
    """Wake the local sender and take back rows of senders that died (expired leases)."""
    sender = ctx.extra.get("sender")
    if sender is not None:
        sender.wake()
        await sender.recover()


def register_builtin_jobs(registry: JobRegistry) -> None:
    registry.add("outbox.tick", outbox_tick, every=timedelta(seconds=30), misfire_grace_time=30)


def create_registry() -> JobRegistry:
    registry = JobRegistry()
    register_builtin_jobs(registry)
    return registry


class SchedulerJobs:
    """Component: at start-up runs the catch-up pass, then installs the periodic jobs."""

    name = "scheduler-jobs"

    def __init__(self, registry: JobRegistry, scheduler: AsyncIOScheduler, ctx: JobContext):
        self.registry = registry
        self.scheduler = scheduler
        self.ctx = ctx

    async def start(self) -> None:
        ran = await self.registry.catch_up(self.ctx)
        log.info("catch-up pass: %s", ran)
        self.registry.install(self.scheduler, self.ctx)

    async def stop(self) -> None:
        for name in self.registry.specs:
            if self.scheduler.get_job(name) is not None:
                self.scheduler.remove_job(name)
