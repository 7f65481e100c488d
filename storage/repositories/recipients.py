"""Who a notice can reach and in which language: reads every feature's notices share.

Meetings, rosters, broadcasts, feedback and nudges all word a notice per reader and send it to
a branch's group or to people's private chats. These reads belong to none of them, so they live
here rather than in one feature's repository that the others would have to borrow.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatBinding, TelegramUser
from storage.models.org import TargetType


class RecipientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def branch_chat(self, branch_id: int) -> int | None:
        """The branch's linked group chat, if any."""
        stmt = select(ChatBinding.chat_id).where(
            ChatBinding.target_type == TargetType.BRANCH,
            ChatBinding.target_id == branch_id,
            ChatBinding.active.is_(True),
        )
        return (await self.session.scalars(stmt)).first()

    async def languages(
        self, telegram_ids: Iterable[int]
    ) -> dict[int, tuple[str | None, str | None]]:
        """Each account's /language choice and Telegram app language."""
        ids = list(set(telegram_ids))
        if not ids:
            return {}
        stmt = select(TelegramUser.id, TelegramUser.language, TelegramUser.telegram_language).where(
            TelegramUser.id.in_(ids)
        )
        return {uid: (lang, tg) for uid, lang, tg in (await self.session.execute(stmt)).all()}

    async def reachable_telegram_ids(self, telegram_ids: Iterable[int]) -> set[int]:
        """Accounts that have a private chat with the bot (wrote to it) and did not block it."""
        ids = list(set(telegram_ids))
        if not ids:
            return set()
        stmt = select(TelegramUser.id).where(
            TelegramUser.id.in_(ids), TelegramUser.reachable.is_(True)
        )
        return set((await self.session.scalars(stmt)).all())
