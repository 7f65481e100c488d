"""Telegram accounts and their preferences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import TelegramUser
from storage.repositories.update_context import SeenUser


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert
    return sqlite_insert


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
            # Two first updates of one person can race (a group add brings two at once):
            # insert-if-absent instead of failing on the primary key.
            await self.session.execute(
                dialect_insert(self.session)(TelegramUser)
                .values(
                    id=user_id,
                    first_name=first_name,
                    last_name=last_name,
                    username=username,
                    telegram_language=telegram_language,
                    reachable=True,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            user = await self.session.get(TelegramUser, user_id, populate_existing=True)
            assert user is not None
            return user
        if self.differs(user, first_name, last_name, username, telegram_language):
            user.first_name = first_name
            user.last_name = last_name
            user.username = username
            user.telegram_language = telegram_language
            user.reachable = True
            user.updated_at = utcnow()
        return user

    async def record_seen(
        self,
        stored: SeenUser | None,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        telegram_language: str | None,
    ) -> SeenUser:
        """Write the account as Telegram shows it now, in one statement, given what the update
        path already read (`stored`): an upsert for a first contact (two first updates of one
        person may race), an UPDATE when something changed. Nothing is read back."""
        now = utcnow()
        shown = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "telegram_language": telegram_language,
            "reachable": True,
            "updated_at": now,
        }
        if stored is None:
            insert = dialect_insert(self.session)(TelegramUser).values(
                id=user_id, created_at=now, **shown
            )
            upsert = insert.on_conflict_do_update(index_elements=["id"], set_=shown).returning(
                TelegramUser.language
            )
            language = (await self.session.execute(upsert)).scalar_one()
        else:
            await self.session.execute(
                update(TelegramUser).where(TelegramUser.id == user_id).values(**shown)
            )
            language = stored.language
        return SeenUser(
            user_id, first_name, last_name, username, telegram_language, language, reachable=True
        )

    @staticmethod
    def differs(
        user: TelegramUser | SeenUser,
        first_name: str,
        last_name: str | None,
        username: str | None,
        telegram_language: str | None,
    ) -> bool:
        """Whether the account as Telegram shows it now differs from the stored one."""
        return (
            user.first_name != first_name
            or user.last_name != last_name
            or user.username != username
            or user.telegram_language != telegram_language
            or not user.reachable
        )

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
