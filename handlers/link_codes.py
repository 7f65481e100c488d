"""/linkcode in private: one-time codes to link a group chat (used with /link in the group)."""

from __future__ import annotations

from aiogram import html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.access import linking
from bot.services.access.linking import IssuedCode
from bot.services.access.policy import Actor, Refused
from bot.settings import Settings
from handlers.kit import Chats, Id, feature_router, show, t, when

router = feature_router(__name__, Chats.PRIVATE)


class LinkCodeCb(CallbackData, prefix="lnk"):
    target_type: str  # checked by the service: a forged kind is refused there
    target_id: Id


def _issued_text(issued: IssuedCode, settings: Settings) -> str:
    return t(
        "linkcode.issued",
        target=html.quote(issued.target.label),
        code=issued.code,
        expires=when(issued.expires_at, settings.tz),
    )


@router.message(Command("linkcode"))
async def cmd_linkcode(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
) -> None:
    """A one-time code for the person's branch, or for any target by code (admins)."""
    asked = await linking.request_code(session, actor, (command.args or "").strip(), clock.now())
    if asked.issued is not None:
        await message.answer(_issued_text(asked.issued, settings))
    elif asked.choices:
        kb = InlineKeyboardBuilder()
        for info in asked.choices:
            data = LinkCodeCb(target_type=info.target.type.value, target_id=info.target.id)
            kb.button(text=info.label, callback_data=data)
        kb.adjust(1)
        await message.answer(t("linkcode.choose"), reply_markup=kb.as_markup())
    else:
        await message.answer(t("linkcode.usage"))


@router.callback_query(LinkCodeCb.filter())
async def on_linkcode_pick(
    query: CallbackQuery,
    callback_data: LinkCodeCb,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
) -> None:
    """The picked target's code; permission re-checked in the service."""
    issued = await linking.issue_code(
        session, actor, callback_data.target_type, callback_data.target_id, clock.now()
    )
    await show(query, _issued_text(issued, settings))


@router.message(Command("link"))
async def cmd_link_in_private(message: Message) -> None:
    """/link works in the group to be linked, not here."""
    raise Refused("link.not_group")
