"""Per-update middlewares: trace/log line, database unit of work, the acting user."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.dispatcher.flags import get_flag
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update, User
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.fsm import DbStorage, prefetched
from bot.outbox.direct import answering
from bot.session import current_session
from storage.db import begin_mode, set_begin_mode
from storage.repositories.update_context import load_update_context
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


class InFlight(BaseMiddleware):
    """Outer update middleware counting the updates in hand, so shutdown (and tests) can wait
    for them without reaching into the dispatcher's private task set."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self.count += 1
        self._idle.clear()
        # What the bot sends from here on answers this update: it goes at once, not in the
        # pace of what the bot sends on its own (`bot.outbox.direct`).
        token = answering.set(True)
        try:
            return await handler(event, data)
        finally:
            answering.reset(token)
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, limit_s: float | None = None) -> bool:
        """Wait until no update is in hand; False if `limit_s` passed first."""
        await asyncio.sleep(0)  # let updates just handed to tasks reach the middleware
        try:
            await asyncio.wait_for(self._idle.wait(), limit_s)
        except TimeoutError:
            return False
        return True


class HandlerNameMiddleware(BaseMiddleware):
    """Inner middleware: tells the log line which handler took the update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        trace = data.get("trace")
        handler_obj: HandlerObject | None = data.get("handler")
        if trace is not None and handler_obj is not None:
            cb = handler_obj.callback
            trace["handler"] = f"{cb.__module__}.{getattr(cb, '__qualname__', cb)}"
        return await handler(event, data)


class UnitOfWork:
    """The update's session, and when it may take SQLite's write lock.

    An update starts as a reader: on SQLite its statements run without BEGIN (each its own
    transaction: no lock, no extra trips to SQLite's thread; a read-only handler's several
    SELECTs may see commits made in between, which views can live with). Before a handler that
    writes runs, `for_writing` makes the next transactions begin IMMEDIATE, so a writer never
    upgrades a read snapshot (which fails with "database is locked" when another writer
    committed meanwhile). On PostgreSQL both are no-ops.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"

    async def for_writing(self) -> None:
        if self.sqlite and begin_mode() != "IMMEDIATE":
            if self.session.in_transaction():
                await self.session.commit()  # it only read
            set_begin_mode("IMMEDIATE")

    async def write_now(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """Run `write` in its own short writing transaction and commit it (SQLite), or in the
        update's transaction (PostgreSQL); the update stays a reader afterwards."""
        if not self.sqlite:
            return await write()
        mode = begin_mode()
        await self.for_writing()
        try:
            result = await write()
            await self.session.commit()
        finally:
            set_begin_mode(mode)
        return result


class DbSessionMiddleware(BaseMiddleware):
    """The unit of work: one session per update, committed on success, rolled back on error.

    Before the bot tells the person anything, `CommitBeforeReply` commits what the handler has
    written so far: what the person was told is durable, and their next update (handled
    concurrently) already sees it.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            data["uow"] = UnitOfWork(session)
            token = current_session.set(session)
            mode = begin_mode()
            set_begin_mode("NONE")  # a reader until a writing handler is chosen
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            finally:
                current_session.reset(token)
            try:
                await session.commit()
            finally:
                set_begin_mode(mode)
            return result


class ReadOnlyViolation(RuntimeError):
    """A handler flagged `{"db": "read"}` tried to write: drop the flag or the write."""


class WriteIntent(BaseMiddleware):
    """Inner middleware: the chosen handler writes unless it is flagged `{"db": "read"}`.

    Read-only handlers (views, /start, /help, pagers) then run without SQLite's write lock and
    without a commit before their reply. A flagged handler that writes anyway fails loudly
    (`ReadOnlyViolation`, from `guard_read_only`), so the flag cannot silently lie.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        uow: UnitOfWork | None = data.get("uow")
        if uow is not None:
            reads = get_flag(data, "db") == "read"
            uow.session.info["read_only"] = reads
            if not reads:
                await uow.for_writing()
        return await handler(event, data)


def guard_read_only() -> None:
    """Install (once) the check that sessions of read-only handlers write nothing."""
    if event.contains(Session, "do_orm_execute", _no_write_statements):
        return
    event.listen(Session, "do_orm_execute", _no_write_statements)
    event.listen(Session, "before_flush", _no_flushes)


def _no_write_statements(state: ORMExecuteState) -> None:
    if state.session.info.get("read_only") and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise ReadOnlyViolation(str(state.statement).split("\n", 1)[0])


def _no_flushes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise ReadOnlyViolation("a flush of changed objects")


class CommitBeforeReply(BaseRequestMiddleware):
    """Bot API request middleware: commit the current update's writes before any call leaves.

    Without it a reply ("linked!", "switched to English") could reach the person before the
    change is committed, and their very next update would still see the old state.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        session = current_session.get()
        # Checking for writes is not reliable (flushed rows and Core statements leave no trace
        # in the identity map), and a read-only COMMIT is cheap. It also gives the connection
        # back to the pool before the request waits on the network: held across a reply, the
        # pool's few connections would cap how many updates are handled at once.
        if session is not None and session.in_transaction():
            await session.commit()
        return await make_request(bot, method)


class UserMiddleware(BaseMiddleware):
    """Loads the Telegram account acting in this update; writes it only when something in it
    changed (first contact, a new name, username or app language, reachable again), so an
    ordinary update from a returning person is read-only.

    The same query reads the person's conversation state (when it lives in the database) and
    what /start needs of their roles (`person`): one round trip per update.
    """

    def __init__(self, fsm: FSMContextMiddleware | None = None) -> None:
        self.fsm = fsm
        # Only conversations kept in the database are read with the account.
        storage = fsm.storage if fsm is not None else None
        self.db_storage = storage if isinstance(storage, DbStorage) else None

    def _fsm_key(self, data: dict[str, Any]) -> str | None:
        if self.fsm is None or self.db_storage is None:
            return None
        context = self.fsm.resolve_event_context(data["bot"], data)
        return self.db_storage.key_of(context.key) if context is not None else None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: User | None = data.get("event_from_user")
        uow: UnitOfWork | None = data.get("uow")
        if tg_user is None or tg_user.is_bot or uow is None:
            return await handler(event, data)
        key = self._fsm_key(data)
        context = await load_update_context(uow.session, tg_user.id, key)
        with prefetched(key, context.fsm):
            data["person"] = context.person
            repo = UserRepository(uow.session)
            seen = (
                tg_user.id,
                tg_user.first_name,
                tg_user.last_name,
                tg_user.username,
                tg_user.language_code,
            )
            user = context.user
            if user is None or repo.differs(user, *seen[1:]):
                stored = user
                user = await uow.write_now(lambda: repo.record_seen(stored, *seen))
            data["db_user"] = user
            return await handler(event, data)
