"""Saying things: the one text idiom of handlers, and "answer or edit"."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Awaitable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n

from bot.i18n import CatalogI18n
from bot.services.vn_calendar import format_date, format_datetime
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


def day_text(day: date) -> str:
    """A day in the person's language, as the house writes it ('Thứ Năm, 10/12/2026')."""
    return format_date(day, locale())


def locale() -> str:
    """The current person's language (for services that render for them)."""
    return I18n.get_current(no_error=False).current_locale


async def show(
    target: Message | CallbackQuery,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    toast: str | None = None,
) -> Message | None:
    """A screen: edit the pressed message in place, or answer a typed one; the message shown.

    A press on a message the bot can no longer edit (too old, deleted) gets the screen as a
    new message, so a step is never lost. `toast` is shown briefly under a pressed button.
    """
    if isinstance(target, CallbackQuery):
        await target.answer(toast)
        message = target.message
        if isinstance(message, Message):
            edited = await message.edit_text(text, reply_markup=markup)
            return edited if isinstance(edited, Message) else message
        if target.bot is not None:
            return await target.bot.send_message(target.from_user.id, text, reply_markup=markup)
        return None
    return await target.answer(text, reply_markup=markup)


def _screens(state: FSMContext) -> FSMContext:
    """Where a conversation keeps the id of the screen it showed last: a row of its own, so
    writing it after the screen never races the conversation's own data (a fast next step)."""
    return FSMContext(storage=state.storage, key=dataclasses.replace(state.key, destiny="screen"))


async def last_screen(state: FSMContext) -> int | None:
    found = (await _screens(state).get_data()).get("id")
    return found if isinstance(found, int) else None


async def drop_keyboard(message: Message | None, message_id: int | None) -> None:
    """Take the buttons off an earlier screen of the conversation, so nobody presses a step
    that is over (a message too old or already bare is left as it is)."""
    if message is None or message.bot is None or message_id is None:
        return
    if message_id == message.message_id:
        return
    with contextlib.suppress(TelegramAPIError):
        await message.bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message_id, reply_markup=None
        )


async def leave(state: FSMContext, message: Message | None) -> None:
    """End the conversation and take the buttons off its last screen."""
    screen = await last_screen(state)
    await state.clear()
    await drop_keyboard(message, screen)


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
    # Inside a running conversation, the screen its previous step showed.
    previous = await last_screen(state) if before_state is not None else None
    try:
        await state.set_data(data)
        await state.set_state(step)
    except BaseException:
        if inspect.iscoroutine(screen):
            screen.close()
        raise
    try:
        shown = await screen
    except Exception:
        await state.set_data(before_data)
        await state.set_state(before_state)
        session = current_session.get()
        if session is not None and session.in_transaction():
            await session.commit()  # the update itself is rolled back on the way out
        raise
    if isinstance(shown, Message) and shown.message_id != previous:
        # The step moved on in a new message (an answer typed): the earlier screen's buttons
        # go, so a press on them never meets "expired" while the conversation is running.
        await drop_keyboard(shown, previous)
        await _screens(state).set_data({"id": shown.message_id})
