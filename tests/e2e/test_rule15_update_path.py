"""Rule 15 (issue 20): a returning person's /start costs one database statement.

The update path reads the account, the conversation state and what the greeting and the menu
need in one SELECT; a returning secretary's /start loaded the whole actor besides (four more
statements), which made the update path a third slower. Counted on the engine while the bot
handles the update (`answering` is set only there), so the bot's jobs running beside it do not
count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bot.outbox.direct import answering
from tests import orgdata as o
from tests.e2e.harness import BotEnv


@contextmanager
def _statements(env: BotEnv) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if answering.get():
            seen.append(statement.split(None, 1)[0].upper())

    engine = env.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_rule15_a_returning_secretary_s_start_is_one_select(bot_env: BotEnv) -> None:
    await o.build_org(bot_env.app.engine)
    uid = bot_env.user(o.SEC1, "Bí", "vi")
    first = await bot_env.ask(uid, "/start")
    assert first["text"].startswith("Xin chào Nguyễn Văn Bí!")
    with _statements(bot_env) as seen:
        again = await bot_env.ask(uid, "/start")
    assert again["text"] == first["text"]
    assert seen == ["SELECT"]


async def test_rule15_a_stranger_s_start_still_says_how_to_join(bot_env: BotEnv) -> None:
    await o.build_org(bot_env.app.engine)
    uid = bot_env.user(o.STRANGER, "Khách", "vi")
    await bot_env.ask(uid, "/start")
    with _statements(bot_env) as seen:
        reply = await bot_env.ask(uid, "/start")
    assert reply["text"].startswith("Xin chào Khách!")
    assert seen == ["SELECT"]
