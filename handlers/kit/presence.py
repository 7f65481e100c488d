"""Whether a press in a group may stand for "a member of this chat pressed it".

Telegram lets anyone viewing a public supergroup press its buttons, and a person who left a
group may still hold its messages, so the chat of a press alone proves nothing. Where a press
in a chat is the right to act (a unit's, the district's or a department's card, Đã nhận in a
committee's chat), the presser must be a known account (the organisation knows them) and a
current member of the chat, as Telegram says now (`getChatMember`, kept a short while so a
burst of presses costs one call per person and chat).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from weakref import WeakKeyDictionary

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.services.access.policy import Actor, Refused
from handlers.kit.chats import PRIVATE

PRESENT = frozenset({"creator", "administrator", "member"})
TTL = 30.0  # seconds a getChatMember answer is trusted
_CACHE_MAX = 4096
# One cache per Bot (per app): answers never leak between apps in one process.
_caches: WeakKeyDictionary[Bot, OrderedDict[tuple[int, int], tuple[float, bool]]] = (
    WeakKeyDictionary()
)


async def is_current_member(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Telegram's word that `user_id` is in `chat_id` now (a restricted member counts while
    still in the chat); an error reads as not a member."""
    _cache = _caches.setdefault(bot, OrderedDict())
    key = (chat_id, user_id)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError:
        present = False
    else:
        present = member.status in PRESENT or (
            member.status == "restricted" and bool(getattr(member, "is_member", False))
        )
    _cache[key] = (now + TTL, present)
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_MAX:
        _cache.popitem(last=False)
    return present


async def member_chat(
    bot: Bot, actor: Actor, chat_id: int | None, *, refuse: bool = True
) -> int | None:
    """`chat_id` when a press (or a typed follow-up of one) from that group counts as a
    member's: a known account and a current member of the chat. None for no group. Anyone
    else is refused (`kit.unknown_in_chat`, `kit.not_chat_member`), or gets None with
    `refuse=False`."""
    if chat_id is None or chat_id > 0:
        return None
    if not actor.known:
        if refuse:
            raise Refused("kit.unknown_in_chat")
        return None
    if await is_current_member(bot, chat_id, actor.telegram_id):
        return chat_id
    if refuse:
        raise Refused("kit.not_chat_member")
    return None


async def pressed_in(query: CallbackQuery, actor: Actor, bot: Bot) -> int | None:
    """The group chat a press came from, checked (`member_chat`); None for a private chat."""
    message = query.message
    if message is None or message.chat.type == PRIVATE:
        return None
    return await member_chat(bot, actor, message.chat.id)
