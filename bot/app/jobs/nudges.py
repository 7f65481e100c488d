"""The nudges sweep: every few minutes, remind whoever owes something now and escalate what
was ignored (`bot.services.nudges.engine`).

The database decides: every nudge and escalation is an event unique per obligation, person
and step, written with its outbox row in the sweep's transaction, so a run twice, late, after
a restart or in a second process sends nothing twice. What came due at night waits for the
morning's first run after 07:00.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.scheduler import JobContext, JobRegistry
from bot.services.nudges import sweep
from storage.repositories.outbox import JobLeaseRepository

log = logging.getLogger("bot.app.jobs.nudges")

SWEEP_EVERY = timedelta(minutes=5)
JOB = "nudges.sweep"


async def sweep_job(ctx: JobContext) -> int:
    async with ctx.session_factory() as s, s.begin():
        fallback = ctx.settings.admin_ids if ctx.settings is not None else ()
        lease = await JobLeaseRepository(s).get(JOB)
        last_run = lease.last_ok_at if lease is not None else None
        result = await sweep(s, ctx.services, fallback_admins=fallback, last_run=last_run)
    if result.nudges or result.escalations or result.met or result.lapsed:
        log.info(
            "nudges: %d nudges, %d escalations queued; %d met, %d lapsed (%d owed, %d due)",
            result.nudges,
            result.escalations,
            result.met,
            result.lapsed,
            result.obligations,
            result.due,
        )
    return result.nudges + result.escalations + result.met + result.lapsed


def register(registry: JobRegistry) -> None:
    registry.add(JOB, sweep_job, every=SWEEP_EVERY, misfire_grace_time=300)
