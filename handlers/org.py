"""/whoami, /branch and /members: what the bot knows about the person and their branch."""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.services import people
from bot.services.policy import Refused, load_actor, menu_roles
from bot.settings import Settings
from handlers.people import alert_text, contact_keyboard, pager, refused_text

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")


class MembersPage(CallbackData, prefix="mem"):
    branch_id: int
    page: int


@router.message(Command("whoami"))
async def cmd_whoami(
    message: Message, session: AsyncSession, settings: Settings, bot: Bot, i18n: CatalogI18n
) -> None:
    """The person's roles (and their menu refreshed); unknown people get the ways to join."""
    assert message.from_user is not None
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    await set_person_menu(bot, i18n, message.from_user.id, menu_roles(actor), i18n.current_locale)
    me = await people.whoami(session, actor)
    if not me.known:
        await message.answer(
            _("whoami.unknown").format(id=me.telegram_id), reply_markup=contact_keyboard()
        )
        return
    lines = [_("whoami.header").format(id=me.telegram_id)]
    for m in me.memberships:
        lines.append(
            _("whoami.member").format(
                name=html.quote(m.full_name),
                role=_(f"people.role.{m.role}"),
                status=_(f"people.status.{m.status}"),
                branch=html.quote(m.branch_name),
                code=html.quote(m.branch_code),
                unit=html.quote(m.unit_name),
            )
        )
    for name, leader in me.groups:
        key = "whoami.group_leader" if leader else "whoami.group"
        lines.append(_(key).format(group=html.quote(name)))
    lines.extend(_("whoami.admin").format(district=html.quote(d)) for d in me.admin_of)
    if me.bootstrap_admin:
        lines.append(_("whoami.bootstrap"))
    await message.answer("\n".join(lines))


@router.message(Command("branch"))
async def cmd_branch(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    """The branch card: own branch, or `/branch CODE` for those who may view it."""
    assert message.from_user is not None
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    try:
        card = await people.branch_card(session, actor, code=(command.args or "").strip() or None)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    nobody = _("branch.nobody")
    await message.answer(
        _("branch.card").format(
            name=html.quote(card.name),
            code=html.quote(card.code),
            kind=_(f"people.kind.{card.kind}"),
            unit=html.quote(card.unit_name),
            day=card.meeting_day,
            time=card.meeting_time.strftime("%H:%M"),
            place=html.quote(card.location or "—"),
            secretary=html.quote(card.secretary) if card.secretary else nobody,
            deputies=html.quote(", ".join(card.deputies)) if card.deputies else nobody,
            members=card.members,
            on_telegram=card.on_telegram,
            chat=html.quote(card.chat_title) if card.chat_title else _("branch.no_chat"),
        )
    )


async def _members(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    *,
    branch_id: int | None = None,
    code: str | None = None,
    page: int = 0,
) -> tuple[str, InlineKeyboardMarkup]:
    actor = await load_actor(session, user_id, settings.admin_ids)
    result = await people.member_page(session, actor, branch_id=branch_id, code=code, page=page)
    lines = [
        _("members.header").format(
            branch=html.quote(result.branch_name),
            total=result.total,
            page=result.page + 1,
            pages=result.pages,
        )
    ]
    first = result.page * people.PAGE_SIZE
    for n, row in enumerate(result.rows, start=first + 1):
        lines.append(
            _("members.line").format(
                n=n,
                name=html.quote(row.full_name),
                role=_(f"people.role.{row.role}"),
                status=_(f"people.status.{row.status}"),
                tg=_("members.on_telegram") if row.on_telegram else "",
            )
        )
    markup = pager(
        InlineKeyboardBuilder(),
        result.page,
        result.pages,
        lambda p: MembersPage(branch_id=result.branch_id, page=p),
    )
    return "\n".join(lines), markup


@router.message(Command("members"))
async def cmd_members(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    """The branch's members, a page at a time."""
    assert message.from_user is not None
    try:
        text, markup = await _members(
            session, settings, message.from_user.id, code=(command.args or "").strip() or None
        )
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(MembersPage.filter())
async def on_members_page(
    query: CallbackQuery, callback_data: MembersPage, session: AsyncSession, settings: Settings
) -> None:
    """Another page; the branch is re-checked since callback data can be forged."""
    try:
        text, markup = await _members(
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
