"""The stand-in keeps its world in demo mode: people, groups, messages (with the bot's HTML,
buttons, pins and edits) and files come back from the saved file, and new ids go on from
where they were, so the bot's links and the page's history survive a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from sandbox import Sandbox, persist
from sandbox.spec import Spec
from sandbox.testing import SandboxHandle

TOKEN = "123456:TEST"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e5273ea40000000049454e44ae426082"
)


async def test_a_restarted_stand_in_has_the_same_people_chats_and_messages(
    sb: SandboxHandle, bot: Bot, spec: Spec, tmp_path: Path
) -> None:
    world = sb.world(TOKEN)
    world.add_user(10, "Lan", "vi", last_name="Nguyễn Thị", started=True)
    world.add_user(11, "Hùng", "vi", started=True)
    world.create_group(
        -500, "Chi bộ thôn Một", {10: "creator", 11: "member"}, bot_status="administrator"
    )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="✅ Có mặt", callback_data="rsvp:1:y")]]
    )
    sent = await bot.send_message(
        -500, "<b>Thông báo</b>", parse_mode="HTML", reply_markup=keyboard
    )
    await bot.pin_chat_message(-500, sent.message_id)
    await bot.edit_message_text(
        "<b>Thông báo</b> (sửa)",
        chat_id=-500,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    photo = world.upload_photo(10, None, PNG)["message"]["photo"][-1]["file_id"]
    path = tmp_path / "world.json"
    persist.save(world, path)

    again = Sandbox(spec, default_token=TOKEN).world(TOKEN)
    saved = persist.read(path)
    assert saved is not None
    persist.load(again, saved)

    assert again.users[10].last_name == "Nguyễn Thị" and again.users[11].started
    group = again.chats[-500]
    assert group.members == {10: "creator", 11: "member"} and group.title == "Chi bộ thôn Một"
    (announce,) = again.bot_messages(-500)
    assert announce["html"] == "<b>Thông báo</b> (sửa)" and "edit_date" in announce
    assert announce["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "rsvp:1:y"
    assert again.pinned(-500)[-1]["message_id"] == sent.message_id
    assert again.file_content(photo) == PNG
    # New messages and files go on from the saved ids, never reusing one.
    reply = again.send_text(11, "Có", chat_id=-500)["message"]
    assert reply["message_id"] == sent.message_id + 1
    assert again.upload_photo(10, None, PNG)["message"]["photo"][-1]["file_id"] != photo
    again.press_button(11, sent.message_id, -500, "rsvp:1:y")


def test_a_world_saved_for_another_bot_is_refused(spec: Spec, tmp_path: Path) -> None:
    world = Sandbox(spec, default_token=TOKEN).world(TOKEN)
    persist.save(world, tmp_path / "world.json")
    other = Sandbox(spec, default_token="999:OTHER").world("999:OTHER")
    with pytest.raises(ValueError, match="another bot"):
        persist.load(other, persist.read(tmp_path / "world.json") or {})


async def test_autosave_writes_the_file_shortly_after_a_change(spec: Spec, tmp_path: Path) -> None:
    world = Sandbox(spec, default_token=TOKEN).world(TOKEN)
    path = tmp_path / "world.json"
    saved = asyncio.Event()
    saver = asyncio.create_task(persist.autosave(world, path, debounce=0.01, saved=saved))
    await asyncio.sleep(0)  # the saver waits for a change
    world.add_user(10, "Lan", "vi", started=True)
    world.send_text(10, "/start")
    await asyncio.wait_for(saved.wait(), 5)
    saver.cancel()
    await asyncio.gather(saver, return_exceptions=True)
    saved = persist.read(path)
    assert saved is not None and [u["id"] for u in saved["users"]] == [10]
