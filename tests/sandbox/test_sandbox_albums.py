"""copyMessages: an album copied in one call keeps its grouping; Telegram's argument rules."""

from __future__ import annotations

import base64

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from sandbox.testing import SandboxHandle

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


async def test_copy_an_album_keeps_grouping_and_captions(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(7, "Lan", started=True)
    sb.create_group(-100, "Chi bộ", {7: "creator"}, bot_status="member")
    first = sb.upload_photo(7, None, PNG, caption="<b>Ảnh 1</b>", media_group_id="g1")["message"]
    second = sb.upload_document(7, None, "kh.pdf", b"%PDF-1", media_group_id="g1")["message"]
    assert first["media_group_id"] == second["media_group_id"] == "g1"
    copies = await bot.copy_messages(-100, 7, [first["message_id"], second["message_id"]])
    assert len(copies) == 2
    sent = sb.bot_messages(-100)
    assert [m["message_id"] for m in sent] == [c.message_id for c in copies]
    assert sent[0]["caption"] == "<b>Ảnh 1</b>" and "photo" in sent[0]
    assert sent[1]["document"]["file_name"] == "kh.pdf"
    group = sent[0]["media_group_id"]
    assert group == sent[1]["media_group_id"] and group != "g1"
    await bot.copy_messages(-100, 7, [first["message_id"]], remove_caption=True)
    assert "caption" not in sb.bot_messages(-100)[-1]
    log = [e for e in sb.sent_log() if e["method"] == "copyMessages"]
    assert len(log) == 2


async def test_copy_messages_rules(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(7, "Lan", started=True)
    sb.add_user(8, "Mai")  # never started the bot
    a = sb.send_text(7, "một")["message"]["message_id"]
    b = sb.send_text(7, "hai")["message"]["message_id"]
    with pytest.raises(TelegramBadRequest, match="strictly increasing"):
        await bot.copy_messages(7, 7, [b, a])
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_messages(7, 7, [900, 901])
    # Missing ids are skipped.
    copies = await bot.copy_messages(7, 7, [a, 950])
    assert len(copies) == 1 and sb.last_bot_message(7)["text"] == "một"
    with pytest.raises(TelegramForbiddenError, match="initiate conversation"):
        await bot.copy_messages(8, 7, [a])
