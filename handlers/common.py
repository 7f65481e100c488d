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
    await message.answer("\n".join([_("help.text"), *(_(f"help.{r}") for r in roles)]))
