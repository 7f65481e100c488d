"""Group chats: the bot added or removed, `/link CODE`, and a group's upgrade to a supergroup.

Codes are asked for in private (`handlers.link_codes`); here, in groups only, they are used.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, html
from aiogram.enums import ChatMemberStatus
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter, Command
from aiogram.filters.command import CommandObject
from aiogram.types import ChatMemberUpdated, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services.access import linking
from bot.services.access.linking import ChatInfo, WrongCode
from bot.services.access.policy import Actor
from bot.settings import Settings
from handlers.kit import GROUP_TYPES, ChatIs, Chats, Magic, feature_router, t

router = feature_router(__name__, Chats.GROUPS)
log = logging.getLogger("bot.linking")
IN_GROUPS = ChatIs(*GROUP_TYPES)
CHAT_ADMINS = frozenset({ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR})


@router.my_chat_member(IN_GROUPS, ChatMemberUpdatedFilter(JOIN_TRANSITION))
async def on_bot_added(event: ChatMemberUpdated, session: AsyncSession, bot: Bot) -> None:
    """Say how to link the group (or what it is linked to, when re-added after a migration)."""
    bound = await linking.binding_of(session, event.chat.id)
    if bound is not None:
        text = t("link.bot_added_bound", target=html.quote(bound.label))
    else:
        text = t("link.bot_added")
    await bot.send_message(event.chat.id, text)


@router.my_chat_member(IN_GROUPS, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
async def on_bot_removed(
    event: ChatMemberUpdated,
    session: AsyncSession,
    settings: Settings,
    i18n: CatalogI18n,
    clock: Clock,
) -> None:
    """Removed or kicked: the binding goes inactive and the district's admins are told."""
    told = await linking.bot_removed(
        session,
        chat_id=event.chat.id,
        kicked=event.new_chat_member.status == ChatMemberStatus.KICKED,
        actor_id=event.from_user.id,
        now=clock.now(),
        i18n=i18n,
        fallback_admin_ids=settings.admin_ids,
    )
    if told:
        log.info("chat %s unbound (bot removed); told %d admins", event.chat.id, len(told))


@router.message(Magic(F.migrate_to_chat_id))
async def on_migrated_to(message: Message, session: AsyncSession, clock: Clock) -> None:
    """The old group's last word: its binding follows to the supergroup."""
    assert message.migrate_to_chat_id is not None
    await linking.chat_migrated(
        session,
        old_chat_id=message.chat.id,
        new_chat_id=message.migrate_to_chat_id,
        now=clock.now(),
    )


@router.message(Magic(F.migrate_from_chat_id))
async def on_migrated_from(message: Message, session: AsyncSession, clock: Clock) -> None:
    """The supergroup's first word (may arrive first): same move, idempotent."""
    assert message.migrate_from_chat_id is not None
    await linking.chat_migrated(
        session,
        old_chat_id=message.migrate_from_chat_id,
        new_chat_id=message.chat.id,
        now=clock.now(),
    )


@router.message(Command("link", magic=~F.args))
async def cmd_link_usage(message: Message) -> None:
    """`/link` without a code."""
    await message.answer(t("link.usage"))


@router.message(Command("link"))
async def cmd_link(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """Bind this group; the sender must be one of its administrators (asked of Telegram only
    once the code is right)."""
    assert message.from_user is not None
    user_id = message.from_user.id
    # An anonymous administrator posts as the group itself.
    anonymous = message.sender_chat is not None and message.sender_chat.id == message.chat.id

    async def chat_admin() -> bool:
        if anonymous:
            return True
        member = await bot.get_chat_member(message.chat.id, user_id)
        return member.status in CHAT_ADMINS

    outcome = await linking.link_chat(
        session,
        code=(command.args or "").strip(),
        chat=ChatInfo(message.chat.id, message.chat.type, message.chat.title or ""),
        sender=actor,
        chat_admin=chat_admin,
        now=clock.now(),
        i18n=i18n,
        anonymous=anonymous,
        tz=settings.tz,
        fallback_admin_ids=settings.admin_ids,
    )
    await message.reply(_linked_text(outcome))


def _linked_text(outcome: linking.LinkOutcome | WrongCode) -> str:
    if isinstance(outcome, WrongCode):  # counted, so not raised (that would roll it back)
        return t("people.refused", reason=t(outcome.key, **outcome.params))
    target = html.quote(outcome.target.label)
    if outcome.already:
        return t("link.already", target=target)
    lines = [t("link.done", target=target)]
    if outcome.moved_from_chat is not None:
        lines.append(t("link.moved", target=target, chat=html.quote(outcome.moved_from_chat)))
    if outcome.replaced_target is not None:
        lines.append(t("link.replaced", old=html.quote(outcome.replaced_target)))
    return "\n\n".join(lines)


@router.message(Command("linkcode"))
async def cmd_linkcode_in_group(message: Message) -> None:
    """Codes are never shown in groups."""
    await message.answer(t("linkcode.private_only"))
