"""The last line of defence: any exception gets an apology with a reference the log also has."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import ErrorEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import CatalogI18n, pick_locale
from bot.services.preferences import preferred_locale
from handlers.kit import was_answered

router = Router(name=__name__)
log = logging.getLogger("bot.errors")


@router.errors()
async def on_error(
    event: ErrorEvent,
    bot: Bot,
    i18n: CatalogI18n,
    session_factory: async_sessionmaker[AsyncSession],
    **data: Any,
) -> bool:
    """Log the traceback under a short reference and tell the person that reference."""
    update = event.update
    if isinstance(event.exception, TelegramRetryAfter):
        return await _flood_limited(event, bot, i18n, data)
    ref = secrets.token_hex(4).upper()
    log.error(
        "handler failed ref=%s update_id=%s: %r",
        ref,
        update.update_id,
        event.exception,
        exc_info=event.exception,
        extra={"error_ref": ref, "update_id": update.update_id},
    )
    user = None
    chat_id = None
    if update.message is not None:
        user, chat_id = update.message.from_user, update.message.chat.id
    elif update.callback_query is not None:
        user = update.callback_query.from_user
        msg = update.callback_query.message
        chat_id = msg.chat.id if msg is not None else user.id
    locale = pick_locale(None, user.language_code if user else None, i18n.default_locale)
    if user is not None:
        # Prefer the stored choice; the database itself may be what failed.
        try:
            locale = await preferred_locale(session_factory, user.id, user.language_code, i18n)
        except Exception:  # noqa: BLE001 - best effort only, the apology must still go out
            log.warning("could not read the language for ref=%s", ref, exc_info=True)
    text = i18n.t("error.apology", locale, ref=ref)
    try:
        if update.callback_query is not None and not was_answered(data, update):
            await bot.answer_callback_query(update.callback_query.id, text, show_alert=True)
        elif chat_id is not None and update.callback_query is None:
            await bot.send_message(chat_id, text)
    except Exception:  # noqa: BLE001 - Telegram may refuse; the log already has it
        log.warning("could not deliver the apology ref=%s", ref, exc_info=True)
    return True


async def _flood_limited(
    event: ErrorEvent, bot: Bot, i18n: CatalogI18n, data: dict[str, Any]
) -> bool:
    """Telegram held an answer back longer than `bot.outbox.direct` waits: nothing crashed,
    and a message would meet the same limit, so no apology with an error reference; a press
    (whose answer Telegram does not limit) is told to try again shortly."""
    exc = event.exception
    assert isinstance(exc, TelegramRetryAfter)
    update = event.update
    log.warning(
        "answer to update_id=%s held back by a flood limit (retry after %s s)",
        update.update_id,
        exc.retry_after,
        extra={"update_id": update.update_id},
    )
    query = update.callback_query
    if query is not None and not was_answered(data, update):
        locale = data.get("locale") or i18n.default_locale
        try:
            await bot.answer_callback_query(query.id, i18n.t("error.busy", locale), show_alert=True)
        except Exception:  # noqa: BLE001 - the log already has it
            log.warning("could not answer the press of update_id=%s", update.update_id)
    return True
