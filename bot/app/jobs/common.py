"""What every feature's jobs take from the job context: the bot, the use cases' context, and
the one message editor the live messages use (counts and progress alike)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.i18n import CatalogI18n, create_i18n
from bot.scheduler import JobContext
from bot.services.live_edits import Markup, MessageEditor
from bot.services.meetings import MeetingContext
from bot.services.vn_calendar import VN_TZ


def _i18n(ctx: JobContext) -> CatalogI18n:
    if ctx.i18n is None:
        ctx.i18n = create_i18n(_default_locale(ctx))
    return ctx.i18n


def _default_locale(ctx: JobContext) -> str:
    return ctx.settings.default_language if ctx.settings is not None else "vi"


def job_tz(ctx: JobContext) -> ZoneInfo:
    return ctx.settings.tz if ctx.settings is not None else VN_TZ


def meeting_ctx(ctx: JobContext) -> MeetingContext:
    """The context the use cases render their notices with."""
    return MeetingContext(ctx.clock, _i18n(ctx), _default_locale(ctx), job_tz(ctx))


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
