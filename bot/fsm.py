"""Conversation state in the database: the embedded default's wizards survive a restart.

aiogram's MemoryStorage forgets every wizard when the process stops (a secretary at the
confirm step of /schedule then pressed a dead button). This storage keeps state and data in the
`fsm_states` table. Inside an update it uses the update's own session, so a step's state and
its writes commit together (and on SQLite it never waits for a lock its own update holds);
outside one it uses a short transaction of its own. Redis stays the option for several
processes (`REDIS_URL`).

A conversation untouched for `TTL` is over: its buttons are answered as expired.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.session import current_session
from storage.db import sqlite_deferred
from storage.models import FsmState
from storage.repositories.update_context import FsmRow
from storage.repositories.users import dialect_insert

TTL = timedelta(days=3)
# The update's conversation row, read with the account in one query before the FSM middleware
# asks (`bot.middlewares.UserMiddleware`): key -> row (None: no conversation).
_prefetched: ContextVar[dict[str, FsmRow | None] | None] = ContextVar(
    "fsm_prefetched", default=None
)


@contextmanager
def prefetched(key: str | None, row: FsmRow | None) -> Iterator[None]:
    """While the update runs, its conversation row is known: `get_state`/`get_data` need no
    query (a write forgets it, and the session reads it back)."""
    token = _prefetched.set({key: row} if key is not None else None)
    try:
        yield
    finally:
        _prefetched.reset(token)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class DbStorage(BaseStorage):
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], clock: Clock | None = None
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock or SystemClock()
        self.keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    @asynccontextmanager
    async def _session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """The update's session when there is one, else a short transaction of our own."""
        session = current_session.get()
        if session is not None:
            yield session
            return
        if write:
            async with self.session_factory() as own, own.begin():
                yield own
            return
        with sqlite_deferred():
            async with self.session_factory() as own, own.begin():
                yield own

    def key_of(self, key: StorageKey) -> str:
        return self.keys.build(key)

    async def _row(self, key: StorageKey) -> FsmRow | None:
        built = self.keys.build(key)
        prefetched = _prefetched.get()
        if prefetched is not None and built in prefetched:
            row = prefetched[built]
        else:
            # Columns, not an ORM entity: this runs on every update, and entities cost more.
            query = select(FsmState.state, FsmState.data, FsmState.updated_at).where(
                FsmState.key == built
            )
            async with self._session(write=False) as s:
                found = (await s.execute(query)).first()
            row = FsmRow(*found) if found is not None else None
        if row is None or row.updated_at < self.clock.now() - TTL:
            return None
        return row

    def _forget_prefetched(self, key: StorageKey) -> None:
        prefetched = _prefetched.get()
        if prefetched is not None:
            prefetched.pop(self.keys.build(key), None)  # written: read it back from the session

    async def _put(self, key: StorageKey, **values: Any) -> None:
        self._forget_prefetched(key)
        values["updated_at"] = self.clock.now()
        async with self._session(write=True) as s:
            insert = dialect_insert(s)(FsmState).values(
                key=self.keys.build(key), **{"data": "{}", "state": None, **values}
            )
            await s.execute(insert.on_conflict_do_update(index_elements=["key"], set_=values))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        if name is None and not await self.get_data(key):
            self._forget_prefetched(key)
            async with self._session(write=True) as s:
                await s.execute(delete(FsmState).where(FsmState.key == self.keys.build(key)))
            return
        await self._put(key, state=name)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return row.state if row is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._put(key, data=json.dumps(dict(data), default=_json_default))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        if row is None:
            return {}
        loaded = json.loads(row.data or "{}")
        return loaded if isinstance(loaded, dict) else {}

    async def close(self) -> None:
        return None
