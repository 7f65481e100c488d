"""People joining: /start invite links, shared contacts, /invite for secretaries (private).

Registered before `handlers.common`, so a /start with an invite payload (and a plain /start
from a person the bot does not know yet) is answered here; everything else falls through.
"""

from __future__ import annotations

from aiogram import Bot, F, html
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.services import people
from bot.services.access import invites
from bot.services.access.invites import Joined
from bot.services.access.policy import Action, Actor, Role
from bot.services.vn_names import telegram_full_name
from bot.settings import Settings
from handlers.kit import (
    READS,
    Chats,
    Id,
    Magic,
    RoleFilter,
    Small,
    contact_keyboard,
    feature_router,
    locale,
    pager,
    show,
    t,
    when,
)

router = feature_router(__name__, Chats.PRIVATE)


class InvitePage(CallbackData, prefix="invp"):
    branch_id: Id
    page: Small


class InvitePick(CallbackData, prefix="invm"):
    member_id: Id


# --- joining --------------------------------------------------------------------------------


async def _welcome(message: Message, joined: Joined, bot: Bot, i18n: CatalogI18n) -> None:
    """Say who they are now and give them the menu of their new roles."""
    key = "join.already" if joined.already else "join.welcome"
    text = t(key, name=html.quote(joined.full_name), branch=html.quote(joined.branch_name))
    await message.answer(text, reply_markup=ReplyKeyboardRemove())
    await set_person_menu(bot, i18n, message.chat.id, joined.roles, locale())


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(invites.PAYLOAD_PREFIX)))
async def cmd_start_invite(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """An invite link ties the account to the invited member."""
    assert message.from_user is not None
    user = message.from_user
    joined = await invites.redeem_invite(
        session,
        invites.token_from_payload(command.args or "") or "",
        user.id,
        user.username,
        clock.now(),
        settings.admin_ids,
    )
    await _welcome(message, joined, bot, i18n)


@router.message(CommandStart(), ~RoleFilter(Role.KNOWN, refuse=False), flags=READS)
async def cmd_start(message: Message) -> None:
    """People the bot does not know are told how to join; others fall through to `common`."""
    assert message.from_user is not None
    name = telegram_full_name(message.from_user.first_name, message.from_user.last_name)
    await message.answer(t("start.greeting", name=html.quote(name)))
    await message.answer(
        t("whoami.unknown", id=message.from_user.id), reply_markup=contact_keyboard()
    )


@router.message(Magic(F.contact))
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
    joined = await invites.join_by_contact(
        session,
        sender_id=message.from_user.id,
        contact_user_id=message.contact.user_id,
        phone=message.contact.phone_number,
        username=message.from_user.username,
        now=clock.now(),
        bootstrap_admin_ids=settings.admin_ids,
    )
    await _welcome(message, joined, bot, i18n)


# --- /invite ----------------------------------------------------------------------------------


async def _picker(
    session: AsyncSession,
    actor: Actor,
    *,
    branch_id: int | None = None,
    code: str | None = None,
    page: int = 0,
) -> tuple[str, InlineKeyboardMarkup]:
    result = await people.member_page(
        session, actor, branch_id=branch_id, code=code, page=page, action=Action.MANAGE_BRANCH
    )
    kb = InlineKeyboardBuilder()
    for row in result.rows:
        mark = " ✅" if row.on_telegram else ""
        kb.button(text=f"{row.full_name}{mark}", callback_data=InvitePick(member_id=row.id))
    markup = pager(
        kb, result.page, result.pages, lambda p: InvitePage(branch_id=result.branch_id, page=p)
    )
    text = t(
        "invite.pick",
        branch=html.quote(result.branch_name),
        page=result.page + 1,
        pages=result.pages,
    )
    return text, markup


@router.message(Command("invite"))
async def cmd_invite(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor
) -> None:
    """A paginated member picker for the branches the person manages."""
    code = (command.args or "").strip() or None
    await show(message, *await _picker(session, actor, code=code))


@router.callback_query(InvitePage.filter())
async def on_invite_page(
    query: CallbackQuery, callback_data: InvitePage, session: AsyncSession, actor: Actor
) -> None:
    """Turn the picker's page; the branch id is re-checked (callback data can be forged)."""
    screen = await _picker(
        session, actor, branch_id=callback_data.branch_id, page=callback_data.page
    )
    await show(query, *screen)


@router.callback_query(InvitePick.filter())
async def on_invite_pick(
    query: CallbackQuery,
    callback_data: InvitePick,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
) -> None:
    """Create the personal link for the picked member, after re-checking the permission."""
    me = await bot.me()
    issued = await invites.create_invite(
        session, actor, callback_data.member_id, me.username or "", clock.now()
    )
    await query.answer()
    await bot.send_message(
        query.from_user.id,
        t(
            "invite.issued",
            name=html.quote(issued.member_name),
            branch=html.quote(issued.branch_name),
            url=html.quote(issued.url),
            expires=when(issued.expires_at, settings.tz),
        ),
        disable_web_page_preview=True,
    )
