"""/whoami, /branch and /members: what the bot knows about the person and their branch
(private chat only: member lists never go into a group)."""

from __future__ import annotations

from aiogram import Bot, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.services import people
from bot.services.access.policy import Actor, Role
from handlers.kit import (
    READS,
    Chats,
    Id,
    RoleFilter,
    Small,
    contact_keyboard,
    feature_router,
    locale,
    pager,
    show,
    t,
)

router = feature_router(__name__, Chats.PRIVATE)


class MembersPage(CallbackData, prefix="mem"):
    branch_id: Id
    page: Small


@router.message(Command("whoami"), ~RoleFilter(Role.KNOWN, refuse=False), flags=READS)
async def cmd_whoami_unknown(
    message: Message, session: AsyncSession, actor: Actor, bot: Bot, i18n: CatalogI18n
) -> None:
    """People the bot does not know get their id and the ways to join (and the base menu)."""
    me = await people.whoami(session, actor)
    await set_person_menu(bot, i18n, message.chat.id, me.roles, locale())
    await message.answer(t("whoami.unknown", id=me.telegram_id), reply_markup=contact_keyboard())


@router.message(Command("whoami"), flags=READS)
async def cmd_whoami(
    message: Message, session: AsyncSession, actor: Actor, bot: Bot, i18n: CatalogI18n
) -> None:
    """The person's roles (and their menu refreshed)."""
    me = await people.whoami(session, actor)
    await set_person_menu(bot, i18n, message.chat.id, me.roles, locale())
    lines = [t("whoami.header", id=me.telegram_id)]
    for m in me.memberships:
        lines.append(
            t(
                "whoami.member",
                name=html.quote(m.full_name),
                role=t(f"people.role.{m.role}"),
                status=t(f"people.status.{m.status}"),
                branch=html.quote(m.branch_name),
                code=html.quote(m.branch_code),
                unit=html.quote(m.unit_name),
            )
        )
    for name, leader in me.groups:
        lines.append(t("whoami.group_leader" if leader else "whoami.group", group=html.quote(name)))
    lines.extend(t("whoami.admin", district=html.quote(d)) for d in me.admin_of)
    if me.bootstrap_admin:
        lines.append(t("whoami.bootstrap"))
    await message.answer("\n".join(lines))


@router.message(Command("branch"), flags=READS)
async def cmd_branch(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor
) -> None:
    """The branch card: own branch, or `/branch CODE` for those who may view it."""
    card = await people.branch_card(session, actor, code=(command.args or "").strip() or None)
    nobody = t("branch.nobody")
    await message.answer(
        t(
            "branch.card",
            name=html.quote(card.name),
            code=html.quote(card.code),
            kind=t(f"people.kind.{card.kind}"),
            unit=html.quote(card.unit_name),
            day=card.meeting_day,
            time=card.meeting_time.strftime("%H:%M"),
            place=html.quote(card.location or "—"),
            secretary=html.quote(card.secretary) if card.secretary else nobody,
            deputies=html.quote(", ".join(card.deputies)) if card.deputies else nobody,
            members=card.members,
            on_telegram=card.on_telegram,
            chat=html.quote(card.chat_title) if card.chat_title else t("branch.no_chat"),
        )
    )


async def _members(
    session: AsyncSession,
    actor: Actor,
    *,
    branch_id: int | None = None,
    code: str | None = None,
    page: int = 0,
) -> tuple[str, InlineKeyboardMarkup]:
    result = await people.member_page(session, actor, branch_id=branch_id, code=code, page=page)
    lines = [
        t(
            "members.header",
            branch=html.quote(result.branch_name),
            total=result.total,
            page=result.page + 1,
            pages=result.pages,
        )
    ]
    first = result.page * people.PAGE_SIZE
    for n, row in enumerate(result.rows, start=first + 1):
        lines.append(
            t(
                "members.line",
                n=n,
                name=html.quote(row.full_name),
                role=t(f"people.role.{row.role}"),
                status=t(f"people.status.{row.status}"),
                tg=t("members.on_telegram") if row.on_telegram else "",
            )
        )
    markup = pager(
        InlineKeyboardBuilder(),
        result.page,
        result.pages,
        lambda p: MembersPage(branch_id=result.branch_id, page=p),
    )
    return "\n".join(lines), markup


@router.message(Command("members"), flags=READS)
async def cmd_members(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor
) -> None:
    """The branch's members, a page at a time."""
    code = (command.args or "").strip() or None
    await show(message, *await _members(session, actor, code=code))


@router.callback_query(MembersPage.filter(), flags=READS)
async def on_members_page(
    query: CallbackQuery, callback_data: MembersPage, session: AsyncSession, actor: Actor
) -> None:
    """Another page; the branch is re-checked since callback data can be forged."""
    screen = await _members(
        session, actor, branch_id=callback_data.branch_id, page=callback_data.page
    )
    await show(query, *screen)
