"""Telegram accounts and their preferences."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import TelegramUser


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> TelegramUser | None:
        return await self.session.get(TelegramUser, user_id)

    async def upsert_seen(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        telegram_language: str | None,
    ) -> TelegramUser:
        """Record the account as seen; only writes when something changed."""
        user = await self.session.get(TelegramUser, user_id)
        if user is None:
            user = TelegramUser(
                id=user_id,
                first_name=first_name,
                last_name=last_name,
                username=username,
                telegram_language=telegram_language,
                reachable=True,
            )
            self.session.add(user)
            await self.session.flush()
            return user
        changed = (
            user.first_name != first_name
            or user.last_name != last_name
            or user.username != username
            or user.telegram_language != telegram_language
            or not user.reachable
        )
        if changed:
            user.first_name = first_name
            user.last_name = last_name
            user.username = username
            user.telegram_language = telegram_language
            user.reachable = True
            user.updated_at = utcnow()
        return user

    async def set_language(self, user_id: int, language: str) -> None:
        user = await self.session.get(TelegramUser, user_id)
        if user is None:
            user = TelegramUser(id=user_id, first_name="", reachable=True)
            self.session.add(user)
        user.language = language

    async def mark_unreachable(self, user_id: int) -> None:
        user = await self.session.get(TelegramUser, user_id)
        if user is not None:
            user.reachable = False

    async def list_ids(self) -> list[int]:
        return list((await self.session.scalars(select(TelegramUser.id))).all())
