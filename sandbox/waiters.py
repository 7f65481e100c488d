"""Change notification and the control API's ``wait_for*`` helpers.

Every component shares one :class:`Signal`: a state change wakes long polls, the webhook
worker and test waiters at once, so nothing ever polls with sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .updates import UpdateQueue
    from .views import Views

T = TypeVar("T")


class Signal:
    """One event per state version, plus the shutdown switch that ends held requests."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.released = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter (long polls, wait_for_* helpers, webhook worker)."""
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    def release(self) -> None:
        """From now on injected timeouts and long polls end at once (shutdown)."""
        self.released.set()

    async def hold(self, delay: float) -> None:
        """Sleep for an injected timeout, cut short when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), delay)

    async def wait_for(self, check: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Await until ``check()`` returns something truthy and return it.

        Re-checked on every state change (no polling sleeps); TimeoutError otherwise.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self.changed
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


class Waiters:
    """The control API's waits, each a condition over what the views show."""

    def __init__(self, signal: Signal, views: Views, updates: UpdateQueue) -> None:
        self.signal = signal
        self.views = views
        self.updates = updates

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after: int | None = None,
    ) -> dict[str, Any]:
        """First bot message in the chat with id > ``after`` matching ``predicate``.

        Edits count: a message that starts matching after editMessageText resolves it.
        """

        def check() -> dict[str, Any] | None:
            for msg in self.views.bot_messages(chat_id):
                if after is not None and msg["message_id"] <= after:
                    continue
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.signal.wait_for(check, timeout)

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        return await self.signal.wait_for(lambda: self.views.callback_answer(query_id), timeout)

    async def wait_until_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (polled past) every pending update."""
        await self.signal.wait_for(lambda: True if not self.updates.pending else None, timeout)
