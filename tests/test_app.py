"""The app factory: FSM storage choice, and that nothing leaks between builds."""

from __future__ import annotations

import uuid

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from bot.app import create_app, create_fsm_storage
from bot.clock import SystemClock
from bot.fsm import DbStorage
from bot.logs import RedactFilter
from bot.settings import load_settings

TOKEN = "123456:TEST"


def test_database_storage_without_redis() -> None:
    settings = load_settings({"BOT_TOKEN": TOKEN})
    storage = create_fsm_storage(settings, None, SystemClock())  # type: ignore[arg-type]
    assert isinstance(storage, DbStorage)


async def test_redis_storage_is_shared_between_processes() -> None:
    settings = load_settings({"BOT_TOKEN": TOKEN, "REDIS_URL": "redis://127.0.0.1:6379/15"})
    first, second = (
        create_fsm_storage(settings, None, SystemClock()),  # type: ignore[arg-type]
        create_fsm_storage(settings, None, SystemClock()),  # type: ignore[arg-type]
    )
    assert isinstance(first, RedisStorage)
    key = StorageKey(bot_id=123456, chat_id=int(uuid.uuid4().int % 10**9), user_id=1)
    try:
        await first.set_state(key, "Schedule:DATE")
        await first.set_data(key, {"kind": "regular"})
        assert await second.get_state(key) == "Schedule:DATE"
        assert await second.get_data(key) == {"kind": "regular"}
    finally:
        await first.set_state(key, None)
        await first.set_data(key, {})
        await first.close()
        await second.close()


async def test_two_apps_can_be_built_in_one_process(tmp_path: object) -> None:
    settings = load_settings(
        {"BOT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db"}
    )
    first = create_app(settings)
    second = create_app(settings)
    try:
        assert first.dp is not second.dp
        assert set(second.dp.resolve_used_update_types()) >= {"message", "callback_query"}
    finally:
        await first.close()
        await second.close()


def test_token_is_redacted_from_logs() -> None:
    import logging

    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "url=%s", ("/bot123:SECRET/x",), None
    )
    RedactFilter(["123:SECRET"]).filter(record)
    assert record.getMessage() == "url=/bot***/x"


async def test_with_redis_the_sender_shares_one_global_limit(tmp_path: object) -> None:
    from bot.outbox import Sender

    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db"}
    alone = create_app(load_settings(env))
    shared = create_app(load_settings({**env, "REDIS_URL": "redis://127.0.0.1:6379/15"}))
    window = None
    try:
        senders = [
            next(c for c in app.components if isinstance(c, Sender)) for app in (alone, shared)
        ]
        assert senders[0].shared is None
        window = senders[1].shared
        assert window is not None and window.key == "outbox:window:123456"
        assert window.limit == int(shared.settings.send_global_per_sec)
    finally:
        await alone.close()
        await shared.close()
        if window is not None:
            await window.close()
