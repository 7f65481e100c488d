"""/language: switch between Vietnamese and English."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.preferences import UnknownLanguage, set_language
from bot.settings import LANGUAGES

router = Router(name=__name__)


class LanguageCb(CallbackData, prefix="lang"):
    code: str


@router.message(Command("language"))
async def cmd_language(message: Message) -> None:
    """Offer the languages as buttons."""
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        kb.button(text=_("language.name", locale=code), callback_data=LanguageCb(code=code))
    await message.answer(_("language.choose"), reply_markup=kb.as_markup())


@router.callback_query(LanguageCb.filter(F.code.func(len) > 0))
async def on_language(
    query: CallbackQuery, callback_data: LanguageCb, session: AsyncSession, i18n: I18n
) -> None:
    """Store the choice and confirm in the new language."""
    try:
        code = await set_language(session, query.from_user.id, callback_data.code)
    except UnknownLanguage:
        await query.answer(_("language.unknown"), show_alert=True)
        return
    i18n.current_locale = code
    text = _("language.changed", locale=code)
    await query.answer(text)
    if query.message is not None and hasattr(query.message, "edit_text"):
        await query.message.edit_text(text)
