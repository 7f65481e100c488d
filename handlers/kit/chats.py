"""Routers that declare the chats they work in, for typed messages and pressed buttons alike.

A filter on `router.message` alone leaves `router.callback_query` open: a forged callback in a
group then runs a private-only handler there (it wrote member lists and link codes into other
branches' groups). `feature_router` sets both, so a handler cannot forget the second one.
"""

from __future__ import annotations

import enum

from aiogram import F, Router

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
        router.message.filter(F.chat.type == PRIVATE)
        router.callback_query.filter(F.message.chat.type == PRIVATE)
    elif chats is Chats.GROUPS:
        router.message.filter(F.chat.type.in_(GROUP_TYPES))
        router.callback_query.filter(F.message.chat.type.in_(GROUP_TYPES))
    else:
        # Inline-mode buttons (no message) are not ours anywhere.
        router.callback_query.filter(F.message.chat.type.in_(GROUP_TYPES | {PRIVATE}))
    return router
