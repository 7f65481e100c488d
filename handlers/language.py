"""/language: switch between Vietnamese and English, in the person's private chat.

Private only: the language is the person's own, and in a group its buttons would sit on the
bot's group message, where anyone's press used to rewrite it.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services import preferences
from bot.settings import LANGUAGES
from handlers.kit import READS, Chats, feature_router, show, t

router = feature_router(__name__, Chats.PRIVATE)


class LanguageCb(CallbackData, prefix="lang"):
    code: str


@router.message(Command("language"), flags=READS)
async def cmd_language(message: Message, i18n: CatalogI18n) -> None:
    """Offer the languages as buttons, each named in its own language."""
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        kb.button(text=i18n.t("language.name", code), callback_data=LanguageCb(code=code))
    await message.answer(t("language.choose"), reply_markup=kb.as_markup())


@router.callback_query(LanguageCb.filter(F.code.in_(LANGUAGES)))
async def on_language(
    query: CallbackQuery, callback_data: LanguageCb, session: AsyncSession, i18n: CatalogI18n
) -> None:
    """Store the choice and confirm in the new language."""
    i18n.current_locale = await preferences.set_language(
        session, query.from_user.id, callback_data.code
    )
    text = t("language.changed")
    await show(query, text, toast=text)


@router.callback_query(LanguageCb.filter(), flags=READS)
async def on_unknown_language(query: CallbackQuery) -> None:
    """A language we have no catalog for (forged data)."""
    await query.answer(t("language.unknown"), show_alert=True)
