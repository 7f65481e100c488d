"""/start and /help: who the bot is and what the person can do, in private and in groups."""

from __future__ import annotations

from aiogram import Bot, html
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.services.access.policy import Actor, menu_roles
from bot.services.vn_names import telegram_full_name
from handlers.kit import PRIVATE, READS, ActorSource, ChatIs, Chats, feature_router, locale, t

router = feature_router(__name__, Chats.ANY)

# Later features add lines to a role's /help section from their own catalogs.
HELP_EXTRA: dict[str, tuple[str, ...]] = {
    "member": ("mtg.help.member", "mrep.help.member", "fbui.help.member"),
    "secretary": ("mtg.help.secretary", "mrep.help.secretary", "convo.help.secretary"),
    "admin": ("mrep.help.admin", "bcui.help.admin", "convo.help.admin"),
}
# ...and to a group's /help: only what works in a group (private commands are ignored there).
HELP_GROUP_EXTRA: tuple[str, ...] = ()


@router.message(CommandStart(), flags=READS)
async def cmd_start(
    message: Message, actor_source: ActorSource, bot: Bot, i18n: CatalogI18n
) -> None:
    """Greet and say what the bot does: a member by the name the organisation knows them by.
    In private the chat's menu is the person's roles' at once (class 7): /start is when a chat
    with the Trợ lý begins, so an imported member or an admin has it from their first message,
    not after /help or /whoami. Both come from what was read with the account (no query)."""
    name, roles = await actor_source.greeting()
    if not name and message.from_user is not None:
        name = telegram_full_name(message.from_user.first_name, message.from_user.last_name)
    await message.answer(t("start.greeting", name=html.quote(name)))
    if message.chat.type == PRIVATE:
        await set_person_menu(bot, i18n, message.chat.id, roles, locale())


@router.message(Command("help"), ChatIs(PRIVATE), flags=READS)
async def cmd_help(message: Message, actor: Actor, bot: Bot, i18n: CatalogI18n) -> None:
    """List what this person can do: the help grows with their roles, and the command menu is
    refreshed to the same roles (a role given by an import or a link shows here at once)."""
    roles = menu_roles(actor)
    sections = [
        t(f"help.{role}") + "".join("\n" + t(k) for k in HELP_EXTRA.get(role, ())) for role in roles
    ]
    await message.answer("\n".join([t("help.text"), *sections, t("help.beside_app")]))
    await set_person_menu(bot, i18n, message.chat.id, roles, locale())


@router.message(Command("help"), flags=READS)
async def cmd_help_group(message: Message) -> None:
    """In a group: the commands that work in a group, whoever asks."""
    await message.answer("\n".join([t("help.group"), *(t(k) for k in HELP_GROUP_EXTRA)]))
