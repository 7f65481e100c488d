"""Groups: bot membership updates, member lookups, kicks and supergroup migration."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
)

from sandbox.testing import SandboxHandle

GROUP = -1001


@pytest.fixture
def group(sb: SandboxHandle) -> int:
    sb.add_user(1, "Bí thư")
    sb.add_user(2, "Đảng viên")
    sb.create_group(GROUP, "Chi bộ Khu phố 3", {1: "creator", 2: "member"})
    return GROUP


async def test_bot_not_in_group_cannot_send(bot: Bot, group: int) -> None:
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the group chat"):
        await bot.send_message(group, "hi")


async def test_add_bot_emits_my_chat_member_and_service_message(
    bot: Bot, sb: SandboxHandle, group: int
) -> None:
    result = sb.add_bot_to_group(group, by_user_id=1)
    member = result["my_chat_member"]["my_chat_member"]
    assert member["old_chat_member"]["status"] == "left"
    assert member["new_chat_member"]["status"] == "member"
    updates = await bot.get_updates()
    assert updates[0].my_chat_member.new_chat_member.user.id == 123456
    assert updates[1].message.new_chat_members[0].id == 123456
    msg = await bot.send_message(group, "Xin chào chi bộ")
    assert msg.chat.type == "group" and msg.chat.title == "Chi bộ Khu phố 3"


async def test_group_command_with_bot_mention(bot: Bot, sb: SandboxHandle, group: int) -> None:
    sb.add_bot_to_group(group, 1)
    update = sb.send_text(2, "/meeting@test123456_bot 12/5", chat_id=group)
    entity = update["message"]["entities"][0]
    assert entity == {"type": "bot_command", "offset": 0, "length": 23}
    with pytest.raises(ValueError, match="not a member"):
        sb.add_user(3, "Người ngoài")
        sb.send_text(3, "hi", chat_id=group)


async def test_remove_bot_then_sends_fail(bot: Bot, sb: SandboxHandle, group: int) -> None:
    sb.add_bot_to_group(group, 1, status="administrator")
    await bot.send_message(group, "ok")
    update = sb.remove_bot_from_group(group, by_user_id=1)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the group chat"):
        await bot.send_message(group, "again")


async def test_members_and_admins(bot: Bot, sb: SandboxHandle, group: int) -> None:
    sb.add_bot_to_group(group, 1, status="administrator")
    owner = await bot.get_chat_member(group, 1)
    assert owner.status == "creator"
    member = await bot.get_chat_member(group, 2)
    assert member.status == "member"
    me = await bot.get_chat_member(group, 123456)
    assert me.status == "administrator" and me.can_delete_messages
    sb.set_member_status(group, 2, "kicked")
    assert (await bot.get_chat_member(group, 2)).status == "kicked"
    admins = await bot.get_chat_administrators(group)
    assert {a.user.id for a in admins} == {1, 123456}
    assert await bot.get_chat_member_count(group) == 2
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(group, 999)
    chat = await bot.get_chat(group)
    assert chat.title == "Chi bộ Khu phố 3" and chat.max_reaction_count == 11


async def test_pin_needs_admin_in_groups(bot: Bot, sb: SandboxHandle, group: int) -> None:
    sb.add_bot_to_group(group, 1)
    msg = await bot.send_message(group, "ghim")
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.pin_chat_message(group, msg.message_id)
    sb.set_member_status(group, 123456, "administrator", by_user_id=1)
    assert await bot.pin_chat_message(group, msg.message_id)


async def test_migration_surfaces_as_migrate_to_chat(
    bot: Bot, sb: SandboxHandle, group: int
) -> None:
    sb.add_bot_to_group(group, 1)
    result = sb.migrate_to_supergroup(group, -1009999)
    assert result["old_message"]["migrate_to_chat_id"] == -1009999
    assert result["new_message"]["migrate_from_chat_id"] == group
    with pytest.raises(TelegramMigrateToChat) as info:
        await bot.send_message(group, "hi")
    assert info.value.migrate_to_chat_id == -1009999
    msg = await bot.send_message(info.value.migrate_to_chat_id, "hi")
    assert msg.chat.type == "supergroup"
    texts = [u.message.migrate_to_chat_id for u in await bot.get_updates() if u.message]
    assert -1009999 in texts


async def test_leave_chat(bot: Bot, sb: SandboxHandle, group: int) -> None:
    sb.add_bot_to_group(group, 1)
    assert await bot.leave_chat(group)
    assert sb.updates_log[-1]["my_chat_member"]["new_chat_member"]["status"] == "left"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(group, "x")
