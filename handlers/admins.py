"""/admins: list, add and remove a district's committee admins (private chat only).

`/admins [DISTRICT]`, `/admins add ID [DISTRICT]`, `/admins remove ID [DISTRICT]`; instead of
an ID, reply to a message forwarded from the person (when their privacy settings show them).
Only admins get past the role filter, so nobody learns anything from a malformed ID first.
"""

from __future__ import annotations

from aiogram import Bot, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, MessageOriginUser
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_person_menu
from bot.i18n import CatalogI18n
from bot.inputs import try_int
from bot.services.access import admins
from bot.services.access.admins import AdminOp
from bot.services.access.policy import Actor, Role
from bot.settings import Settings
from handlers.kit import Chats, RoleFilter, feature_router, t

router = feature_router(__name__, Chats.PRIVATE)
OPS = {"add": AdminOp.ADD, "remove": AdminOp.REMOVE}
DONE_KEYS = {AdminOp.ADD: "admins.added", AdminOp.REMOVE: "admins.removed"}


def _forwarded_user_id(message: Message) -> int | None:
    """The id of the person whose forwarded message this command replies to, if visible."""
    reply = message.reply_to_message
    if reply is not None and isinstance(reply.forward_origin, MessageOriginUser):
        return reply.forward_origin.sender_user.id
    return None


def _parse(message: Message, args: list[str]) -> tuple[AdminOp, int | None, str | None]:
    """(operation, target id or None when missing or not a number, district code)."""
    op = OPS.get(args[0].lower(), AdminOp.LIST) if args else AdminOp.LIST
    rest = args[1:] if op is not AdminOp.LIST else args
    target_id: int | None = None
    if op is not AdminOp.LIST:
        # A district code has letters; anything else in first place is meant as an ID.
        if rest and not any(c.isalpha() for c in rest[0]):
            target_id = try_int(rest.pop(0), lo=1)
        else:
            target_id = _forwarded_user_id(message)
    return op, target_id, rest[0] if rest else None


@router.message(Command("admins"), RoleFilter(Role.ADMIN))
async def cmd_admins(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: CatalogI18n,
) -> None:
    """List the district's admins, or add/remove one."""
    op, target_id, district = _parse(message, (command.args or "").split())
    done = await admins.manage(
        session,
        actor,
        op,
        target_id=target_id,
        district_code=district,
        now=clock.now(),
        bootstrap_admin_ids=settings.admin_ids,
    )
    if done.target_id is not None:
        # The target's menu in the default language: we do not know theirs here.
        await set_person_menu(bot, i18n, done.target_id, done.target_roles, i18n.default_locale)
    listing = done.listing
    name = html.quote(listing.district_name)
    lines: list[str] = []
    if op in DONE_KEYS:
        lines += [t(DONE_KEYS[op], id=done.target_id, district=name), ""]
    lines.append(t("admins.list", district=name, code=html.quote(listing.district_code)))
    lines += [
        t("admins.line", id=a.telegram_id, label=html.quote(a.label)) for a in listing.admins
    ] or [t("admins.empty")]
    lines += ["", t("admins.usage")]
    await message.answer("\n".join(lines))
