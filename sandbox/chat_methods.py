"""Bot API methods about the bot and its chats: pins, commands, settings, members, files."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request
from .records import ChatRec
from .signal import Signal
from .updates import UpdateQueue
from .world import WorldState

_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class ChatMethods:
    """Everything that reads or changes chat and bot settings rather than messages."""

    def __init__(self, world: WorldState, updates: UpdateQueue, signal: Signal) -> None:
        self.world = world
        self.updates = updates
        self.signal = signal

    async def api_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.world.bot_user)

    # ---- pins ---------------------------------------------------------------------------
    def _pin_rights(self, chat: ChatRec) -> None:
        if chat.is_group and chat.bot_status not in ("administrator", "creator"):
            raise bad_request("not enough rights to manage pinned messages in the chat")

    async def api_pinChatMessage(self, p: dict[str, Any]) -> bool:
        chat = self.world.resolve(p["chat_id"])
        self._pin_rights(chat)
        if self.world.find(chat, p["message_id"]) is None:
            raise bad_request("message to pin not found")
        if p["message_id"] in chat.pinned:
            chat.pinned.remove(p["message_id"])
        chat.pinned.append(p["message_id"])
        self.signal.notify()
        return True

    async def api_unpinChatMessage(self, p: dict[str, Any]) -> bool:
        chat = self.world.resolve(p["chat_id"])
        self._pin_rights(chat)
        mid = p.get("message_id")
        if mid is None:
            if chat.pinned:
                chat.pinned.pop()
        elif mid in chat.pinned:
            chat.pinned.remove(mid)
        self.signal.notify()
        return True

    async def api_unpinAllChatMessages(self, p: dict[str, Any]) -> bool:
        chat = self.world.resolve(p["chat_id"])
        self._pin_rights(chat)
        chat.pinned.clear()
        self.signal.notify()
        return True

    # ---- commands & bot settings --------------------------------------------------------
    async def api_setMyCommands(self, p: dict[str, Any]) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for cmd in commands:
            if not _COMMAND_NAME_RE.match(cmd["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(cmd["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (*self.world.scope_key(p.get("scope") or {}), p.get("language_code") or "")
        self.world.commands_store[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        self.signal.notify()
        return True

    async def api_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        key = (*self.world.scope_key(p.get("scope") or {}), p.get("language_code") or "")
        return list(self.world.commands_store.get(key, []))

    async def api_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        key = (*self.world.scope_key(p.get("scope") or {}), p.get("language_code") or "")
        self.world.commands_store.pop(key, None)
        self.signal.notify()
        return True

    def _set_setting(self, name: str, p: dict[str, Any], limit: int) -> bool:
        value = p.get(name) or ""
        if len(value) > limit:
            raise bad_request(f"{name} is too long")
        lang = p.get("language_code") or ""
        if value:
            self.world.settings[name][lang] = value
        else:
            self.world.settings[name].pop(lang, None)
        return True

    def _get_setting(self, name: str, p: dict[str, Any]) -> dict[str, str]:
        values = self.world.settings[name]
        lang = p.get("language_code") or ""
        return {name: values.get(lang, values.get("", ""))}

    async def api_setMyDescription(self, p: dict[str, Any]) -> bool:
        return self._set_setting("description", p, 512)

    async def api_getMyDescription(self, p: dict[str, Any]) -> dict[str, str]:
        return self._get_setting("description", p)

    async def api_setMyShortDescription(self, p: dict[str, Any]) -> bool:
        return self._set_setting("short_description", p, 120)

    async def api_getMyShortDescription(self, p: dict[str, Any]) -> dict[str, str]:
        return self._get_setting("short_description", p)

    async def api_setMyName(self, p: dict[str, Any]) -> bool:
        return self._set_setting("name", p, 64)

    async def api_getMyName(self, p: dict[str, Any]) -> dict[str, str]:
        return self._get_setting("name", p)

    async def api_setChatMenuButton(self, p: dict[str, Any]) -> bool:
        button = p.get("menu_button") or {"type": "default"}
        if p.get("chat_id") is None:
            self.world.default_menu_button = button
        else:
            chat = self.world.resolve(p["chat_id"])
            if chat.type != "private":
                raise bad_request("menu button can be set only in private chats")
            chat.menu_button = button
        return True

    async def api_getChatMenuButton(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("chat_id") is not None:
            chat = self.world.resolve(p["chat_id"])
            if chat.menu_button and chat.menu_button.get("type") != "default":
                return chat.menu_button
        return self.world.default_menu_button

    # ---- chats & members ----------------------------------------------------------------
    async def api_getChat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self.world.resolve(p["chat_id"])
        info = self.world.chat_api(chat)
        info.update(
            accent_color_id=chat.id % 7 if chat.id > 0 else 0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if chat.pinned:
            stored = self.world.find(chat, chat.pinned[-1])
            if stored is not None:
                info["pinned_message"] = dict(stored.data)
        if chat.type != "private":
            info["permissions"] = {"can_send_messages": True}
        return info

    async def api_getChatMember(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self.world.resolve(p["chat_id"])
        user_id = p["user_id"]
        if user_id != self.world.bot_id and user_id not in self.world.users:
            raise bad_request("user not found")
        if chat.type == "private":
            if user_id not in (chat.id, self.world.bot_id):
                raise bad_request("user not found")
            return self.world.member_api(self.world.user_api(user_id), "member")
        status = (
            chat.bot_status if user_id == self.world.bot_id else chat.members.get(user_id, "left")
        )
        return self.world.member_api(self.world.user_api(user_id), status)

    async def api_getChatAdministrators(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self.world.resolve(p["chat_id"])
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self.world.member_api(self.world.user_api(uid), status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if chat.bot_status == "administrator":
            admins.append(self.world.member_api(dict(self.world.bot_user), "administrator"))
        return admins

    async def api_getChatMemberCount(self, p: dict[str, Any]) -> int:
        chat = self.world.resolve(p["chat_id"])
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        count = sum(1 for s in chat.members.values() if s in present)
        return count + (1 if chat.bot_status in present else 0)

    async def api_leaveChat(self, p: dict[str, Any]) -> bool:
        chat = self.world.resolve(p["chat_id"])
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        payload = self.world.set_bot_status(chat, dict(self.world.bot_user), "left")
        self.updates.emit("my_chat_member", payload)
        return True

    # ---- files --------------------------------------------------------------------------
    async def api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        rec = self.world.files.get(p["file_id"])
        if rec is None:
            raise bad_request("invalid file_id")
        if len(rec.content) > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return {
            "file_id": rec.file_id,
            "file_unique_id": rec.file_unique_id,
            "file_size": len(rec.content),
            "file_path": rec.file_path,
        }


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")
