"""Saying things: the one text idiom of handlers, and "answer or edit"."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n

from bot.i18n import CatalogI18n
from bot.services.vn_calendar import format_datetime
from bot.session import current_session

# Handler flags of a read-only handler: no write lock, no commit before its reply (see
# `bot.middlewares.WriteIntent`; a flagged handler that writes fails loudly).
READS: dict[str, Any] = {"db": "read"}


def t(key: str, /, **params: Any) -> str:
    """The catalog text of `key` in the current person's language, placeholders filled.

    Services render with `i18n.t(key, locale, **params)` (they name the recipient's language);
    handlers speak to the person in front of them, whose language the middleware has set.
    """
    # CatalogI18n registers itself on the base class's context var (see bot.i18n).
    i18n = I18n.get_current(no_error=False)
    assert isinstance(i18n, CatalogI18n)
    return i18n.t(key, None, **params)


def when(moment: datetime, tz: tzinfo) -> str:
    """'Thứ Năm, 03/12/2026 lúc 19:30' in the person's language and the bot's zone."""
    return format_datetime(moment, locale(), tz)


def locale() -> str:
    """The current person's language (for services that render for them)."""
    return I18n.get_current(no_error=False).current_locale


async def show(
    target: Message | CallbackQuery,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    toast: str | None = None,
) -> None:
    """A screen: edit the pressed message in place, or answer a typed one.

    A press on a message the bot can no longer edit (too old, deleted) gets the screen as a
    new message, so a step is never lost. `toast` is shown briefly under a pressed button.
    """
    if isinstance(target, CallbackQuery):
        await target.answer(toast)
        message = target.message
        if isinstance(message, Message):
            await message.edit_text(text, reply_markup=markup)
        elif target.bot is not None:
            await target.bot.send_message(target.from_user.id, text, reply_markup=markup)
        return
    await target.answer(text, reply_markup=markup)


async def advance(
    state: FSMContext, step: State, data: Mapping[str, Any], screen: Awaitable[Any]
) -> None:
    """Move the conversation to `step` with `data`, then show its screen.

    The new state is stored first, so it is committed before the screen reaches the person
    (a fast tap on the new screen finds its step). If the screen cannot be shown (a 5xx, a
    dropped connection), the conversation goes back to where it was and that is committed too,
    so the buttons the person still sees keep working.
    """
    before_state, before_data = await state.get_state(), await state.get_data()
    try:
        await state.set_data(data)
        await state.set_state(step)
    except BaseException:
        if inspect.iscoroutine(screen):
            screen.close()
        raise
    try:
        await screen
    except Exception:
        await state.set_data(before_data)
        await state.set_state(before_state)
        session = current_session.get()
        if session is not None and session.in_transaction():
            await session.commit()  # the update itself is rolled back on the way out
        raise
