"""The bot's command menu, registered in each language at start-up."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable

from aiogram import Bot
from aiogram.client.session.base import BaseSession
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
# Extra commands a person's private menu shows, by role (see bot.services.access.policy.menu_roles).
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
# The menu last set for each private chat (commands, locale), per bot session (a new bot, as in
# a restart or another test's sandbox, starts knowing nothing): see `set_person_menu`.
_shown: weakref.WeakKeyDictionary[BaseSession, dict[int, tuple[tuple[str, ...], str]]] = (
    weakref.WeakKeyDictionary()
)
_SHOWN_MAX = 50_000


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
    started the bot has no chat yet, and a menu is not worth failing an update for).

    A menu this process already set for the chat is not sent again: `/start` sets it, and a
    returning person's `/start` would otherwise cost a second Bot API call on the answer's path
    (it halved the update path's throughput in `python -m bench updates`)."""
    commands = person_commands(roles)
    shown = (commands, locale)
    known = _shown.setdefault(bot.session, {})
    if known.get(chat_id) == shown:
        return
    try:
        await bot.set_my_commands(
            menu(i18n, locale, commands), scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramAPIError:
        log.warning("could not set the menu of chat %s", chat_id, exc_info=True)
        return
    known[chat_id] = shown
    if len(known) > _SHOWN_MAX:
        del known[next(iter(known))]  # the oldest: a person seen again pays one call
