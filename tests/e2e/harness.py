"""End-to-end harness: the production bot (real Dispatcher, real aiogram Bot) polling the
sandbox Bot API over loopback HTTP, on a fresh database of each backend.

Tests act as people through `env.world` (the sandbox's control API for this bot) and read what
the bot sent. Nothing of aiogram is mocked.

The bot runs at the test's fixed instant (`tests.conftest.fixed_clock`, or `at=`), never the day the
suite runs. `ask` and `press_for` wait for the answer to *their* update: the harness tags every
update the dispatcher handles and notes which message each direct call of the bot sent or edited
while handling it, so a reminder or plan notice that arrives first is never taken for the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import time_machine
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Message, Update

from bot.app import App, create_app, poll
from bot.settings import Settings, load_settings
from sandbox.testing import run_sandbox

TOKEN = "123456:TEST"
Msg = dict[str, Any]
Cause = tuple[str, int | str, int]  # ("m", chat id, message id) or ("q", query id, 0)

_CAUSE: ContextVar[Cause | None] = ContextVar("e2e_cause", default=None)


def _cause_of(update: Update) -> Cause | None:
    msg = update.message or update.edited_message
    if msg is not None:
        return ("m", msg.chat.id, msg.message_id)
    if update.callback_query is not None:
        return ("q", update.callback_query.id, 0)
    return None


def _tag_updates(dp: Dispatcher) -> None:
    """Wrap `feed_update` (outside every middleware, the errors handler's included): the update
    being handled, for the request log below."""
    feed = dp.feed_update

    async def feed_tagged(bot: Bot, update: Update, **kwargs: Any) -> Any:
        token = _CAUSE.set(_cause_of(update))
        try:
            return await feed(bot, update, **kwargs)
        finally:
            _CAUSE.reset(token)

    dp.feed_update = feed_tagged  # type: ignore[method-assign]


class _LogCauses(BaseRequestMiddleware):
    """Request middleware: which message each direct call sent or edited, and for which update."""

    def __init__(self, caused: dict[tuple[int, int], Cause], notify: Callable[[], None]) -> None:
        self.caused = caused
        self.notify = notify

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        cause = _CAUSE.get()
        if cause is not None:
            # aiogram hands the middleware chain the method's result, not the envelope.
            result_of: Any = getattr(response, "result", response)
            results = result_of if isinstance(result_of, list) else [result_of]
            for result in results:
                if isinstance(result, Message):
                    self.caused[(result.chat.id, result.message_id)] = cause
            self.notify()  # a waiter that saw the message before its cause looks again
        return response


@dataclass
class BotEnv:
    """A running bot and the sandbox it talks to."""

    app: App
    world: Any
    base_url: str
    settings: Settings
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    caused: dict[tuple[int, int], Cause] = field(default_factory=dict, repr=False)

    def answers(self, cause: Cause) -> Callable[[Msg], bool]:
        """Matches a bot message sent or edited while the bot handled `cause`."""
        return lambda m: self.caused.get((m["chat"]["id"], m["message_id"])) == cause

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
        wait: float = 20.0,
        *,
        direct: bool = True,
    ) -> Msg:
        """Send `text` as the user and return the bot's first new message in that chat that
        answers it (sent while the bot handled this very message) and matches `predicate`.

        `direct=False` for an answer the bot queues through the outbox (a use case's notice):
        then any new message in the chat matching `predicate` counts.
        """
        chat = user_id if chat_id is None else chat_id
        after = self.last_bot_id(chat)
        sent = self.world.send_text(user_id, text, chat_id)["message"]
        cause: Cause = ("m", sent["chat"]["id"], sent["message_id"])
        mine = self.answers(cause)

        def match(m: Msg) -> bool:
            return (not direct or mine(m)) and (predicate is None or predicate(m))

        return await self.world.wait_for_bot_message(
            chat, predicate=match, timeout=wait, after=after
        )

    async def silence(self, chat_id: int, after: int, settle: bool = True) -> None:
        """Assert the bot sent nothing new to the chat (once everything in hand is handled)."""
        if settle:
            await self.settle()
        new = [m for m in self.world.bot_messages(chat_id) if m["message_id"] > after]
        assert not new, f"expected silence in {chat_id}, got {[m.get('text') for m in new]}"

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
        if not await in_flight.wait_idle(30):
            raise AssertionError(f"{in_flight.count} updates still in hand")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self.app.dp.stop_polling()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 35)
        finally:
            self._task = None
            # A shutdown cut short (the wait above, on a loaded machine) must not leave the
            # bots' HTTP sessions for the garbage collector to report inside a later test
            # ("Unclosed client session", seen once under `make test-dates`). Closing is
            # idempotent.
            for component in self.app.components:
                if getattr(component, "name", "") == "outbox-sender-session":
                    await component.stop()
            await self.app.bot.session.close()


# Telegram's own limits, which production keeps (1 a second per chat, 20 a minute per group).
# Worlds that test pacing (the sandbox's flood limits on) run with them.
PRODUCTION_PACE = {"SEND_PER_CHAT_PER_SEC": "1", "SEND_PER_GROUP_PER_MIN": "20"}
# Everywhere else the bot paces far above them: a story that tells a group five things should
# not wait 15 s of Telegram's group limit for a sandbox that enforces none.
TEST_PACE = {"SEND_PER_CHAT_PER_SEC": "50", "SEND_PER_GROUP_PER_MIN": "3000"}


def make_settings(database_url: str, base_url: str, **extra: str) -> Settings:
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": database_url,
        "TELEGRAM_API_URL": base_url,
        "LOG_LEVEL": "INFO",
        **TEST_PACE,
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
    at: datetime | str | None = None,
) -> AsyncIterator[BotEnv]:
    """Start the production app against a sandbox (a new one unless given), at the instant `at`
    if given (ticking), otherwise at the test's fixed instant."""
    async with contextlib.AsyncExitStack() as stack:
        if at is not None:
            stack.enter_context(time_machine.travel(at, tick=True))
        elif not time_machine.escape_hatch.is_travelling():
            raise AssertionError("the bot would run on the real wall clock: travel first")
        if sandbox is None:
            sandbox = await stack.enter_async_context(run_sandbox(port=0))
        world = sandbox.world(TOKEN)
        settings = make_settings(database_url, sandbox.base_url, **(settings_env or {}))
        app = create_app(settings, extra_routers=extra_routers)
        env = BotEnv(app=app, world=world, base_url=sandbox.base_url, settings=settings)
        _tag_updates(app.dp)
        app.bot.session.middleware(_LogCauses(env.caused, world.signal.notify))
        env._task = asyncio.create_task(poll(app, handle_signals=False))
        try:
            yield env
        finally:
            await env.stop()
