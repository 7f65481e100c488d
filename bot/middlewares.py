"""Per-update middlewares: trace/log line, database unit of work, the acting user."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories.users import UserRepository

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
log = logging.getLogger("bot.updates")


class UpdateLogMiddleware(BaseMiddleware):
    """One structured line per update: id, user, chat, handler, duration."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        trace: dict[str, Any] = {"handler": None}
        data["trace"] = trace
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await handler(event, data)
        except BaseException:
            outcome = "error"
            raise
        finally:
            user: User | None = data.get("event_from_user")
            chat = data.get("event_chat")
            assert isinstance(event, Update)
            log.info(
                "update id=%s type=%s user=%s chat=%s handler=%s outcome=%s ms=%.1f",
                event.update_id,
                event.event_type,
                user.id if user else "-",
                chat.id if chat else "-",
                trace["handler"] or "-",
                outcome,
                (time.perf_counter() - started) * 1000,
                extra={
                    "update_id": event.update_id,
                    "user_id": user.id if user else None,
                    "chat_id": chat.id if chat else None,
                    "handler": trace["handler"],
                },
            )


class HandlerNameMiddleware(BaseMiddleware):
    """Inner middleware: tells the log line which handler took the update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        trace = data.get("trace")
        handler_obj: HandlerObject | None = data.get("handler")
        if trace is not None and handler_obj is not None:
            cb = handler_obj.callback
            trace["handler"] = f"{cb.__module__}.{getattr(cb, '__qualname__', cb)}"
        return await handler(event, data)


class DbSessionMiddleware(BaseMiddleware):
    """The unit of work: one session per update, committed on success, rolled back on error.

    A handler that confirms a change to the person commits first (`await session.commit()`),
    so the person's next update, handled concurrently, already sees it.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return result


class UserMiddleware(BaseMiddleware):
    """Loads (and records) the Telegram account acting in this update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: User | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        if tg_user is not None and not tg_user.is_bot and session is not None:
            data["db_user"] = await UserRepository(session).upsert_seen(
                tg_user.id,
                tg_user.first_name,
                tg_user.last_name,
                tg_user.username,
                tg_user.language_code,
            )
        return await handler(event, data)
