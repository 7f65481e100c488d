"""People joining: /start invite links, shared contacts, /invite for secretaries.

Registered before `handlers.common`, so a /start with an invite payload (and a plain /start
from a person the bot does not know yet) is answered here; everything else falls through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router, html
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.services import invites, people
from bot.services.policy import Action, Refused, load_actor, menu_roles
from bot.settings import Settings

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")


class InvitePage(CallbackData, prefix="invp"):
    branch_id: int
    page: int


class InvitePick(CallbackData, prefix="invm"):
    member_id: int


# --- rendering helpers shared by the access handlers ------------------------------------


def refused_text(err: Refused) -> str:
    """The catalog text for a refusal, with every field escaped (names come from imports)."""
    params = {k: html.quote(str(v)) for k, v in err.params.items()}
    return _("people.refused").format(reason=_(err.key).format(**params))


def alert_text(err: Refused) -> str:
    """A refusal for a callback alert: plain text (no HTML there), at most 200 characters."""
    text = _("people.refused").format(reason=_(err.key).format(**err.params))
    text = re.sub(r"<[^>]+>", "", text)
    return text if len(text) <= 200 else text[:199] + "…"


async def refuse(target: Message | CallbackQuery, err: Refused) -> None:
    """Why not: an alert under a pressed button, or a reply to a typed message."""
    if isinstance(target, CallbackQuery):
        await target.answer(alert_text(err), show_alert=True)
    else:
        await target.answer(refused_text(err))


def fmt_when(moment: datetime, settings: Settings) -> str:
    """'Thứ Năm, 03/12/2026 lúc 19:30' in the person's language and the bot's zone."""
    local = moment.astimezone(settings.tz)
    return _("people.when").format(
        weekday=_(f"people.weekday.{local.weekday()}"),
        date=local.strftime("%d/%m/%Y"),
        time=local.strftime("%H:%M"),
    )


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("contact.button"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def pager(
    rows: InlineKeyboardBuilder, page: int, pages: int, make: Callable[[int], CallbackData]
) -> InlineKeyboardMarkup:
    """One button per row, then ◀/▶ (only those that lead somewhere) on a last row."""
    rows.adjust(1)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(text=_("people.prev"), callback_data=make(page - 1).pack()))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text=_("people.next"), callback_data=make(page + 1).pack()))
    if nav:
        rows.row(*nav)
    return rows.as_markup()


async def refresh_menu(
    bot: Bot,
    i18n: CatalogI18n,
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    locale: str | None = None,
) -> None:
    """Give the person's private chat the menu of their current roles."""
    actor = await load_actor(session, user_id, settings.admin_ids)
    await set_person_menu(bot, i18n, user_id, menu_roles(actor), locale or i18n.current_locale)


def _unknown_text(user_id: int) -> str:
    return _("whoami.unknown").format(id=user_id)


# --- /start -------------------------------------------------------------------------------


@router.message(CommandStart())
async def cmd_start(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """Invite links tie the account; unknown people are told how to join; others fall through."""
    assert message.from_user is not None
    user = message.from_user
    token = invites.token_from_payload(command.args or "")
    if token is not None:
        try:
            joined = await invites.redeem_invite(
                session, token, user.id, user.username, clock.now()
            )
        except Refused as err:
            await message.answer(refused_text(err))
            return
        key = "join.already" if joined.already else "join.welcome"
        await message.answer(
            _(key).format(name=html.quote(joined.full_name), branch=html.quote(joined.branch_name)),
            reply_markup=ReplyKeyboardRemove(),
        )
        await refresh_menu(bot, i18n, session, settings, user.id)
        return
    actor = await load_actor(session, user.id, settings.admin_ids)
    if actor.known:
        raise SkipHandler
    await message.answer(_("start.greeting").format(name=html.quote(user.first_name)))
    await message.answer(_unknown_text(user.id), reply_markup=contact_keyboard())


# --- contact sharing ------------------------------------------------------------------------


@router.message(F.contact)
async def on_contact(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """Match the shared phone number to a member; only the sender's own contact counts."""
    assert message.from_user is not None and message.contact is not None
    contact = message.contact
    try:
        joined = await invites.join_by_contact(
            session,
            sender_id=message.from_user.id,
            contact_user_id=contact.user_id,
            phone=contact.phone_number,
            username=message.from_user.username,
            now=clock.now(),
        )
    except Refused as err:
        await message.answer(refused_text(err))
        return
    key = "join.already" if joined.already else "join.welcome"
    await message.answer(
        _(key).format(name=html.quote(joined.full_name), branch=html.quote(joined.branch_name)),
        reply_markup=ReplyKeyboardRemove(),
    )
    await refresh_menu(bot, i18n, session, settings, message.from_user.id)


# --- /invite ---------------------------------------------------------------------------------


async def _picker(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    *,
    branch_id: int | None = None,
    code: str | None = None,
    page: int = 0,
) -> tuple[str, InlineKeyboardMarkup]:
    actor = await load_actor(session, user_id, settings.admin_ids)
    result = await people.member_page(
        session, actor, branch_id=branch_id, code=code, page=page, action=Action.MANAGE_BRANCH
    )
    kb = InlineKeyboardBuilder()
    for row in result.rows:
        mark = " ✅" if row.on_telegram else ""
        kb.button(text=f"{row.full_name}{mark}", callback_data=InvitePick(member_id=row.id))
    markup = pager(
        kb,
        result.page,
        result.pages,
        lambda p: InvitePage(branch_id=result.branch_id, page=p),
    )
    text = _("invite.pick").format(
        branch=html.quote(result.branch_name), page=result.page + 1, pages=result.pages
    )
    return text, markup


@router.message(Command("invite"))
async def cmd_invite(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    """A paginated member picker for the branches the person manages."""
    assert message.from_user is not None
    try:
        text, markup = await _picker(
            session, settings, message.from_user.id, code=(command.args or "").strip() or None
        )
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(InvitePage.filter())
async def on_invite_page(
    query: CallbackQuery, callback_data: InvitePage, session: AsyncSession, settings: Settings
) -> None:
    """Turn the picker's page; the branch id is re-checked (callback data can be forged)."""
    try:
        text, markup = await _picker(
            session,
            settings,
            query.from_user.id,
            branch_id=callback_data.branch_id,
            page=callback_data.page,
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


@router.callback_query(InvitePick.filter())
async def on_invite_pick(
    query: CallbackQuery,
    callback_data: InvitePick,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
) -> None:
    """Create the personal link for the picked member, after re-checking the permission."""
    actor = await load_actor(session, query.from_user.id, settings.admin_ids)
    me = await bot.me()
    try:
        issued = await invites.create_invite(
            session, actor, callback_data.member_id, me.username or "", clock.now()
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await query.answer()
    await bot.send_message(
        query.from_user.id,
        _("invite.issued").format(
            name=html.quote(issued.member_name),
            branch=html.quote(issued.branch_name),
            url=html.quote(issued.url),
            expires=fmt_when(issued.expires_at, settings),
        ),
        disable_web_page_preview=True,
    )
