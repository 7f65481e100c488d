"""Meeting jobs: the plan (daily), reminders due now (every minute), the live RSVP count.

Each job reads the database and queues outbox rows under dedupe keys shared with
`meeting_notices`, so running one twice, late, or after a restart repeats nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from bot.app.jobs.common import bot_editor, job_bot
from bot.scheduler import JobContext, JobRegistry
from bot.services.meetings import LiveCounts, Notices, generate_plan
from bot.services.rosters.reminders import visitor_reminders
from storage.repositories.meetings import MeetingRepository

log = logging.getLogger("bot.app.jobs.meetings")

PLAN_EVERY = timedelta(days=1)
REMIND_EVERY = timedelta(minutes=1)
# At most one edit of an announcement's count per this interval (a burst of taps -> one edit).
LIVE_EDIT_EVERY = timedelta(seconds=3)
# Branches planned per transaction (see `plan_job`).
PLAN_BATCH = 50


async def plan_job(ctx: JobContext) -> int:
    """Plan the coming months' regular meetings of every branch; tell secretaries about
    holiday shifts.

    A batch of branches per transaction: on SQLite a writer holds the whole file, and a city's
    first plan in one transaction (thousands of meetings) would keep people's answers waiting
    on the lock for seconds; a batch holds it for milliseconds.
    """
    async with ctx.session_factory() as s:
        branch_ids = await MeetingRepository(s).active_branch_ids()
    created = 0
    for start in range(0, len(branch_ids), PLAN_BATCH):
        created += await _plan_batch(ctx, branch_ids[start : start + PLAN_BATCH])
    async with ctx.session_factory() as s, s.begin():
        told = await Notices(s, ctx.services).shift_notices()
    if created or told:
        log.info("plan: %d meetings planned, %d holiday shifts told", created, told)
    return created + told


async def _plan_batch(ctx: JobContext, branch_ids: list[int]) -> int:
    for attempt in range(3):
        try:
            async with ctx.session_factory() as s, s.begin():
                result = await generate_plan(
                    s, ctx.clock, branch_ids=branch_ids, tz=ctx.services.tz
                )
            return len(result.created)
        except IntegrityError:
            # A secretary scheduled (or another process planned) the same month meanwhile:
            # re-read and plan what is still missing now, not a day later.
            if attempt == 2:
                raise
            log.info("plan: a month was planned concurrently, retrying")
    return 0


async def reminders_job(ctx: JobContext) -> int:
    """Queue the reminders due now (group 24 h / 2 h, members 24 h, visitors 24 h)."""
    async with ctx.session_factory() as s, s.begin():
        notices = Notices(s, ctx.services)
        queued = await notices.send_due_reminders()
        queued += await visitor_reminders(s, notices.ctx)
    if queued:
        log.info("reminders: %d queued", queued)
    return queued


def live_counts(ctx: JobContext) -> LiveCounts:
    return ctx.keep(
        "meeting_live_counts", lambda: LiveCounts(every=LIVE_EDIT_EVERY.total_seconds())
    )


async def live_counts_job(ctx: JobContext) -> int:
    """Edit announcements whose RSVP count changed, coalesced (see `LiveCounts`).

    Done here rather than through the outbox: the outbox has no edit content type, and an edit
    is idempotent and re-rendered from the database on each pass, so nothing durable is lost.
    """
    bot = job_bot(ctx)
    if bot is None:
        return 0
    return await live_counts(ctx).flush(ctx.session_factory, ctx.services, bot_editor(bot))


def register(registry: JobRegistry) -> None:
    registry.add("meetings.plan", plan_job, every=PLAN_EVERY, misfire_grace_time=3600)
    registry.add("meetings.reminders", reminders_job, every=REMIND_EVERY, misfire_grace_time=60)
    registry.add(
        "meetings.live_counts",
        live_counts_job,
        every=LIVE_EDIT_EVERY,
        misfire_grace_time=10,
        catch_up=False,
        lease=timedelta(seconds=30),
    )
