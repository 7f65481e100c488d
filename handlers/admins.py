"""/admins: list, add and remove a district's committee admins (private chat only).

`/admins [DISTRICT]`, `/admins add ID [DISTRICT]`, `/admins remove ID [DISTRICT]`; instead of
an ID, reply to a message forwarded from the person (when their privacy settings show them).
"""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, MessageOriginUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import admins
from bot.services.policy import Refused, load_actor
from bot.settings import Settings
from handlers.people import refresh_menu, refused_text

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")


def _forwarded_user_id(message: Message) -> int | None:
    """The id of the person whose forwarded message this command replies to, if visible."""
    reply = message.reply_to_message
    if reply is not None and isinstance(reply.forward_origin, MessageOriginUser):
        return reply.forward_origin.sender_user.id
    return None


@router.message(Command("admins"))
async def cmd_admins(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """List the district's admins, or add/remove one."""
    assert message.from_user is not None
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    args = (command.args or "").split()
    op = args[0].lower() if args and args[0].lower() in ("add", "remove") else None
    rest = args[1:] if op else args
    try:
        target_id: int | None = None
        if op is not None:
            if rest and rest[0].isdigit():
                target_id = int(rest.pop(0))
            else:
                target_id = _forwarded_user_id(message)
            if target_id is None:
                await message.answer(_("admins.bad_id"))
                return
        district_id = await admins.pick_district(session, actor, rest[0] if rest else None)
        if op == "add" and target_id is not None:
            await admins.add_admin(session, actor, district_id, target_id, clock.now())
        elif op == "remove" and target_id is not None:
            await admins.remove_admin(session, actor, district_id, target_id, clock.now())
        listing = await admins.list_admins(session, actor, district_id)
        if target_id is not None:
            await refresh_menu(bot, i18n, session, settings, target_id, i18n.default_locale)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    lines: list[str] = []
    district = html.quote(listing.district_name)
    if op == "add":
        lines += [_("admins.added").format(id=target_id, district=district), ""]
    elif op == "remove":
        lines += [_("admins.removed").format(id=target_id, district=district), ""]
    lines.append(_("admins.list").format(district=district, code=html.quote(listing.district_code)))
    lines += [
        _("admins.line").format(id=a.telegram_id, label=html.quote(a.label)) for a in listing.admins
    ] or [_("admins.empty")]
    lines += ["", _("admins.usage")]
    await message.answer("\n".join(lines))
