"""Personal preferences."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import CatalogI18n, pick_locale
from bot.settings import LANGUAGES
from storage.repositories.users import UserRepository


class UnknownLanguage(ValueError):
    """Raised for a language code we have no catalog for (e.g. forged callback data)."""


async def set_language(session: AsyncSession, user_id: int, language: str) -> str:
    """Remember the person's language; later messages, reminders included, use it."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    await UserRepository(session).set_language(user_id, language)
    return language


async def preferred_locale(
    session_factory: async_sessionmaker[AsyncSession],
    user_id: int,
    telegram_language: str | None,
    i18n: CatalogI18n,
) -> str:
    """The locale to address a person in, outside of an update's own transaction."""
    async with session_factory() as session:
        user = await UserRepository(session).get(user_id)
    return pick_locale(user.language if user else None, telegram_language, i18n.default_locale)
