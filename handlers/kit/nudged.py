"""A nudge's action button, taken by the feature whose screen it opens.

A nudge carries `NudgeCb(a=<act>, id=<row>)`; each feature's own router answers its act (the
meeting scheduling and report screens, the visit report, the feedback item's card), so the
nudges package never calls another feature's handlers. Every press first asks the nudges service
whether the obligation is still owed: a thing done meanwhile answers "already done", not the
screen.
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeCb
from bot.services.access.policy import Refused
from bot.services.context import ServiceContext
from bot.services.nudges import check_press


async def open_from_nudge(
    query: CallbackQuery, callback_data: NudgeCb, session: AsyncSession, ctx: ServiceContext
) -> Message:
    """The message the screen opens under, once the obligation is known to be owed."""
    cb = callback_data
    await check_press(session, ctx, cb.a, cb.id, cb.c)
    message = query.message
    if not isinstance(message, Message) or message.chat.type != "private":
        raise Refused("nudge.open_in_private")
    await query.answer()
    return message
