"""The button formats: each feature's callback data (`bot.buttons.<feature>`) and inline
keyboards in the form the outbox stores them.

The one package below the handlers that imports aiogram (its `CallbackData`): services put
buttons on the notices they queue and handlers take the presses, so both need one definition
of each format, and services stay free of aiogram themselves (checked by `lint-imports`).
Nothing here reads the database or decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Button = dict[str, str]


def button(text: str, callback_data: str) -> Button:
    """A callback button as the Bot API takes it (`InlineKeyboardButton`, dumped)."""
    return {"text": text, "callback_data": callback_data}


def markup(rows: Iterable[Iterable[Button]]) -> dict[str, Any]:
    """An inline keyboard as the outbox stores it (`InlineKeyboardMarkup`, dumped)."""
    return {"inline_keyboard": [list(row) for row in rows]}
