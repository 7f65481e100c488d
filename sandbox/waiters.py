"""The control API's ``wait_for*`` helpers, each a condition over what the views show,
re-checked on every state change (:class:`~sandbox.signal.Signal`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .signal import WAIT, Signal
from .updates import UpdateQueue
from .views import Views


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
        timeout: float = WAIT,  # noqa: ASYNC109
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

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        return await self.signal.wait_for(lambda: self.views.callback_answer(query_id), timeout)

    async def wait_until_idle(self, timeout: float = WAIT) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (polled past) every pending update."""
        await self.signal.wait_for(lambda: True if not self.updates.pending else None, timeout)
