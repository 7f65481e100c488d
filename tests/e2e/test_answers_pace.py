"""Answers to people go at once and are never turned into an apology by a flood limit: the
sandbox's limits on and strict (1 a second per chat after a burst of 3, 30 a second overall)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.i18n import create_i18n
from tests.e2e.harness import PRODUCTION_PACE, BotEnv, running_bot

APOLOGY = create_i18n("vi").t("error.apology", "vi", ref="").split(":")[0]


@pytest.fixture
async def bot_env(database_url: str) -> AsyncIterator[BotEnv]:
    """The bot at Telegram's own pace: the limits these tests hold it to."""
    async with running_bot(database_url, settings_env=PRODUCTION_PACE) as env:
        yield env


def _texts(env: BotEnv, chat: int) -> list[str]:
    return [m.get("text", "") for m in env.world.bot_messages(chat)]


async def test_an_answer_refused_with_429_comes_after_retry_after_not_an_apology(
    bot_env: BotEnv,
) -> None:
    env = bot_env
    env.world.set_flood(True)
    uid = env.user(3101, "Lan", "vi", started=True)
    env.world.add_fault("retry_after", method="sendMessage", chat_id=uid, count=1, retry_after=1)
    started = time.monotonic()
    reply = await env.ask(uid, "/start", wait=10)
    assert reply["text"].startswith("Xin chào Lan!")
    assert time.monotonic() - started >= 1.0  # not before the retry_after ran out
    await env.settle()
    assert not any(APOLOGY in t for t in _texts(env, uid))
    assert env.world.rate_limit_log()["violations"] == []


async def test_quick_messages_under_the_chat_limit_all_get_their_answers(bot_env: BotEnv) -> None:
    """Six /help in a row: the chat's burst, then one a second; every one answered, no 429."""
    env = bot_env
    env.world.set_flood(True)
    uid = env.user(3102, "Minh", "vi", started=True)
    for _ in range(6):
        env.world.send_text(uid, "/help")
    await env.world.wait_for(lambda: len(env.world.bot_messages(uid)) >= 6 or None, timeout=20)
    await env.settle()
    texts = _texts(env, uid)
    assert len(texts) == 6 and all("/language" in t for t in texts)
    limits = env.world.rate_limit_log()
    assert limits["issued"] == [] and limits["violations"] == []
