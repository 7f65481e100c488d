"""One cheap check in front of each feature router, derived from its own handlers.

aiogram offers an update to every router in turn, and each router checks every handler's
filters. When each message handler of a router answers one of its commands or works in one of
its conversation states (and each button handler has its CallbackData prefix), a message that is
none of those cannot match there: the gate lets the update skip the router with one check. The
gate is computed from the handlers themselves, so it cannot drift from them; a router with any
other kind of handler (a contact, a photo outside a wizard) gets no gate.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message, TelegramObject

_gated: weakref.WeakSet[Router] = weakref.WeakSet()


def _message_keys(handler: HandlerObject) -> tuple[set[str], set[str]] | None:
    """The commands and states one message handler is keyed by, or None if it is not."""
    commands: set[str] = set()
    states: set[str] = set()
    for f in handler.filters or ():
        cb = f.callback
        if isinstance(cb, Command):
            if (
                cb.prefix != "/"
                or cb.ignore_case
                or not all(isinstance(c, str) for c in cb.commands)
            ):
                return None
            commands |= {c for c in cb.commands if isinstance(c, str)}
        elif isinstance(cb, StateFilter):
            for state in cb.states:
                name = state.state if isinstance(state, State) else state
                if name is None or name == "*" or not isinstance(name, str):
                    return None  # works outside a conversation too, or in any
                states.add(name)
    return (commands, states) if commands or states else None


class MessageGate(Filter):
    def __init__(self, commands: set[str], states: set[str]) -> None:
        self.commands, self.states = frozenset(commands), frozenset(states)

    async def __call__(self, event: TelegramObject, raw_state: str | None = None) -> bool:
        if raw_state is not None and raw_state in self.states:
            return True
        if not isinstance(event, Message):
            return False
        text = event.text or event.caption or ""
        if not text.startswith("/"):
            return False
        name = text[1:].split(maxsplit=1)[0].split("@", 1)[0] if len(text) > 1 else ""
        return name in self.commands


class CallbackGate(Filter):
    def __init__(self, prefixes: set[str]) -> None:
        self.prefixes = frozenset(prefixes)

    async def __call__(self, event: TelegramObject) -> bool:
        if not isinstance(event, CallbackQuery) or event.data is None:
            return False
        return event.data.split(":", 1)[0] in self.prefixes


def _callback_prefixes(handlers: list[HandlerObject]) -> set[str] | None:
    prefixes: set[str] = set()
    for handler in handlers:
        found = [
            f.callback.callback_data.__prefix__
            for f in handler.filters or ()
            if isinstance(f.callback, CallbackQueryFilter)
        ]
        if not found:
            return None
        prefixes.update(found)
    return prefixes


def gate_routers(routers: Iterable[Router]) -> None:
    """Put the derived gate on each router that can have one (once per router)."""
    for router in routers:
        if router in _gated:
            continue
        _gated.add(router)
        handlers = router.message.handlers
        keys: list[Any] = [_message_keys(h) for h in handlers]
        if handlers and all(k is not None for k in keys):
            router.message.filter(
                MessageGate(set().union(*(k[0] for k in keys)), set().union(*(k[1] for k in keys)))
            )
        prefixes = _callback_prefixes(router.callback_query.handlers)
        if router.callback_query.handlers and prefixes:
            router.callback_query.filter(CallbackGate(prefixes))
