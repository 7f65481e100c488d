"""Issue 2 end to end: /start, /help, /language, errors with a reference, menus, update types."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from storage.models import TelegramUser
from tests.e2e.harness import BotEnv, running_bot


async def test_start_in_vietnamese_by_default(bot_env: BotEnv) -> None:
    uid = bot_env.user(1001, "Lan", "vi")
    reply = await bot_env.ask(uid, "/start")
    assert reply["text"].startswith("Xin chào Lan!")
    assert "chi bộ" in reply["text"]
    # HTML was parsed by the sandbox: the name is bold.
    assert any(e["type"] == "bold" for e in reply.get("entities", []))


async def test_start_for_an_unsupported_app_language_is_vietnamese(bot_env: BotEnv) -> None:
    uid = bot_env.user(1002, "Pierre", "fr")
    reply = await bot_env.ask(uid, "/start")
    assert reply["text"].startswith("Xin chào Pierre!")


async def test_start_in_english(bot_env: BotEnv) -> None:
    uid = bot_env.user(1003, "John", "en")
    reply = await bot_env.ask(uid, "/start")
    assert reply["text"].startswith("Hello John!")
    assert "branch" in reply["text"]


async def test_user_text_is_escaped(bot_env: BotEnv) -> None:
    uid = bot_env.user(1004, "<b>x</b> & y", "vi")
    reply = await bot_env.ask(uid, "/start")
    assert "<b>x</b> & y" in reply["text"]


async def test_help_lists_commands(bot_env: BotEnv) -> None:
    uid = bot_env.user(1005, "Minh", "vi")
    reply = await bot_env.ask(uid, "/help")
    for command in ("/start", "/help", "/language"):
        assert command in reply["text"]


async def test_language_switch_is_remembered(bot_env: BotEnv) -> None:
    uid = bot_env.user(1006, "Hoa", "vi")
    menu = await bot_env.ask(uid, "/language")
    assert menu["text"] == "Chọn ngôn ngữ:"
    buttons = [b["callback_data"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["lang:vi", "lang:en"]
    answer = await bot_env.press(uid, menu, "lang:en")
    assert answer["text"] == "Switched to English."
    edited = await bot_env.world.wait_for_bot_message(
        uid, lambda m: m["message_id"] == menu["message_id"] and m["text"] == "Switched to English."
    )
    assert edited.get("reply_markup") is None
    # Telegram still says "vi", the stored choice wins from now on.
    reply = await bot_env.ask(uid, "/start")
    assert reply["text"].startswith("Hello Hoa!")
    async with bot_env.app.session_factory() as session:
        user = await session.get(TelegramUser, uid)
    assert user is not None and user.language == "en"


async def test_forged_language_is_refused(bot_env: BotEnv) -> None:
    uid = bot_env.user(1007, "Nam", "vi")
    menu = await bot_env.ask(uid, "/language")
    answer = await bot_env.press(uid, menu, "lang:fr", strict=False)
    assert answer["text"] == "Ngôn ngữ này chưa được hỗ trợ."
    assert answer["show_alert"] is True
    async with bot_env.app.session_factory() as session:
        user = await session.get(TelegramUser, uid)
    assert user is not None and user.language is None


async def test_menus_registered_in_both_languages(bot_env: BotEnv) -> None:
    uid = bot_env.user(1008, "An", "vi")
    await bot_env.ask(uid, "/start")  # the bot is surely started by now
    vi = bot_env.world.commands({"type": "default"}, "vi")
    en = bot_env.world.commands({"type": "default"}, "en")
    assert [c["command"] for c in vi] == ["start", "help", "language"]
    assert [c["command"] for c in en] == ["start", "help", "language"]
    assert vi[2]["description"] == "Đổi ngôn ngữ"
    assert en[2]["description"] == "Change language"


async def test_asks_only_for_used_update_types(bot_env: BotEnv) -> None:
    uid = bot_env.user(1009, "Bình", "vi")
    await bot_env.ask(uid, "/start")
    asked = set(bot_env.world.allowed_updates or [])
    assert asked == set(bot_env.app.dp.resolve_used_update_types())
    assert "message" in asked and "callback_query" in asked
    assert "chat_member" not in asked


async def test_handler_exception_gets_a_reference(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    boom = Router(name="boom")

    @boom.message(Command("boom"))
    async def cmd_boom(message: Message) -> None:
        raise RuntimeError("kaboom")

    caplog.set_level(logging.INFO)
    async with running_bot(database_url, extra_routers=[boom]) as env:
        uid = env.user(1010, "Tuấn", "en")
        reply = await env.ask(uid, "/boom")
        match = re.search(r"Error reference: ([0-9A-F]{8})", reply["text"])
        assert match, reply["text"]
        ref = match.group(1)
        failures = [r for r in caplog.records if getattr(r, "error_ref", None) == ref]
        assert failures and failures[0].exc_info is not None
        assert "kaboom" in "".join(logging.Formatter().formatException(failures[0].exc_info))
        # The bot goes on.
        again = await env.ask(uid, "/start")
        assert again["text"].startswith("Hello")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.updates"]
    assert any(".cmd_start outcome=ok" in line and "user=1010" in line for line in lines)
    assert any("outcome=error" in line or "cmd_boom" in line for line in lines)


async def test_one_log_line_per_update(bot_env: BotEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.updates")
    uid = bot_env.user(1011, "Vân", "vi")
    await bot_env.ask(uid, "/help")
    await bot_env.ask(uid, "/start")
    lines: list[logging.LogRecord] = []
    for _ in range(200):  # the line is written just after the reply went out
        lines = [r for r in caplog.records if r.name == "bot.updates"]
        if len(lines) >= 2:
            break
        await asyncio.sleep(0.01)
    assert len(lines) == 2
    assert lines[0].handler == "handlers.common.cmd_help"  # type: ignore[attr-defined]
    assert lines[0].user_id == uid  # type: ignore[attr-defined]
