"""Broadcast jobs: the live progress and acknowledgement figures on the sender's message
(every few seconds, coalesced), and the reminders before a deadline (every minute).

Both read the database for what changed or came due; reminders carry dedupe keys and a
`reminded_at` mark, so a job run twice, late, or after a restart repeats nothing. A scheduled
broadcast's copies wait in the outbox (`not_before`), which survives restarts; the progress job
notices it began and, in that same transaction, queues the copies of the groups linked since Gửi
(`start_due`: once, dedupe keys as at Gửi).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.app.jobs.common import bot_editor, job_bot
from bot.scheduler import JobContext, JobRegistry
from bot.services.broadcasts import DEFAULT_CONFIG, LiveProgress, install_hooks, reminders_due
from bot.services.live_edits import Markup

log = logging.getLogger("bot.app.jobs.broadcasts")

PROGRESS_EVERY = timedelta(seconds=2)
REMIND_EVERY = timedelta(minutes=1)


def live_progress(ctx: JobContext) -> LiveProgress:
    return ctx.keep(
        "broadcast_live_progress", lambda: LiveProgress(every=DEFAULT_CONFIG.progress_every)
    )


async def progress_job(ctx: JobContext) -> int:
    """Mirror outcomes, move statuses on, edit the progress messages whose figures changed."""
    bot = job_bot(ctx)

    async def no_edit(chat_id: int, message_id: int, text: str, markup: Markup | None) -> None:
        return None  # no bot in this process: statuses still move on

    editor = bot_editor(bot) if bot is not None else no_edit
    return await live_progress(ctx).flush(ctx.session_factory, ctx.services, editor)


async def reminders_job(ctx: JobContext) -> int:
    async with ctx.session_factory() as s, s.begin():
        queued = await reminders_due(s, ctx.services)
    if queued:
        log.info("broadcast reminders: %d queued", queued)
    return queued


def register(registry: JobRegistry) -> None:
    install_hooks()
    registry.add(
        "broadcasts.progress",
        progress_job,
        every=PROGRESS_EVERY,
        misfire_grace_time=10,
        lease=timedelta(seconds=30),
    )
    registry.add("broadcasts.reminders", reminders_job, every=REMIND_EVERY, misfire_grace_time=60)
