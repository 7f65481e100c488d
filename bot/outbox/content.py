"""Content: the Bot API call that delivers one outbox row, and the pin it may ask for.

A row holds exactly one kind of content (text, an album or one message to copy, a document by
file id or as bytes, a photo); this module is the one place that knows which method sends each
and which of the row's options (thread, buttons, reply, caption, entities) that method takes.
It only talks to Telegram: pacing and what an answer means are the sender's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, MessageEntity, ReplyParameters

from storage.models.outbox import OutboxEntry

log = logging.getLogger("bot.outbox.sender")
# A sent row's `error` when the pin asked for failed: "not_pinned: <Telegram's description>".
NOT_PINNED = "not_pinned"


@dataclass(frozen=True)
class Delivered:
    """What Telegram answered for a row that went out."""

    message_id: int
    # Why the pin asked for failed (no right to pin, most often), "not_pinned: ...": kept as
    # the sent row's `error`, so the feature can tell the person who asked for it.
    not_pinned: str | None = None


async def deliver(bot: Bot, entry: OutboxEntry, chat_id: int, request_timeout: float) -> Delivered:
    """Send the row's content to `chat_id` (where it goes now); pin it afterwards when asked.

    Raises what the Bot API call raises; a failed pin does not (the message is out).
    """
    seconds = int(request_timeout) or 1
    message_id = await _post(bot, entry, chat_id, seconds)
    not_pinned = await _pin(bot, chat_id, message_id, seconds) if entry.pin else None
    return Delivered(int(message_id), not_pinned)


def _common(entry: OutboxEntry, chat_id: int, seconds: int) -> dict[str, Any]:
    """The options every sending method but `copy_messages` takes."""
    markup = InlineKeyboardMarkup.model_validate(entry.reply_markup) if entry.reply_markup else None
    common: dict[str, Any] = {
        "chat_id": chat_id,
        "message_thread_id": entry.thread_id,
        "reply_markup": markup,
        "request_timeout": seconds,
    }
    if entry.reply_to_message_id is not None:
        common["reply_parameters"] = ReplyParameters(
            message_id=int(entry.reply_to_message_id), allow_sending_without_reply=True
        )
    return common


async def _post(bot: Bot, e: OutboxEntry, chat_id: int, seconds: int) -> int:
    """The one request for the row's kind of content; returns the message id it made."""
    common = _common(e, chat_id, seconds)
    if e.text is not None:
        entities = [MessageEntity.model_validate(x) for x in e.entities] if e.entities else None
        msg = await bot.send_message(
            text=e.text, parse_mode=e.parse_mode, entities=entities, **common
        )
        return msg.message_id
    if e.copy_message_ids and e.copy_from_chat_id is not None:
        return await _copy_album(bot, e, chat_id, seconds)
    if e.copy_from_chat_id is not None and e.copy_from_message_id is not None:
        copied = await bot.copy_message(
            from_chat_id=e.copy_from_chat_id,
            message_id=int(e.copy_from_message_id),
            caption=e.caption,
            **common,
        )
        return copied.message_id
    if e.document_file_id is not None:
        msg = await bot.send_document(
            document=e.document_file_id, caption=e.caption, parse_mode=e.parse_mode, **common
        )
        return msg.message_id
    if e.document_data is not None:
        upload = BufferedInputFile(e.document_data, filename=e.document_name or "file")
        msg = await bot.send_document(
            document=upload, caption=e.caption, parse_mode=e.parse_mode, **common
        )
        return msg.message_id
    if e.photo_file_id is not None:
        msg = await bot.send_photo(
            photo=e.photo_file_id, caption=e.caption, parse_mode=e.parse_mode, **common
        )
        return msg.message_id
    raise TelegramBadRequest(method=None, message="outbox row has no content")  # type: ignore[arg-type]


async def _copy_album(bot: Bot, e: OutboxEntry, chat_id: int, seconds: int) -> int:
    """An album: one request, the grouping kept; no reply_markup or reply (the method takes
    neither). The first message stands for the whole (pin, replies)."""
    assert e.copy_from_chat_id is not None and e.copy_message_ids
    copies = await bot.copy_messages(
        chat_id=chat_id,
        from_chat_id=e.copy_from_chat_id,
        message_ids=[int(x) for x in e.copy_message_ids],
        message_thread_id=e.thread_id,
        request_timeout=seconds,
    )
    if not copies:
        raise TelegramBadRequest(method=None, message="no message could be copied")  # type: ignore[arg-type]
    return copies[0].message_id


async def _pin(bot: Bot, chat_id: int, message_id: int, seconds: int) -> str | None:
    """Pin a message just sent, silently; returns why it failed, or None."""
    try:
        await bot.pin_chat_message(
            chat_id, message_id, disable_notification=True, request_timeout=seconds
        )
    except TelegramAPIError as exc:  # the message is out; a failed pin does not undo it
        log.warning("pinning message %s in %s failed: %s", message_id, chat_id, exc)
        return f"{NOT_PINNED}: {exc}"[:512]
    return None
