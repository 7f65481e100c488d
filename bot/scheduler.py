"""Scheduler backbone: APScheduler triggers, the database decides what is due.

Each job is a module-level `async def job(ctx: JobContext) -> None` that reads the database
(reminder times, nudge deadlines, quarter starts) and enqueues outbox messages with dedupe keys,
so running it twice, or late, is harmless. That is what makes the catch-up pass simple: at
start-up every job runs once and handles whatever came due while the bot was down.

With several processes, a lease row per job (`job_leases`, compare-and-set, both dialects) lets
one process run it; the holder keeps renewing it on its ticks, others take over when it lapses.
A clean stop releases the process's leases, so the next start-up's catch-up runs every job at
once; a crashed process's leases lapse (at most `LEASE_MAX` after its last run), and a catch-up
that found a job held retries it the moment the lease lapses.
Runs are logged with their duration: at INFO only when the job did something (it returns how
many things it did) or ran slowly, otherwise at DEBUG, so an idle bot's log stays quiet (the
live-count and progress editors tick every few seconds). A failure is logged, recorded on the
lease row and the job simply runs again on its next tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar, cast

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import CatalogI18n, create_i18n
from bot.outbox import Sender
from bot.outbox.waking import automatically
from bot.services.context import ServiceContext
from bot.services.vn_calendar import VN_TZ
from bot.settings import Settings
from storage.repositories.outbox import JobLeaseRepository

T = TypeVar("T")

log = logging.getLogger("bot.scheduler")
LEASE_MIN = timedelta(seconds=30)
# A crashed process blocks a job at most this long (a daily job's lease used to be 2 days).
LEASE_MAX = timedelta(minutes=10)


@dataclass
class JobContext:
    """What jobs receive: long-lived objects only, never a session (jobs open their own).

    Typed fields, not a bag of names: a job that needs the bot or the catalogs says so in its
    types, and a job's own long-lived helper (the live-count editor) is kept with `keep`.
    """

    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    bot: Bot | None = None
    i18n: CatalogI18n | None = None
    settings: Settings | None = None
    sender: Sender | None = None
    _kept: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def services(self) -> ServiceContext:
        """The context use cases render their notices with, the same a handler gets as `ctx`.

        Read at each run, not fixed at construction: the composition root fills `i18n` and
        `settings` after making the context, and tests set them too. A process without the
        handlers' catalogs (one that only sends) loads them once, on first use.
        """
        locale = self.settings.default_language if self.settings is not None else "vi"
        if self.i18n is None:
            self.i18n = create_i18n(locale)
        tz = self.settings.tz if self.settings is not None else VN_TZ
        return ServiceContext(self.clock, self.i18n, locale, tz)

    def keep(self, key: str, make: Callable[[], T]) -> T:
        """The job-owned object under `key`, made once per process."""
        if key not in self._kept:
            self._kept[key] = make()
        return cast(T, self._kept[key])


class CatchUpInterval(IntervalTrigger):
    """An interval trigger that steps over a long gap in one stride.

    APScheduler lists every fire time missed since the last run (`Job._get_run_times`) one
    interval at a time before coalescing them into one run; after the clock jumps ahead (the
    demo's "next day", a test moving its clock a month, a laptop waking), a 2-second job walked
    over a million instants and blocked the event loop for seconds. Missed times are coalesced
    anyway, so the last one due is the only one that matters: jump straight to it.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is not None and self.jitter is None:
            step = self.interval_length
            due = previous_fire_time.timestamp() + step
            if due + step <= now.timestamp():
                start = self.start_date.timestamp()
                last = start + step * ((now.timestamp() - start) // step)
                if last > previous_fire_time.timestamp():
                    if self.end_date and last > self.end_date.timestamp():
                        return None
                    return datetime.fromtimestamp(last, tz=self.timezone)
        result: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return result


# A job returns how many things it did (messages queued, edits made); None or 0 means idle.
JobFunc = Callable[[JobContext], Awaitable[int | None]]
# A run slower than this is worth an INFO line even when it did nothing.
SLOW_RUN = 5.0


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
            trigger = CatchUpInterval(seconds=every.total_seconds())
        spec = JobSpec(
            name,
            func,
            trigger,
            misfire_grace_time=misfire_grace_time,
            coalesce=coalesce,
            catch_up=catch_up,
            lease=lease or min(LEASE_MAX, max(LEASE_MIN, (every or timedelta(minutes=5)) * 2)),
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

    def retry_when_free(
        self, scheduler: AsyncIOScheduler, ctx: JobContext, name: str, at: datetime
    ) -> None:
        """Run a job once more at `at` (when another process's lease on it lapses)."""
        scheduler.add_job(
            run_job,
            trigger=DateTrigger(run_date=at),
            args=[self.specs[name], ctx, self.holder],
            id=f"{name}.catch-up",
            name=f"{name}.catch-up",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def release(self, ctx: JobContext) -> int:
        """Give up every lease this process holds (a clean stop)."""
        async with ctx.session_factory() as s, s.begin():
            return await JobLeaseRepository(s).release_all(self.holder)


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
        with automatically():  # what a job queues keeps waking hours (bot.outbox.waking)
            did = await spec.func(ctx)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception(
            "job %s failed after %.3fs; next tick retries", spec.name, time.monotonic() - started
        )
    else:
        elapsed = time.monotonic() - started
        level = logging.INFO if did or elapsed >= SLOW_RUN else logging.DEBUG
        log.log(level, "job %s done in %.3fs (did %s)", spec.name, elapsed, did or 0)
    try:
        async with ctx.session_factory() as s, s.begin():
            await JobLeaseRepository(s).finish(spec.name, holder, ctx.clock.now(), error)
    except Exception:
        log.exception("job %s: recording its run failed", spec.name)
    return True


async def stop_scheduler(scheduler: AsyncIOScheduler, grace: float) -> None:
    """Stop starting jobs, let the ones running finish (up to `grace` seconds), then shut down.

    APScheduler's asyncio executor cancels the jobs in progress when it shuts down: a tick
    caught mid-transaction at a clean stop was logged as a failure with a traceback (and its
    work rolled back). Jobs are short, so waiting for them costs a stop almost nothing.
    """
    if not scheduler.running:
        return
    scheduler.pause()
    running = [
        future
        for executor in scheduler._executors.values()
        for future in list(getattr(executor, "_pending_futures", ()))
        if not future.done()
    ]
    if running:
        _done, late = await asyncio.wait(running, timeout=grace)
        if late:
            log.warning("%d jobs still running after %.0f s; they are cancelled", len(late), grace)
    scheduler.shutdown(wait=False)


# ---- built-in jobs ----------------------------------------------------------------------
async def outbox_tick(ctx: JobContext) -> int:
    """Wake the local sender and take back rows of senders that died (expired leases)."""
    sender = ctx.sender
    if sender is None:
        return 0
    sender.wake()
    return sum((await sender.recover()).values())


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
        for name, done in ran.items():
            if not done:
                await self._retry_after_lapse(name)

    async def _retry_after_lapse(self, name: str) -> None:
        """Another process (perhaps one that crashed) holds the job: run it when that lapses."""
        async with self.ctx.session_factory() as s:
            lease = await JobLeaseRepository(s).get(name)
        until = lease.lease_until if lease is not None else None
        if until is not None:
            at = until + timedelta(seconds=1)
            self.registry.retry_when_free(self.scheduler, self.ctx, name, at)
            log.info("job %s held by another process until %s; retrying then", name, until)

    async def stop(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id in self.registry.specs or job.id.endswith(".catch-up"):
                self.scheduler.remove_job(job.id)
        try:
            released = await self.registry.release(self.ctx)
        except Exception:
            log.exception("could not release the job leases; they lapse on their own")
        else:
            log.info("released %d job leases", released)
