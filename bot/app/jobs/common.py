"""What every feature's jobs take from the job context besides its `services`: the bot, and the
one message editor the live messages use (counts and progress alike)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.scheduler import JobContext
from bot.services.live_edits import Markup, MessageEditor


def job_bot(ctx: JobContext) -> Bot | None:
    """The handlers' bot, else the sender's own (a process that only sends)."""
    if ctx.bot is None and ctx.sender is not None:
        return ctx.sender.bot
    return ctx.bot


def bot_editor(bot: Bot) -> MessageEditor:
    """Edits with `bot`: the stored keyboard becomes aiogram's type here, once, at the edge."""

    async def edit(chat_id: int, message_id: int, text: str, markup: Markup | None) -> None:
        await bot.edit_message_text(
            text=text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=None if markup is None else InlineKeyboardMarkup.model_validate(markup),
        )

    return edit
