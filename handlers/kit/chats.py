"""Routers that declare the chats they work in, for typed messages and pressed buttons alike.

A filter on `router.message` alone leaves `router.callback_query` open: a forged callback in a
group then runs a private-only handler there (it wrote member lists and link codes into other
branches' groups). `feature_router` sets both, so a handler cannot forget the second one.
"""

from __future__ import annotations

import enum

from aiogram import Router

from handlers.kit.filters import ChatIs

PRIVATE = "private"
GROUP_TYPES = frozenset({"group", "supergroup"})


class Chats(enum.Enum):
    PRIVATE = "private"  # the person's own chat with the bot
    GROUPS = "groups"  # branch / unit / committee groups
    ANY = "any"  # both; each handler then works the same in either


def feature_router(name: str, chats: Chats) -> Router:
    """A router whose messages and callbacks come only from `chats`."""
    router = Router(name=name)
    if chats is Chats.PRIVATE:
        router.message.filter(ChatIs(PRIVATE))
        router.callback_query.filter(ChatIs(PRIVATE))
    elif chats is Chats.GROUPS:
        router.message.filter(ChatIs(*GROUP_TYPES))
        router.callback_query.filter(ChatIs(*GROUP_TYPES))
    else:
        # Inline-mode buttons (no message) are not ours anywhere.
        router.callback_query.filter(ChatIs(PRIVATE, *GROUP_TYPES))
    return router
