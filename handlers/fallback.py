"""The last router: whatever no feature answered gets an answer that helps.

In a private chat every message gets one: a command typed with capitals (`/Schedule`) is
pointed to its spelling, an unknown command and free text to /help (and /meetings, what free
text most often asks about). In a group only our own private-chat commands are answered, with
where to use them: a group is shared, so other bots' commands and talk are left alone.
"""

from __future__ import annotations

from aiogram import Bot, html
from aiogram.filters import Filter
from aiogram.types import Message

from bot.commands import BASE_COMMANDS, ROLE_COMMANDS
from handlers.kit import GROUP_TYPES, PRIVATE, ChatIs, Chats, feature_router, t

router = feature_router(__name__, Chats.ANY)

KNOWN_COMMANDS = frozenset(
    {*BASE_COMMANDS, *(c for cs in ROLE_COMMANDS.values() for c in cs), "meeting", "link"}
)
# Commands that work in a group (answered by their own routers there), and /start, which a
# group's members send to every bot at once when one is added.
GROUP_COMMANDS = frozenset(
    {"start", "help", "link", "meetings", "meeting", "ics", "roster", "nudges"}
)


def command_of(text: str) -> tuple[str, str] | None:
    """(`command` as typed, the bot it names or "") for a message that starts with "/"."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head = text[1:].split(maxsplit=1)[0] if text[1:].strip() else ""
    name, _, mention = head.partition("@")
    return (name, mention) if name else None


class OurPrivateCommand(Filter):
    """A group message that is one of our private-chat commands, typed bare or naming us
    (`/schedule@our_bot`); hands the handler `command` (its name) and `username` (ours)."""

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, str]:
        found = command_of(message.text or "")
        if found is None:
            return False
        name, mention = found[0].lower(), found[1]
        if name not in KNOWN_COMMANDS or name in GROUP_COMMANDS:
            return False
        me = await bot.me()
        if mention and mention.lower() != (me.username or "").lower():
            return False  # another bot's command
        return {"command": name, "username": me.username or ""}


@router.message(ChatIs(PRIVATE))
async def on_private_unanswered(message: Message) -> None:
    """Nothing else answered a private message: say what would."""
    found = command_of(message.text or "")
    if found is None:
        await message.answer(t("convo.free_text"))
        return
    name = found[0]
    if name.lower() in KNOWN_COMMANDS and name != name.lower():
        await message.answer(t("convo.lowercase", command=f"/{name.lower()}"))
    else:
        await message.answer(t("convo.unknown_command", command=html.quote(f"/{name}")))


@router.message(ChatIs(*GROUP_TYPES), OurPrivateCommand())
async def on_group_private_command(message: Message, command: str, username: str) -> None:
    """One of our private-chat commands typed in a group: say where it works."""
    await message.reply(t("convo.private_only", command=f"/{command}", username=username))
