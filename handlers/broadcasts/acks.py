"""Đã nhận, pressed under a broadcast (or its reminder) in a group or a private chat.

The button names the broadcast; the chat is the pressed message's own. The service decides
whose press counts there (in a branch group: its secretary or deputy) and says what to show:
a short toast when it was recorded, an alert when it was already or cannot be (naming who
should press). A press from a chat the broadcast did not go to, or a forged one, is refused.
"""

from __future__ import annotations

import re

from aiogram import Bot
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcasts as svc
from bot.services.access.policy import Actor, Refused
from bot.services.context import ServiceContext
from handlers.broadcasts.callbacks import AckCb
from handlers.kit import Chats, feature_router, t
from handlers.kit.answers import clip_alert
from handlers.kit.presence import member_chat

router = feature_router(__name__, Chats.ANY)


def _plain(text: str) -> str:
    """An alert or a toast is plain text of at most 200 characters."""
    return clip_alert(re.sub(r"<[^>]+>", "", text))


@router.callback_query(AckCb.filter())
async def on_ack(
    query: CallbackQuery,
    callback_data: AckCb,
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    bot: Bot,
) -> None:
    if query.message is None:
        raise Refused("bc.not_recipient")
    # A press in a group counts as that chat's only from a current member of it.
    via = await member_chat(bot, actor, query.message.chat.id, refuse=False)
    result = await svc.acknowledge(
        session,
        ctx,
        actor,
        callback_data.broadcast_id,
        query.message.chat.id,
        via_chat=via,
    )
    text = _plain(t(result.key, **{k: str(v) for k, v in result.params.items()}))
    await query.answer(text, show_alert=not result.recorded)
