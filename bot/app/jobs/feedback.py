"""Feedback jobs: close the answers nobody accepted or reopened within the allowed time.

The database decides: an item closed once is no longer "answered", so the job can run twice, late
or after a restart without closing anything twice or telling anyone twice (the notices' dedupe
keys name the closing event).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.scheduler import JobContext, JobRegistry
from bot.services.feedback.workflow import auto_close

log = logging.getLogger("bot.app.jobs.feedback")

AUTO_CLOSE_EVERY = timedelta(hours=6)


async def auto_close_job(ctx: JobContext) -> int:
    """Close the answers left without a word for `FeedbackConfig.auto_close_after`."""
    async with ctx.session_factory() as s, s.begin():
        closed = await auto_close(s, ctx.services)
    if closed:
        log.info("feedback: %d answered items closed automatically", closed)
    return closed


def register(registry: JobRegistry) -> None:
    registry.add(
        "feedback.auto_close", auto_close_job, every=AUTO_CLOSE_EVERY, misfire_grace_time=3600
    )
