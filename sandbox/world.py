"""What one bot can see: its identity, users, chats, messages, files and settings.

The lookups and builders here are shared by the Bot API methods and the control API, so both
describe users, chats and members exactly the way Telegram would.
"""

from __future__ import annotations

import itertools
import mimetypes
import time
from typing import Any

from .errors import bad_request, forbidden
from .records import ChatRec, FileRec, StoredMessage, UserRec, document_api, image_size
from .signal import Signal
from .spec import Spec

_MEMBER_TYPES = {
    "creator": "ChatMemberOwner",
    "administrator": "ChatMemberAdministrator",
    "member": "ChatMemberMember",
    "restricted": "ChatMemberRestricted",
    "left": "ChatMemberLeft",
    "kicked": "ChatMemberBanned",
}
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_restrict_members",
    "can_invite_users",
    "can_change_info",
    "can_manage_video_chats",
)


class WorldState:
    """All records of one bot token; ``clear`` forgets them in place (sandbox reset)."""

    def __init__(
        self,
        token: str,
        spec: Spec,
        signal: Signal,
        *,
        bot_username: str | None,
        privacy_mode: bool,
    ) -> None:
        self.spec = spec
        self.signal = signal
        self.privacy_mode = privacy_mode
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username or f"test{self.bot_id}_bot"
        self.clear()

    def clear(self) -> None:
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Sandbox Bot",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
        }
        self.users: dict[int, UserRec] = {}
        self.chats: dict[int, ChatRec] = {}
        self.files: dict[str, FileRec] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.commands_store: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self.settings: dict[str, dict[str, str]] = {
            "description": {},
            "short_description": {},
            "name": {},
        }
        self.default_menu_button: dict[str, Any] = {"type": "commands"}
        self.actions: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    # ---- lookups ------------------------------------------------------------------------
    def user(self, user_id: int) -> UserRec:
        try:
            return self.users[int(user_id)]
        except KeyError:
            raise ValueError(f"unknown user {user_id}; call add_user first") from None

    def chat(self, chat_id: int) -> ChatRec:
        try:
            return self.chats[int(chat_id)]
        except KeyError:
            raise ValueError(f"unknown chat {chat_id}") from None

    def private_chat(self, user_id: int) -> ChatRec:
        user = self.user(user_id)
        chat = self.chats.get(user.id)
        if chat is None:
            chat = ChatRec(id=user.id, type="private", bot_status="member")
            self.chats[user.id] = chat
        return chat

    def find(self, chat: ChatRec, message_id: int) -> StoredMessage | None:
        for stored in chat.messages:
            if stored.data["message_id"] == message_id and not stored.deleted:
                return stored
        return None

    def resolve(self, chat_id: int | str) -> ChatRec:
        """The chat a Bot API call names, with Telegram's errors for the ones it can't use."""
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == chat_id[1:].lower():
                        return chat
                raise bad_request("chat not found")
            try:
                chat_id = int(chat_id)
            except ValueError:
                raise bad_request("chat not found") from None
        found = self.chats.get(chat_id)
        if found is None and chat_id in self.users:
            found = ChatRec(id=chat_id, type="private", bot_status="member")
            self.chats[chat_id] = found
        if found is None:
            raise bad_request("chat not found")
        if found.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": found.migrated_to},
            )
        if found.is_group and found.bot_status == "kicked":
            kind = "supergroup" if found.type == "supergroup" else "group"
            raise forbidden(f"bot was kicked from the {kind} chat")
        if found.is_group and found.bot_status == "left":
            kind = "supergroup" if found.type == "supergroup" else "group"
            raise forbidden(f"bot is not a member of the {kind} chat")
        return found

    def scope_key(self, scope: dict[str, Any], *, resolve: bool = True) -> tuple[Any, ...]:
        """Where a command list is stored: (scope type, chat id, user id)."""
        kind = scope.get("type", "default")
        chat_id = scope.get("chat_id")
        if chat_id is not None:
            chat_id = self.resolve(chat_id).id if resolve else int(chat_id)
        user_id = scope.get("user_id")
        return (kind, chat_id, int(user_id) if user_id is not None else None)

    # ---- Bot API objects ----------------------------------------------------------------
    def chat_api(self, chat: ChatRec) -> dict[str, Any]:
        data: dict[str, Any] = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            user = self.users[chat.id]
            data["first_name"] = user.first_name
            if user.last_name:
                data["last_name"] = user.last_name
            if user.username:
                data["username"] = user.username
        else:
            data["title"] = chat.title or ""
            if chat.username:
                data["username"] = chat.username
        return data

    def user_api(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        return self.user(user_id).api()

    def member_api(self, user: dict[str, Any], status: str) -> dict[str, Any]:
        data: dict[str, Any] = {"status": status, "user": user}
        for f in self.spec.types[_MEMBER_TYPES[status]].get("fields", []):
            if f["required"] and f["name"] not in data:
                if f["types"] == ["Boolean"]:
                    data[f["name"]] = False
                elif f["types"] == ["Integer"]:
                    data[f["name"]] = 0
        if status == "administrator":
            for key in _ADMIN_RIGHTS:
                data[key] = True
            data["can_pin_messages"] = True
            # Required since Bot API 10.3 (aiogram 3.31 rejects its absence); the shared
            # spec may be older, so it is added regardless.
            data["can_send_welcome_messages"] = False
        if status == "restricted":
            data["is_member"] = True
        return data

    def chat_member_updated(
        self, chat: ChatRec, by: dict[str, Any], subject: dict[str, Any], old: str, new: str
    ) -> dict[str, Any]:
        return {
            "chat": self.chat_api(chat),
            "from": by,
            "date": int(time.time()),
            "old_chat_member": self.member_api(subject, old),
            "new_chat_member": self.member_api(subject, new),
        }

    def set_bot_status(self, chat: ChatRec, by: dict[str, Any], new: str) -> dict[str, Any]:
        """Change the bot's own membership; returns the my_chat_member payload to emit."""
        old, chat.bot_status = chat.bot_status, new
        return self.chat_member_updated(chat, by, self.bot_user, old, new)

    # ---- messages and files -------------------------------------------------------------
    def store(
        self,
        chat: ChatRec,
        sender: dict[str, Any],
        content: dict[str, Any],
        *,
        from_bot: bool,
        html: str | None = None,
        keyboard: dict[str, Any] | None = None,
    ) -> StoredMessage:
        data = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": self.chat_api(chat),
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        stored = StoredMessage(data=data, from_bot=from_bot, html=html, keyboard=keyboard)
        chat.messages.append(stored)
        self.signal.notify()
        return stored

    def new_file(
        self,
        content: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRec:
        n = next(self.ids)
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        elif kind == "photo":
            ext = ".jpg"
        folder = {"photo": "photos", "document": "documents"}.get(kind, kind)
        rec = FileRec(
            file_id=f"{kind[:3].upper()}AAQ{self.bot_id}x{n:06d}",
            file_unique_id=f"AgAD{n:06d}",
            content=content,
            file_path=f"{folder}/file_{n}{ext}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[rec.file_id] = rec
        return rec

    def photo_from_bytes(self, content: bytes) -> list[dict[str, Any]]:
        size = image_size(content)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        sizes: list[dict[str, Any]] = []
        scale = min(1.0, 90 / max(width, height, 1))
        variants = [(max(1, int(width * scale)), max(1, int(height * scale)))]
        if scale < 1.0:
            variants.append((width, height))
        for w, h in variants:
            rec = self.new_file(content, kind="photo")
            sizes.append(
                {
                    "file_id": rec.file_id,
                    "file_unique_id": rec.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": len(content),
                }
            )
        for entry in sizes:
            self.files[entry["file_id"]].photo_sizes = sizes
        return sizes

    def document_from_bytes(
        self, content: bytes, file_name: str, mime_type: str | None
    ) -> dict[str, Any]:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        rec = self.new_file(content, kind="document", file_name=file_name, mime_type=mime)
        return document_api(rec)
