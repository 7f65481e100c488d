"""Storage behaviour that the rest relies on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.models import TelegramUser
from storage.repositories.users import UserRepository


async def test_sqlite_concurrent_writers_never_hit_database_locked(tmp_path: Path) -> None:
    """Read-then-write transactions from many tasks: with BEGIN IMMEDIATE and a busy timeout
    they queue for the write lock instead of failing, and no increment is lost."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/nested/dir/bot.db", pool_size=20)
    await upgrade_to_head(engine)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        s.add(TelegramUser(id=1, first_name="x", reachable=True))

    async def bump() -> None:
        async with factory() as s, s.begin():
            user = await s.get(TelegramUser, 1)
            assert user is not None
            count = int(user.last_name or 0)
            await asyncio.sleep(0)  # let the others try to interleave
            user.last_name = str(count + 1)

    await asyncio.gather(*(bump() for _ in range(60)))
    async with factory() as s:
        user = await s.get(TelegramUser, 1)
        mode = (await s.execute(text("PRAGMA journal_mode"))).scalar()
        fks = (await s.execute(text("PRAGMA foreign_keys"))).scalar()
    await engine.dispose()
    assert user is not None and user.last_name == "60"
    assert mode == "wal"
    assert fks == 1


async def test_user_upsert_and_language(database_url: str) -> None:
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    try:
        async with factory() as s, s.begin():
            repo = UserRepository(s)
            await repo.upsert_seen(7, "Lan", None, "lan", "vi")
            await repo.set_language(7, "en")
        async with factory() as s, s.begin():
            user = await UserRepository(s).upsert_seen(7, "Lan B", None, "lan", "vi")
            assert user.language == "en"
            assert user.first_name == "Lan B"
            assert user.created_at.tzinfo is not None
    finally:
        await engine.dispose()


async def test_first_updates_of_a_person_racing_do_not_conflict(database_url: str) -> None:
    engine = create_engine(database_url)
    factory = create_session_factory(engine)

    async def seen() -> None:
        async with factory() as s, s.begin():
            await UserRepository(s).upsert_seen(99, "Race", None, None, "vi")

    try:
        await asyncio.gather(*(seen() for _ in range(8)))
        async with factory() as s:
            ids = await UserRepository(s).list_ids()
    finally:
        await engine.dispose()
    assert ids == [99]


async def test_update_path_records_a_first_contact_once_and_keeps_a_chosen_language(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    factory = create_session_factory(engine)

    async def first_contact() -> str | None:
        async with factory() as s, s.begin():
            seen = await UserRepository(s).record_seen(None, 98, "Race", None, None, "vi")
            return seen.language

    try:
        assert await asyncio.gather(*(first_contact() for _ in range(8))) == [None] * 8
        async with factory() as s, s.begin():
            await UserRepository(s).set_language(98, "en")
        assert await first_contact() == "en"  # a stale "first contact" keeps the choice
        async with factory() as s:
            ids = await UserRepository(s).list_ids()
            user = await UserRepository(s).get(98)
    finally:
        await engine.dispose()
    assert ids == [98] and user is not None and user.language == "en"
