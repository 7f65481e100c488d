"""/start and /help: who the bot is and what the person can do."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.policy import load_actor, menu_roles
from bot.settings import Settings

router = Router(name=__name__)

# Later features add lines to a role's /help section from their own catalogs.
HELP_EXTRA: dict[str, tuple[str, ...]] = {
    "member": ("mtg.help.member", "mrep.help.member"),
    "secretary": ("mtg.help.secretary", "mrep.help.secretary"),
    "admin": ("mrep.help.admin",),
}


@router.message(CommandStart())
async def cmd_start(message: Message) -> None:
    """Greet and say what the bot does."""
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(_("start.greeting").format(name=html.quote(name)))


@router.message(Command("help"))
async def cmd_help(message: Message, session: AsyncSession, settings: Settings) -> None:
    """List what this person can do: the help grows with their roles."""
    roles = ["unknown"]
    if message.from_user is not None:
        roles = menu_roles(await load_actor(session, message.from_user.id, settings.admin_ids))
    sections = [_(f"help.{r}") + "".join("\n" + _(k) for k in HELP_EXTRA.get(r, ())) for r in roles]
    await message.answer("\n".join([_("help.text"), *sections]))
