"""Group chats: the bot added or removed, /linkcode in private, /link CODE in the group,
and a group's upgrade to a supergroup."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router, html
from aiogram.enums import ChatMemberStatus
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter, Command
from aiogram.filters.callback_data import CallbackData
from aiogram.filters.command import CommandObject
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import linking
from bot.services.linking import ChatInfo, IssuedCode
from bot.services.policy import Refused, load_actor
from bot.settings import Settings
from handlers.people import alert_text, fmt_when, refused_text

router = Router(name=__name__)
log = logging.getLogger("bot.linking")
GROUPS = F.chat.type.in_({"group", "supergroup"})
CHAT_ADMINS = frozenset({ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR})


class LinkCodeCb(CallbackData, prefix="lnk"):
    target_type: str
    target_id: int


def _issued_text(issued: IssuedCode, settings: Settings) -> str:
    return _("linkcode.issued").format(
        target=html.quote(issued.target.label),
        code=issued.code,
        expires=fmt_when(issued.expires_at, settings),
    )


# --- the bot's own membership in groups -------------------------------------------------------


@router.my_chat_member(GROUPS, ChatMemberUpdatedFilter(JOIN_TRANSITION))
async def on_bot_added(event: ChatMemberUpdated, session: AsyncSession, bot: Bot) -> None:
    """Say how to link the group (or what it is linked to, when re-added after a migration)."""
    bound = await linking.binding_of(session, event.chat.id)
    if bound is not None:
        text = _("link.bot_added_bound").format(target=html.quote(bound.label))
    else:
        text = _("link.bot_added")
    await bot.send_message(event.chat.id, text)


@router.my_chat_member(GROUPS, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
async def on_bot_removed(
    event: ChatMemberUpdated,
    session: AsyncSession,
    settings: Settings,
    i18n: CatalogI18n,
    clock: Clock,
) -> None:
    """Removed or kicked: the binding goes inactive and the district's admins are told."""
    kicked = event.new_chat_member.status == ChatMemberStatus.KICKED
    outcome = await linking.bot_left(
        session,
        chat_id=event.chat.id,
        reason="bot_kicked" if kicked else "bot_left",
        actor_id=event.from_user.id,
        now=clock.now(),
    )
    if outcome is not None:
        told = await linking.notify_unbound(session, outcome, i18n, fallback_ids=settings.admin_ids)
        log.info("chat %s unbound (bot removed); told %d admins", event.chat.id, len(told))


@router.message(F.migrate_to_chat_id)
async def on_migrated_to(message: Message, session: AsyncSession, clock: Clock) -> None:
    """The old group's last word: its binding follows to the supergroup."""
    assert message.migrate_to_chat_id is not None
    await linking.chat_migrated(
        session,
        old_chat_id=message.chat.id,
        new_chat_id=message.migrate_to_chat_id,
        now=clock.now(),
    )


@router.message(F.migrate_from_chat_id)
async def on_migrated_from(message: Message, session: AsyncSession, clock: Clock) -> None:
    """The supergroup's first word (may arrive first): same move, idempotent."""
    assert message.migrate_from_chat_id is not None
    await linking.chat_migrated(
        session,
        old_chat_id=message.migrate_from_chat_id,
        new_chat_id=message.chat.id,
        now=clock.now(),
    )


# --- /link CODE in the group ---------------------------------------------------------------------


@router.message(Command("link"))
async def cmd_link(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
) -> None:
    """Bind this group; the sender must be one of its administrators (asked of Telegram)."""
    assert message.from_user is not None
    if message.chat.type not in linking.GROUP_CHAT_TYPES:
        await message.answer(refused_text(Refused("link.not_group")))
        return
    code = (command.args or "").strip()
    if not code:
        await message.answer(_("link.usage"))
        return
    if message.sender_chat is not None and message.sender_chat.id == message.chat.id:
        is_admin = True  # an anonymous administrator posting as the group itself
    else:
        member = await bot.get_chat_member(message.chat.id, message.from_user.id)
        is_admin = member.status in CHAT_ADMINS
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    try:
        outcome = await linking.link_chat(
            session,
            code=code,
            chat=ChatInfo(message.chat.id, message.chat.type, message.chat.title or ""),
            sender=actor,
            sender_is_chat_admin=is_admin,
            now=clock.now(),
        )
    except Refused as err:
        await message.reply(refused_text(err))
        return
    target = html.quote(outcome.target.label)
    if outcome.already:
        await message.reply(_("link.already").format(target=target))
        return
    lines = [_("link.done").format(target=target)]
    if outcome.moved_from_chat is not None:
        lines.append(
            _("link.moved").format(target=target, chat=html.quote(outcome.moved_from_chat))
        )
    if outcome.replaced_target is not None:
        lines.append(_("link.replaced").format(old=html.quote(outcome.replaced_target)))
    await message.reply("\n\n".join(lines))


# --- /linkcode in private ---------------------------------------------------------------------


@router.message(Command("linkcode"), F.chat.type == "private")
async def cmd_linkcode(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """A one-time code for the person's branch, or for any target by code (admins)."""
    assert message.from_user is not None
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    spec = (command.args or "").strip()
    try:
        if spec:
            info = await linking.resolve_code_spec(session, spec)
            if info is None:
                raise Refused("linkcode.unknown_code", code=spec)
            targets = [info]
        else:
            targets = await linking.own_targets(session, actor)
            if not targets:
                if actor.is_any_admin:
                    await message.answer(_("linkcode.usage"))
                    return
                raise Refused("policy.needs_secretary" if actor.known else "policy.unknown_person")
        if len(targets) > 1:
            kb = InlineKeyboardBuilder()
            for t in targets:
                kb.button(
                    text=t.label,
                    callback_data=LinkCodeCb(
                        target_type=t.target.type.value, target_id=t.target.id
                    ),
                )
            kb.adjust(1)
            await message.answer(_("linkcode.choose"), reply_markup=kb.as_markup())
            return
        issued = await linking.issue_code(
            session, actor, targets[0].target.type.value, targets[0].target.id, clock.now()
        )
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await message.answer(_issued_text(issued, settings))


@router.message(Command("linkcode"))
async def cmd_linkcode_in_group(message: Message) -> None:
    """Codes are never shown in groups."""
    await message.answer(_("linkcode.private_only"))


@router.callback_query(LinkCodeCb.filter())
async def on_linkcode_pick(
    query: CallbackQuery,
    callback_data: LinkCodeCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """The picked target's code; permission re-checked in the service."""
    actor = await load_actor(session, query.from_user.id, settings.admin_ids)
    try:
        issued = await linking.issue_code(
            session, actor, callback_data.target_type, callback_data.target_id, clock.now()
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_issued_text(issued, settings))
