"""The bot's command menu, registered in each language at start-up."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)

from bot.i18n import CatalogI18n
from bot.settings import LANGUAGES

BASE_COMMANDS = ("start", "help", "language")
# Extra commands a person's private menu shows, by role (see bot.services.policy.menu_roles).
ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    "unknown": ("whoami",),
    "member": ("whoami", "branch", "members", "meetings", "ics", "feedback"),
    "visitor": ("roster", "busy", "visit"),
    "secretary": ("invite", "linkcode", "schedule", "reschedule", "cancel", "report", "inbox"),
    "unit_admin": ("broadcast", "broadcasts", "inbox"),
    "admin": (
        "linkcode",
        "admins",
        "meetings",
        "roster",
        "coverage",
        "inbox",
        "feedback_stats",
        "nudges",
        "broadcast",
        "broadcasts",
    ),
}
log = logging.getLogger("bot.commands")


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


def person_commands(roles: Iterable[str]) -> tuple[str, ...]:
    """The base menu plus each role's commands, in order, without repeats."""
    out = list(BASE_COMMANDS)
    for role in roles:
        out += [c for c in ROLE_COMMANDS.get(role, ()) if c not in out]
    return tuple(out)


async def set_person_menu(
    bot: Bot, i18n: CatalogI18n, chat_id: int, roles: Iterable[str], locale: str
) -> None:
    """A private chat's own menu once the person has roles (best effort: a person who never
    started the bot has no chat yet, and a menu is not worth failing an update for)."""
    commands = person_commands(roles)
    try:
        await bot.set_my_commands(
            menu(i18n, locale, commands), scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramAPIError:
        log.warning("could not set the menu of chat %s", chat_id, exc_info=True)
