"""The bot's command menu, registered in each language at start-up."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeDefault

from bot.i18n import CatalogI18n
from bot.settings import LANGUAGES

BASE_COMMANDS = ("start", "help", "language")


def menu(
    i18n: CatalogI18n, locale: str, commands: tuple[str, ...] = BASE_COMMANDS
) -> list[BotCommand]:
    return [BotCommand(command=c, description=i18n.t(f"commands.{c}", locale)) for c in commands]


async def register_commands(bot: Bot, i18n: CatalogI18n) -> None:
    """Default menu in the default language, plus one per language Telegram clients pick from."""
    for scope in (BotCommandScopeDefault(), BotCommandScopeAllPrivateChats()):
        await bot.set_my_commands(menu(i18n, i18n.default_locale), scope=scope)
        for lang in LANGUAGES:
            await bot.set_my_commands(menu(i18n, lang), scope=scope, language_code=lang)
