"""Roster jobs: each day, make the coming quarter's drafts once they are due and send each to
its group's leader.

The database decides: a program whose roster for the quarter exists is left alone, so the job
can run every day, twice, or after a restart without making a second draft or a second message.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.scheduler import JobContext, JobRegistry
from bot.services.rosters.automation import make_due_drafts

log = logging.getLogger("bot.app.jobs.rosters")

DRAFT_EVERY = timedelta(hours=6)


async def drafts_job(ctx: JobContext) -> int:
    """Draft the coming quarter's rosters due by today, one transaction per group."""
    made = await make_due_drafts(ctx.session_factory, ctx.services)
    if made:
        log.info("rosters: %d drafts made and sent to their leaders", made)
    return made


def register(registry: JobRegistry) -> None:
    registry.add("rosters.drafts", drafts_job, every=DRAFT_EVERY, misfire_grace_time=3600)
