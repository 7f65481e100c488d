"""Broadcast jobs: the live progress and acknowledgement figures on the sender's message
(every few seconds, coalesced), and the reminders before a deadline (every minute).

Both read the database for what changed or came due; reminders carry dedupe keys and a
`reminded_at` mark, so a job run twice, late, or after a restart repeats nothing. A scheduled
broadcast needs no job to start: its copies wait in the outbox (`not_before`), which survives
restarts; the progress job only notices it began.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot.jobs.meetings import _bot, _meeting_ctx
from bot.scheduler import JobContext, JobRegistry
from bot.services.broadcasts import DEFAULT_CONFIG, LiveProgress, install_hooks, reminders_due

log = logging.getLogger("bot.jobs.broadcasts")

PROGRESS_EVERY = timedelta(seconds=2)
REMIND_EVERY = timedelta(minutes=1)


def live_progress(ctx: JobContext) -> LiveProgress:
    return ctx.keep(
        "broadcast_live_progress", lambda: LiveProgress(every=DEFAULT_CONFIG.progress_every)
    )


async def progress_job(ctx: JobContext) -> int:
    """Mirror outcomes, move statuses on, edit the progress messages whose figures changed."""
    bot = _bot(ctx)

    async def edit(chat_id: int, message_id: int, text: str, markup: dict[str, Any]) -> None:
        if bot is None:
            return
        await bot.edit_message_text(
            text=text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=InlineKeyboardMarkup.model_validate(markup),
        )

    return await live_progress(ctx).flush(ctx.session_factory, _meeting_ctx(ctx), edit)


async def reminders_job(ctx: JobContext) -> int:
    async with ctx.session_factory() as s, s.begin():
        queued = await reminders_due(s, _meeting_ctx(ctx))
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
