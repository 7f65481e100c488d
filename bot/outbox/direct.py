"""Direct calls: answers to people at once, live edits in the sender's pace.

Answers to people (a reply to /start, an edited screen, anything sent while an update is in
hand) and the jobs' live edits go straight to Telegram, not through the outbox. Telegram's
30-a-second limit is for bulk notifications, what the bot sends on its own: an answer to a
person's own update is not bulk, so it never waits for a place in that pace while the sender
is idle (before, every answer did: the update path ran at 30 a second, a twentieth of aiogram's
own speed). It is still counted in the sender's window (`GlobalPacer.take(direct=True)`), so a
broadcast that starts meanwhile yields to the answers. While the sender keeps the window full,
an answer takes the next free place (the sender leaves it that place, see
`GlobalPacer.urgent`; about 1/30 s at worst), or the server would refuse it. Live edits, which
the bot makes on its own, always take their place in the pace that way.

Every direct call keeps its chat's limits, in the sender's own per-chat state
(`ChatScheduler`), or this middleware's own without a sender in this process: a person tapping
fast through a wizard, or the progress message edited while the outbox writes to the same chat,
gets no 429. If Telegram answers an answer with 429 all the same, it waits `retry_after` and
goes again, up to `ANSWER_RETRY_LIMIT` seconds in all: the person gets the answer late rather
than an apology.

The sender itself uses its own `Bot` (without this middleware), so its requests are counted
once, by the sender.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.outbox.limiter import ChatScheduler, GlobalPacer

log = logging.getLogger("bot.outbox.direct")

# Longest an answer waits in all for 429s before the error is the handler's: Telegram's
# retry_after for a private chat is a second or two; a longer one means a flood the person
# cannot fix by waiting, and an update in hand holds one of the few places for updates.
ANSWER_RETRY_LIMIT = 15.0

# True while an update is in hand (`bot.middlewares.InFlight` sets it): what the bot sends
# then answers that update.
answering: ContextVar[bool] = ContextVar("answering", default=False)

Limits = Callable[[], tuple[GlobalPacer, ChatScheduler] | None]


def counted(method_name: str) -> bool:
    """The calls Telegram counts against the broadcast limit: what sends or edits a message
    (a chat action, an answered button, a pin are not)."""
    low = method_name.lower()
    return low != "sendchataction" and low.startswith(
        ("send", "copymessage", "forwardmessage", "editmessage")
    )


class SharedPace(BaseRequestMiddleware):
    """Bot API request middleware: an answer goes at once (the next free place while a
    broadcast fills the window), a live edit takes a place in the sender's pace; both keep
    their chat's limits (1 a second with a short burst, 20 a minute in a group), and an
    answer refused with 429 goes again after `retry_after`."""

    def __init__(
        self,
        limits: Limits,
        *,
        retry_limit: float = ANSWER_RETRY_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limits = limits  # the running sender's (None while none runs)
        self.retry_limit = retry_limit
        self.clock = clock
        self.sleep = sleep
        # Each chat's limits when no sender runs in this process.
        self.own_chats = ChatScheduler()
        self._busy: dict[int, asyncio.Future[None]] = {}  # chat -> its call in flight

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not counted(method.__api_method__):
            return await make_request(bot, method)
        answer = answering.get()
        chat_id = getattr(method, "chat_id", None)
        chat = chat_id if isinstance(chat_id, int) else None
        waited = 0.0
        while True:
            try:
                return await self._once(make_request, bot, method, chat, answer)
            except TelegramRetryAfter as err:
                if not answer or waited + err.retry_after > self.retry_limit:
                    raise
                waited += err.retry_after
                log.info("answer to chat %s refused with 429, again in %s s", chat, err.retry_after)
                # A global 429 blocks every chat: wait it out here; a chat's is kept in the
                # chat's state as well (`direct_refused`).
                await self.sleep(err.retry_after)

    async def _once(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat: int | None,
        answer: bool,
    ) -> Response[TelegramType]:
        if chat is None:
            return await self._paced(make_request, bot, method, None, answer)
        # One call at a time per chat: the next leaves after the last one's answer, so its
        # limit holds however late a request reaches the server (`direct_done`).
        while (busy := self._busy.get(chat)) is not None:
            await asyncio.shield(busy)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._busy[chat] = mine
        try:
            return await self._paced(make_request, bot, method, chat, answer)
        finally:
            del self._busy[chat]
            mine.set_result(None)

    async def _paced(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat: int | None,
        answer: bool,
    ) -> Response[TelegramType]:
        limits = self.limits()
        pacer, chats = limits if limits is not None else (None, self.own_chats)
        clock = self.clock
        while True:
            if chat is not None:
                while (wait := chats.direct_wait(chat, clock())) > 0:
                    await self.sleep(wait)
            if pacer is not None:
                wait_for = pacer.answer_wait if answer else pacer.wait_urgent
                if wait_for(clock()) > 0:
                    pacer.urgent += 1
                    try:
                        while (wait := wait_for(clock())) > 0:
                            await self.sleep(wait)
                    finally:
                        pacer.urgent -= 1
            # The sender may have written to the chat meanwhile: look again.
            if chat is None or chats.direct_wait(chat, clock()) <= 0:
                break
        departed = clock()
        if chat is not None:
            chats.direct_take(chat, departed)
        if pacer is not None:
            pacer.take(departed, direct=True)
        refused = False
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as err:
            refused = True  # refused before the server counted it, as the sender assumes
            if chat is not None:
                chats.direct_refused(chat, clock(), err.retry_after)
            raise
        except TelegramServerError:
            refused = True
            raise
        finally:
            if chat is not None:
                chats.direct_done(chat, clock(), departed)
            if pacer is not None:
                pacer.finish(clock(), counted=not refused, direct=True)
