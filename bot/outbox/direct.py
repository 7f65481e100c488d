"""Direct calls share the global limit with the outbox, ahead of it.

Answers to people (a reply to /start, an edited screen) and the jobs' live edits go straight to
Telegram, not through the outbox, and Telegram counts them against the same 30 a second. While
a broadcast keeps the sender at that limit, a direct call on top of it would be answered 429:
the person would get nothing. So each direct call that Telegram counts takes its place in the
sender's own pace (`GlobalPacer`): it waits for the next free place (about 1/30 s at worst; the
sender leaves it that place, see `GlobalPacer.urgent`), is counted from when it leaves until a
second after its answer like the sender's own requests, and a broadcast simply ends a little
later. It also keeps its chat's limits, in the sender's own per-chat state (`ChatScheduler`):
a person tapping fast through a wizard, or the progress message edited while the outbox
writes to the same chat, gets no 429 either. Without a sender in this process
(`RUN_SENDER=false`) nothing changes.

The sender itself uses its own `Bot` (without this middleware), so its requests are counted
once, by the sender.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.outbox.limiter import ChatScheduler, GlobalPacer


def counted(method_name: str) -> bool:
    """The calls Telegram counts against the broadcast limit: what sends or edits a message
    (a chat action, an answered button, a pin are not)."""
    low = method_name.lower()
    return low != "sendchataction" and low.startswith(
        ("send", "copymessage", "forwardmessage", "editmessage")
    )


class SharedPace(BaseRequestMiddleware):
    """Bot API request middleware: a counted direct call takes a place in the sender's pace,
    and keeps its chat's limits (1 a second with a short burst, 20 a minute in a group)."""

    def __init__(self, limits: Callable[[], tuple[GlobalPacer, ChatScheduler] | None]) -> None:
        self.limits = limits  # the running sender's (None while none runs)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        limits = self.limits()
        if limits is None or not counted(method.__api_method__):
            return await make_request(bot, method)
        pacer, chats = limits
        chat_id = getattr(method, "chat_id", None)
        chat = chat_id if isinstance(chat_id, int) else None
        if chat is not None:
            while (wait := chats.direct_wait(chat, time.monotonic())) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            chats.direct_take(chat, time.monotonic())
        pacer.urgent += 1
        try:
            while (wait := pacer.wait_urgent(time.monotonic())) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
        finally:
            pacer.urgent -= 1
        pacer.take(time.monotonic())
        refused = False
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as err:
            refused = True  # refused before the server counted it, as the sender assumes
            if chat is not None:
                chats.direct_refused(chat, time.monotonic(), err.retry_after)
            raise
        except TelegramServerError:
            refused = True
            raise
        finally:
            pacer.finish(time.monotonic(), counted=not refused)
