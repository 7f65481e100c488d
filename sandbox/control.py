"""Control API: act as the people around the bot (write, press buttons, manage groups).

Each action builds the same Update Telegram would send and queues it, so the bot under test
cannot tell the sandbox from the real thing.
"""

from __future__ import annotations

import re
from typing import Any

from .records import MEMBER_STATUSES, PRESENT, ChatRec, UserRec, strip_reply
from .signal import Signal
from .updates import UpdateQueue
from .world import WorldState

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")


class Control:
    """Actions of users and group admins; they change the world and emit updates."""

    def __init__(self, world: WorldState, updates: UpdateQueue, signal: Signal) -> None:
        self.world = world
        self.updates = updates
        self.signal = signal

    def add_user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None = "vi",
        username: str | None = None,
        last_name: str | None = None,
        *,
        is_bot: bool = False,
        started: bool = False,
    ) -> dict[str, Any]:
        """Register a Telegram account; ``started`` = already pressed Start in the bot."""
        user = UserRec(
            int(user_id), first_name, last_name, username, language_code, is_bot, started
        )
        self.world.users[user.id] = user
        return user.api()

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """User writes ``text`` (private chat by default); commands get bot_command;
        ``entities``: the formatting the app made (bold, links...), as Telegram sends it."""
        content: dict[str, Any] = {"text": text}
        m = _COMMAND_RE.match(text)
        if m:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(m.group())}]
        if entities:
            content["entities"] = [*content.get("entities", []), *entities]
        if reply_to_message_id is not None:
            chat = self.world.private_chat(user_id) if chat_id is None else self.world.chat(chat_id)
            target = self.world.find(chat, int(reply_to_message_id))
            if target is None:
                raise ValueError(f"message {reply_to_message_id} not found")
            content["reply_to_message"] = strip_reply(target.data)
        return self._user_message(user_id, chat_id, content)

    def press_button(
        self,
        user_id: int,
        message_id: int,
        chat_id: int | None = None,
        callback_data: str | None = None,
        *,
        strict: bool = True,
    ) -> str:
        """Tap an inline button; returns the callback query id.

        With ``strict`` the data must belong to a button currently on that message, since
        a real user can only press what is shown.
        """
        user = self.world.user(user_id)
        chat = self.world.private_chat(user.id) if chat_id is None else self.world.chat(chat_id)
        stored = self.world.find(chat, int(message_id))
        if stored is None:
            raise ValueError(f"message {message_id} not found in chat {chat.id}")
        if strict:
            buttons = [
                b.get("callback_data")
                for row in stored.data.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
            ]
            if callback_data is None and len([b for b in buttons if b]) == 1:
                callback_data = next(b for b in buttons if b)
            if callback_data not in buttons:
                raise ValueError(f"no button with callback_data {callback_data!r}: {buttons}")
        query_id = str(4_000_000_000_000_000_000 + next(self.world.ids))
        query: dict[str, Any] = {
            "id": query_id,
            "from": user.api(),
            "message": dict(stored.data),
            "chat_instance": str((chat.id * 2654435761) % (2**62)),
        }
        if callback_data is not None:
            query["data"] = callback_data
        self.world.callback_queries[query_id] = {"query": query, "answer": None}
        self.updates.emit("callback_query", query)
        return query_id

    def share_contact(
        self,
        user_id: int,
        phone_number: str,
        contact_user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        chat_id: int | None = None,
        *,
        own: bool = True,
    ) -> dict[str, Any]:
        """Send a contact; by default the user's own (what request_contact produces)."""
        user = self.world.user(user_id)
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
        }
        if last_name or (own and user.last_name):
            contact["last_name"] = last_name or user.last_name
        uid = contact_user_id if contact_user_id is not None else (user.id if own else None)
        if uid is not None:
            contact["user_id"] = int(uid)
        return self._user_message(user_id, chat_id, {"contact": contact})

    def upload_document(
        self,
        user_id: int,
        chat_id: int | None,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a file; messages sharing a ``media_group_id`` form one album."""
        doc = self.world.document_from_bytes(content, filename, mime_type)
        body: dict[str, Any] = {"document": doc}
        if caption:
            body["caption"] = caption
        if media_group_id:
            body["media_group_id"] = str(media_group_id)
        return self._user_message(user_id, chat_id, body)

    def upload_photo(
        self,
        user_id: int,
        chat_id: int | None,
        content: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a photo; photos sharing a ``media_group_id`` form one album (one update each,
        as Telegram sends them)."""
        body: dict[str, Any] = {"photo": self.world.photo_from_bytes(content)}
        if caption:
            body["caption"] = caption
        if media_group_id:
            body["media_group_id"] = str(media_group_id)
        return self._user_message(user_id, chat_id, body)

    def send_content(
        self, user_id: int, content: dict[str, Any], chat_id: int | None = None
    ) -> dict[str, Any]:
        """Any other message a person can send or forward (a captioned file with its
        formatting, a poll, a forwarded post with its ``forward_origin``...): ``content`` is the
        Message fields beyond id, sender, chat and date."""
        return self._user_message(user_id, chat_id, dict(content))

    def create_group(
        self,
        chat_id: int,
        title: str,
        members: dict[int, str] | None = None,
        supergroup: bool = False,
        *,
        bot_status: str = "left",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Create a group the bot is not in yet (use add_bot_to_group for the update)."""
        chat_id = int(chat_id)
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        members = {int(k): v for k, v in (members or {}).items()}
        for uid, status in members.items():
            self.world.user(uid)
            if status not in MEMBER_STATUSES:
                raise ValueError(f"bad status {status!r}")
        chat = ChatRec(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            members=members,
            bot_status=bot_status,
        )
        self.world.chats[chat_id] = chat
        self.signal.notify()
        return self.world.chat_api(chat)

    def add_bot_to_group(
        self, chat_id: int, by_user_id: int, status: str = "member"
    ) -> dict[str, Any]:
        """Returns ``{"my_chat_member": update, "message": update}`` (new_chat_members)."""
        chat = self.world.chat(chat_id)
        by = self.world.user(by_user_id).api()
        member_update = self._set_bot_status(chat, by, status)
        stored = self.world.store(
            chat, by, {"new_chat_members": [dict(self.world.bot_user)]}, from_bot=False
        )
        return {
            "my_chat_member": member_update,
            "message": self.updates.emit("message", stored.data),
        }

    def remove_bot_from_group(
        self, chat_id: int, by_user_id: int, kicked: bool = True
    ) -> dict[str, Any]:
        chat = self.world.chat(chat_id)
        by = self.world.user(by_user_id).api()
        return self._set_bot_status(chat, by, "kicked" if kicked else "left")

    def set_member_status(
        self, chat_id: int, user_id: int, status: str, by_user_id: int | None = None
    ) -> dict[str, Any]:
        """Change a member's status; emits chat_member (opt-in, like Telegram)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"bad status {status!r}")
        chat = self.world.chat(chat_id)
        by = self.world.user_api(by_user_id) if by_user_id is not None else None
        if int(user_id) == self.world.bot_id:
            return self._set_bot_status(chat, by or self.world.bot_user, status)
        user = self.world.user(user_id)
        old = chat.members.get(user.id, "left")
        chat.members[user.id] = status
        payload = self.world.chat_member_updated(chat, by or user.api(), user.api(), old, status)
        if chat.bot_status in PRESENT:
            return self.updates.emit("chat_member", payload)
        self.signal.notify()
        return {"update_id": None, "chat_member": payload}

    def migrate_to_supergroup(
        self, chat_id: int, new_chat_id: int, by_user_id: int | None = None
    ) -> dict[str, Any]:
        """Upgrade a group; the old id then answers sends with migrate_to_chat_id."""
        old = self.world.chat(chat_id)
        if old.type != "group":
            raise ValueError("only basic groups can migrate")
        new_chat_id = int(new_chat_id)
        if by_user_id is None:
            by_user_id = next((u for u, s in old.members.items() if s == "creator"), None)
        by = (
            self.world.user_api(by_user_id) if by_user_id is not None else dict(self.world.bot_user)
        )
        new = ChatRec(
            id=new_chat_id,
            type="supergroup",
            title=old.title,
            members=dict(old.members),
            bot_status=old.bot_status,
        )
        self.world.chats[new_chat_id] = new
        visible = old.bot_status in PRESENT
        old_msg = self.world.store(old, by, {"migrate_to_chat_id": new_chat_id}, from_bot=False)
        old.migrated_to = new_chat_id
        new_msg = self.world.store(new, by, {"migrate_from_chat_id": old.id}, from_bot=False)
        result: dict[str, Any] = {"old_message": old_msg.data, "new_message": new_msg.data}
        if visible:
            result["updates"] = [
                self.updates.emit("message", old_msg.data),
                self.updates.emit("message", new_msg.data),
            ]
        return result

    def block_bot(self, user_id: int) -> dict[str, Any]:
        return self._set_blocked(user_id, True)

    def unblock_bot(self, user_id: int) -> dict[str, Any]:
        return self._set_blocked(user_id, False)

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        user = self.world.user(user_id)
        if chat_id is None or int(chat_id) == user.id:
            chat = self.world.private_chat(user.id)
            if user.blocked:
                self.unblock_bot(user.id)  # writing to a blocked bot restarts it
            user.started = True
        else:
            chat = self.world.chat(chat_id)
            if chat.migrated_to is not None:
                raise ValueError(f"chat {chat.id} migrated to {chat.migrated_to}")
            if chat.members.get(user.id) not in PRESENT:
                raise ValueError(f"user {user.id} is not a member of chat {chat.id}")
        stored = self.world.store(chat, user.api(), content, from_bot=False)
        if chat.type != "private" and not self._bot_sees(chat, stored.data):
            return {"update_id": None, "message": stored.data}  # not delivered to the bot
        return self.updates.emit("message", stored.data)

    def _bot_sees(self, chat: ChatRec, data: dict[str, Any]) -> bool:
        """Group delivery rules, including privacy mode (Telegram's default)."""
        if chat.bot_status not in PRESENT:
            return False
        if not self.world.privacy_mode or chat.bot_status in ("administrator", "creator"):
            return True
        text = data.get("text") or data.get("caption") or ""
        reply = data.get("reply_to_message") or {}
        return (
            text.startswith("/")
            or f"@{self.world.bot_username}".lower() in text.lower()
            or reply.get("from", {}).get("id") == self.world.bot_id
        )

    def _set_bot_status(self, chat: ChatRec, by: dict[str, Any], new: str) -> dict[str, Any]:
        return self.updates.emit("my_chat_member", self.world.set_bot_status(chat, by, new))

    def _set_blocked(self, user_id: int, blocked: bool) -> dict[str, Any]:
        user = self.world.user(user_id)
        user.blocked = blocked
        chat = self.world.private_chat(user.id)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        payload = self.world.chat_member_updated(chat, user.api(), self.world.bot_user, old, new)
        return self.updates.emit("my_chat_member", payload)
