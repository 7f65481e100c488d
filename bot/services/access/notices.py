"""Texts the access features send through the outbox, rendered in each recipient's language.

Services queue these in their own transaction (a notice leaves only if its change commits);
handlers never render them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n, pick_locale
from bot.outbox.service import OutboxKind, OutboxMessage, enqueue
from bot.services.vn_calendar import format_datetime
from storage.repositories.access import AccessRepository
from storage.repositories.users import UserRepository


def local_time(moment: datetime, tz: tzinfo, locale: str | None = "vi") -> str:
    """'Thứ Năm, 03/12/2026 lúc 14:35' in the bot's zone (the one date formatter)."""
    return format_datetime(moment, locale, tz)


async def district_admin_ids(
    session: AsyncSession, district_ids: Iterable[int], fallback_ids: Collection[int] = ()
) -> list[int]:
    """The committee admins of these districts, or the bootstrap admins when they have none
    (or there is no district at all)."""
    repo = AccessRepository(session)
    ids: list[int] = []
    for district_id in district_ids:
        ids += [a.telegram_id for a in await repo.district_admins(district_id)]
    return list(dict.fromkeys(ids)) or sorted(fallback_ids)


async def tell(
    session: AsyncSession,
    i18n: CatalogI18n,
    recipients: Iterable[int],
    key: str,
    *,
    origin: tuple[str, int],
    dedupe: str,
    **params: Any,
) -> list[int]:
    """Queue `key` to each recipient in their language; `dedupe` (plus the recipient) makes a
    repeated call a no-op. `params` must already be HTML-escaped."""
    users = UserRepository(session)
    told = []
    for chat_id in recipients:
        user = await users.get(chat_id)
        locale = pick_locale(
            user.language if user else None,
            user.telegram_language if user else None,
            i18n.default_locale,
        )
        await enqueue(
            session,
            OutboxMessage(
                chat_id=chat_id,
                kind=OutboxKind.INTERACTIVE,
                text=i18n.t(key, locale, **params),
                origin_type=origin[0],
                origin_id=origin[1],
                dedupe_key=f"{dedupe}:{chat_id}",
            ),
        )
        told.append(chat_id)
    return told
