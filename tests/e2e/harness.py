"""End-to-end harness: the production bot (real Dispatcher, real aiogram Bot) polling the
sandbox Bot API over loopback HTTP, on a fresh database of each backend.

Tests act as people through `env.world` (the sandbox's control API for this bot) and read what
the bot sent. Nothing of aiogram is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Router

from bot.app import App, create_app, poll
from bot.settings import Settings, load_settings
from sandbox.testing import run_sandbox

TOKEN = "123456:TEST"
Msg = dict[str, Any]


@dataclass
class BotEnv:
    """A running bot and the sandbox it talks to."""

    app: App
    world: Any
    base_url: str
    settings: Settings
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def user(
        self, user_id: int, first_name: str = "Người dùng", language_code: str = "vi", **kw: Any
    ) -> int:
        if user_id not in self.world.users:
            self.world.add_user(user_id, first_name, language_code, **kw)
        return user_id

    def last_bot_id(self, chat_id: int) -> int:
        msgs = self.world.bot_messages(chat_id)
        return msgs[-1]["message_id"] if msgs else 0

    async def ask(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        predicate: Callable[[Msg], bool] | None = None,
        wait: float = 5.0,
    ) -> Msg:
        """Send `text` as the user and return the bot's next message in that chat."""
        chat = user_id if chat_id is None else chat_id
        after = self.last_bot_id(chat)
        self.world.send_text(user_id, text, chat_id)
        return await self.world.wait_for_bot_message(
            chat, predicate=predicate, timeout=wait, after=after
        )

    async def press(
        self, user_id: int, message: Msg, data: str | None = None, *, strict: bool = True
    ) -> dict[str, Any]:
        """Tap a button on `message` and return what the bot answered to the callback."""
        qid = self.world.press_button(
            user_id, message["message_id"], message["chat"]["id"], data, strict=strict
        )
        return await self.world.wait_for_callback_answer(qid)

    async def settle(self) -> None:
        """Every update fetched and fully handled (its transaction committed)."""
        await self.world.wait_until_idle()
        in_flight = self.app.dp["in_flight"]
        if not await in_flight.wait_idle(10):
            raise AssertionError(f"{in_flight.count} updates still in hand")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self.app.dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 35)
        self._task = None


def make_settings(database_url: str, base_url: str, **extra: str) -> Settings:
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": database_url,
        "TELEGRAM_API_URL": base_url,
        "LOG_LEVEL": "INFO",
        **extra,
    }
    return load_settings(env)


@contextlib.asynccontextmanager
async def running_bot(
    database_url: str,
    *,
    extra_routers: Iterable[Router] = (),
    settings_env: dict[str, str] | None = None,
    sandbox: Any = None,
) -> AsyncIterator[BotEnv]:
    """Start the production app against a sandbox (a new one unless given)."""
    async with contextlib.AsyncExitStack() as stack:
        if sandbox is None:
            sandbox = await stack.enter_async_context(run_sandbox(port=0))
        world = sandbox.world(TOKEN)
        settings = make_settings(database_url, sandbox.base_url, **(settings_env or {}))
        app = create_app(settings, extra_routers=extra_routers)
        env = BotEnv(app=app, world=world, base_url=sandbox.base_url, settings=settings)
        env._task = asyncio.create_task(poll(app, handle_signals=False))
        try:
            yield env
        finally:
            await env.stop()
