"""Conversation state in the database: it survives a restart, and old conversations end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.fsm import TTL, DbStorage
from storage.db import create_session_factory
from tests.helpers import FakeClock

KEY = StorageKey(bot_id=1, chat_id=101, user_id=101)


async def test_a_wizard_state_survives_a_new_storage_as_after_a_restart(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 3, tzinfo=UTC))
    before = DbStorage(create_session_factory(engine), clock)
    await before.set_state(KEY, "Schedule:CONFIRM")
    await before.set_data(KEY, {"branch_id": 7, "starts_at": datetime(2026, 12, 3, 12, tzinfo=UTC)})
    after = DbStorage(create_session_factory(engine), clock)  # the restarted process
    assert await after.get_state(KEY) == "Schedule:CONFIRM"
    assert await after.get_data(KEY) == {"branch_id": 7, "starts_at": "2026-12-03T12:00:00+00:00"}
    await after.update_data(KEY, {"agenda": "Nghị quyết"})
    assert (await before.get_data(KEY))["agenda"] == "Nghị quyết"


async def test_clearing_forgets_and_an_abandoned_conversation_expires(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 3, tzinfo=UTC))
    storage = DbStorage(create_session_factory(engine), clock)
    await storage.set_state(KEY, "Report:PRESENT")
    await storage.set_data(KEY, {"n": 1})
    other = StorageKey(bot_id=1, chat_id=102, user_id=102)
    assert await storage.get_state(other) is None and await storage.get_data(other) == {}
    clock.move(seconds=(TTL + timedelta(minutes=1)).total_seconds())
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
    await storage.set_state(KEY, "Report:PRESENT")
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
