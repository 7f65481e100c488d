"""A group chat's binding through the bot's own life in it: added, removed, upgraded.

* The bot removed or kicked: the binding goes inactive and the district's admins (or the
  bootstrap admins, when it has none) are told through the outbox, in the same transaction.
* A group upgraded to a supergroup keeps its binding (the chat id is updated).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services import audit
from bot.services.access import notices as access_notices
from bot.services.access.link_targets import TargetInfo, describe
from storage.models import ChatBinding
from storage.repositories.access import AccessRepository


def snapshot(binding: ChatBinding) -> dict[str, Any]:
    return {
        "chat_id": binding.chat_id,
        "chat_title": binding.chat_title,
        "target_type": binding.target_type,
        "target_id": binding.target_id,
        "active": binding.active,
        "unbound_reason": binding.unbound_reason,
    }


async def unbind(
    session: AsyncSession, binding: ChatBinding, reason: str, actor_id: int | None, now: datetime
) -> None:
    """Mark a binding inactive, with the reason, and audit it."""
    before = snapshot(binding)
    binding.active = False
    binding.unbound_at = now
    binding.unbound_reason = reason
    await session.flush()
    await audit.record(
        session,
        action="chat.unlink",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=before,
        after=snapshot(binding),
        actor_id=actor_id,
        district_id=binding.district_id,
    )


async def binding_of(session: AsyncSession, chat_id: int) -> TargetInfo | None:
    """What a chat is bound to, for the group's own greeting and status (the bot added)."""
    binding = await AccessRepository(session).binding_for_chat(chat_id)
    if binding is None:
        return None
    return await describe(session, binding.target_type, binding.target_id)


async def bot_removed(
    session: AsyncSession,
    *,
    chat_id: int,
    kicked: bool,
    actor_id: int | None,
    now: datetime,
    i18n: CatalogI18n,
    fallback_admin_ids: Collection[int] = (),
) -> list[int]:
    """The bot was removed or kicked: the binding goes inactive and the admins are told.

    Returns who was told (nobody for a chat that was not bound).
    """
    repo = AccessRepository(session)
    binding = await repo.binding_for_chat(chat_id)
    if binding is None:
        return []
    info = await describe(session, binding.target_type, binding.target_id)
    await unbind(session, binding, "bot_kicked" if kicked else "bot_left", actor_id, now)
    recipients = await access_notices.district_admin_ids(
        session, [binding.district_id], fallback_admin_ids
    )
    return await access_notices.tell(
        session,
        i18n,
        recipients,
        "link.admin_bot_removed",
        origin=("chat_binding", binding.id),
        dedupe=f"unbound:{binding.id}",
        chat=escape(binding.chat_title),
        target=escape(info.label if info is not None else binding.target_type),
    )


async def chat_migrated(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int, now: datetime
) -> bool:
    """A group became a supergroup: its binding follows the new chat id (idempotent)."""
    del now
    repo = AccessRepository(session)
    binding = await repo.binding_for_chat(old_chat_id)
    if binding is None or old_chat_id == new_chat_id:
        return False
    if await repo.binding_for_chat(new_chat_id) is not None:
        return False
    before = snapshot(binding)
    binding.chat_id = new_chat_id
    await session.flush()
    await audit.record(
        session,
        action="chat.migrate",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=before,
        after=snapshot(binding),
        district_id=binding.district_id,
    )
    return True
