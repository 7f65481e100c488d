"""Acting as users, and the bot's message methods with their Telegram error cases."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from sandbox.testing import SandboxHandle

# 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def uid(sb: SandboxHandle) -> int:
    sb.add_user(7, "Lan", username="lan_vn", last_name="Nguyễn")
    sb.send_text(7, "/start")
    return 7


def _kb(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in data]]
    )


async def test_callback_press_and_answer(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "Chọn", reply_markup=_kb("yes", "no"))
    await bot.get_updates(offset=-1)
    qid = sb.press_button(uid, msg.message_id, uid, "yes")
    (update,) = await bot.get_updates(offset=sb.updates_log[-1]["update_id"])
    query = update.callback_query
    assert query.id == qid and query.data == "yes" and query.from_user.id == uid
    assert query.message.message_id == msg.message_id and query.chat_instance
    assert sb.callback_answer(qid) is None
    waiter = asyncio.create_task(sb.wait_for_callback_answer(qid))
    assert await bot.answer_callback_query(qid, text="Đã ghi nhận", show_alert=True)
    answer = await asyncio.wait_for(waiter, 5)
    assert answer["text"] == "Đã ghi nhận" and answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(qid)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_press_only_existing_buttons(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "Chọn", reply_markup=_kb("a"))
    with pytest.raises(ValueError, match="no button"):
        sb.press_button(uid, msg.message_id, uid, "forged")
    assert sb.press_button(uid, msg.message_id, uid, "forged", strict=False)
    assert sb.press_button(uid, msg.message_id)  # single button: data implied


async def test_contact_sharing(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    update = sb.share_contact(uid, "+84901234567")
    contact = update["message"]["contact"]
    assert contact == {
        "phone_number": "+84901234567",
        "first_name": "Lan",
        "last_name": "Nguyễn",
        "user_id": uid,
    }
    updates = await bot.get_updates()
    assert updates[-1].message.contact.phone_number == "+84901234567"
    other = sb.share_contact(uid, "+8428", contact_user_id=None, first_name="Mai", own=False)
    assert "user_id" not in other["message"]["contact"]


async def test_document_upload_getfile_download(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    update = sb.upload_document(uid, None, "danh_sach.xlsx", b"PK\x03\x04data", caption="DS")
    doc = update["message"]["document"]
    assert doc["file_name"] == "danh_sach.xlsx" and doc["file_size"] == 8
    assert "spreadsheet" in doc["mime_type"]
    file = await bot.get_file(doc["file_id"])
    assert file.file_path.endswith(".xlsx")
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == b"PK\x03\x04data"
    # Re-send by file_id: same file, no new upload.
    sent = await bot.send_document(uid, doc["file_id"], caption="lại")
    assert sent.document.file_id == doc["file_id"]
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(uid, "nonexistent")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nonexistent")


async def test_photo_upload_and_resend(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_photo(uid, BufferedInputFile(PNG, "p.png"), caption="ảnh")
    assert msg.photo[-1].width == 1 and msg.photo[-1].height == 1
    again = await bot.send_photo(uid, msg.photo[-1].file_id)
    assert again.photo[-1].file_id == msg.photo[-1].file_id
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(uid, BufferedInputFile(b"not an image", "x.jpg"))
    update = sb.upload_photo(uid, None, PNG)
    assert update["message"]["photo"][0]["width"] == 1


async def test_edit_text_and_not_modified(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "v1", reply_markup=_kb("a"))
    waiter = asyncio.create_task(sb.wait_for_bot_message(uid, lambda m: m["text"] == "<v2>"))
    edited = await bot.edit_message_text(
        "&lt;v2&gt;",
        chat_id=uid,
        message_id=msg.message_id,
        parse_mode="HTML",
        reply_markup=_kb("a"),
    )
    assert edited.text == "<v2>" and edited.edit_date is not None
    assert (await asyncio.wait_for(waiter, 5))["message_id"] == msg.message_id
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<v2>", chat_id=uid, message_id=msg.message_id, reply_markup=_kb("a")
        )
    # Editing without reply_markup drops the keyboard, like Telegram.
    plain = await bot.edit_message_text("v3", chat_id=uid, message_id=msg.message_id)
    assert plain.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=uid, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=uid, message_id=1)  # the user's /start


async def test_edit_reply_markup(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "x", reply_markup=_kb("a"))
    with pytest.raises(TelegramBadRequest, match="exactly the same"):
        await bot.edit_message_reply_markup(
            chat_id=uid, message_id=msg.message_id, reply_markup=_kb("a")
        )
    await bot.edit_message_reply_markup(
        chat_id=uid, message_id=msg.message_id, reply_markup=_kb("b")
    )
    assert sb.last_bot_message(uid)["reply_markup"]["inline_keyboard"][0][0]["text"] == "b"
    await bot.edit_message_reply_markup(chat_id=uid, message_id=msg.message_id)
    assert "reply_markup" not in sb.last_bot_message(uid)


async def test_delete_message(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "tạm")
    assert await bot.delete_message(uid, msg.message_id)
    assert sb.bot_messages(uid) == []
    assert sb.messages(uid, include_deleted=True)[-1]["deleted"] is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(uid, msg.message_id)


async def test_copy_message_and_reply(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    sb.add_user(8, "Mai", started=True)
    source = sb.send_text(uid, "góp ý")["message"]
    copied = await bot.copy_message(8, uid, source["message_id"])
    assert sb.messages(8)[-1]["text"] == "góp ý"
    assert sb.messages(8)[-1]["message_id"] == copied.message_id
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(8, uid, 999)
    reply = await bot.send_message(
        uid, "cảm ơn", reply_parameters=ReplyParameters(message_id=source["message_id"])
    )
    assert reply.reply_to_message.text == "góp ý"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(uid, "x", reply_parameters=ReplyParameters(message_id=999))


async def test_pin_and_chat_action(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "ghim")
    assert await bot.pin_chat_message(uid, msg.message_id)
    assert [m["text"] for m in sb.pinned(uid)] == ["ghim"]
    assert (await bot.get_chat(uid)).pinned_message.message_id == msg.message_id
    assert await bot.unpin_chat_message(uid, message_id=msg.message_id)
    assert sb.pinned(uid) == []
    assert await bot.send_chat_action(uid, "typing")
    assert sb.chat_actions(uid)[0]["action"] == "typing"
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(uid, "dancing")


async def test_private_chat_errors(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(20, "Chưa bấm Start")
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(20, "hi")
    sb.send_text(20, "/start")
    await bot.send_message(20, "hi")
    update = sb.block_bot(20)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(20, "hi")
    sb.unblock_bot(20)
    assert (await bot.send_message(20, "again")).text == "again"
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")


async def test_commands_by_scope_and_language(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    vi = [BotCommand(command="start", description="Bắt đầu")]
    en = [BotCommand(command="start", description="Start")]
    group = [BotCommand(command="meeting", description="Họp")]
    assert await bot.set_my_commands(vi, language_code="vi")
    await bot.set_my_commands(en, language_code="en")
    await bot.set_my_commands(group, scope=BotCommandScopeAllGroupChats())
    await bot.set_my_commands(group, scope=BotCommandScopeChat(chat_id=uid), language_code="vi")
    assert [c.description for c in await bot.get_my_commands(language_code="vi")] == ["Bắt đầu"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    assert await bot.get_my_commands() == []  # no fallback, like Telegram
    assert sb.commands({"type": "default"}, "vi") == [
        {"command": "start", "description": "Bắt đầu"}
    ]
    assert sb.commands("all_group_chats") == [{"command": "meeting", "description": "Họp"}]
    assert sb.commands({"type": "chat", "chat_id": uid}, "vi")[0]["command"] == "meeting"
    await bot.delete_my_commands(language_code="vi")
    assert sb.commands({"type": "default"}, "vi") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Cmd", description="x")])


async def test_descriptions_and_menu_button(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    await bot.set_my_description("Bot của chi bộ", language_code="vi")
    await bot.set_my_short_description("Chi bộ")
    assert (await bot.get_my_description(language_code="vi")).description == "Bot của chi bộ"
    assert (await bot.get_my_short_description()).short_description == "Chi bộ"
    from aiogram.types import MenuButtonCommands

    assert await bot.set_chat_menu_button(chat_id=uid, menu_button=MenuButtonCommands())
    assert (await bot.get_chat_menu_button(chat_id=uid)).type == "commands"
