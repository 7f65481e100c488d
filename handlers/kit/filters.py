"""Filters that run in the event loop.

aiogram runs a synchronous filter (a bare `F.…` magic filter included) through
`asyncio.to_thread`: a thread hop on every check of every handler the update passes, for a
comparison that takes a microsecond. On the /start path that was most of the routing time. The
kit's routers and handlers use these async wrappers instead; a test walks the production
dispatcher and fails on any filter or handler that would run in a thread.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, TelegramObject
from magic_filter import MagicFilter


class Magic(Filter):
    """`Magic(F.text & ~F.text.startswith("/"))`: the magic filter, checked in the loop."""

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)


class ChatIs(Filter):
    """The chat of a message, a pressed button's message or a membership change is one of
    `types` (a press without a message, from inline mode, is in no chat)."""

    def __init__(self, *types: str) -> None:
        self.types = frozenset(types)

    async def __call__(self, event: TelegramObject) -> bool:
        if isinstance(event, Message | ChatMemberUpdated):
            return event.chat.type in self.types
        if isinstance(event, CallbackQuery):
            return event.message is not None and event.message.chat.type in self.types
        return False
