"""Control API: read what the bot did (messages, keyboards, pins, logs) for assertions."""

from __future__ import annotations

from typing import Any

from .dispatch import Dispatcher
from .flood import FloodControl
from .updates import UpdateQueue
from .world import WorldState


class Views:
    """What tests assert on, gathered from the world, the update queue and the call logs."""

    def __init__(
        self, world: WorldState, updates: UpdateQueue, dispatch: Dispatcher, flood: FloodControl
    ) -> None:
        self.world = world
        self.updates = updates
        self.dispatch = dispatch
        self.flood = flood

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """What the bot answered to a callback query (None while unanswered)."""
        entry = self.world.callback_queries.get(str(query_id))
        return None if entry is None else entry["answer"]

    def messages(self, chat_id: int, include_deleted: bool = False) -> list[dict[str, Any]]:
        chat = self.world.chats.get(int(chat_id))
        if chat is None:
            return []
        return [m.view() for m in chat.messages if include_deleted or not m.deleted]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages(chat_id) if m["is_bot_message"]]

    def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        msgs = self.bot_messages(chat_id)
        return msgs[-1] if msgs else None

    def current_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """Reply keyboard currently shown in the chat (None after ReplyKeyboardRemove)."""
        chat = self.world.chats.get(int(chat_id))
        return None if chat is None else chat.reply_keyboard

    def sent_log(self) -> list[dict[str, Any]]:
        return list(self.dispatch.sent)

    def errors_log(self) -> list[dict[str, Any]]:
        return list(self.dispatch.errors)

    def rate_limit_log(self) -> dict[str, list[dict[str, Any]]]:
        return {"issued": list(self.flood.issued), "violations": list(self.flood.violations)}

    def violations(self) -> list[dict[str, Any]]:
        return list(self.flood.violations)

    def chat_actions(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [a for a in self.world.actions if chat_id is None or a["chat_id"] == int(chat_id)]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        if isinstance(scope, str):
            scope = {"type": scope}
        key = self.world.scope_key(scope or {"type": "default"}, resolve=False)
        return list(self.world.commands_store.get((*key, language_code or ""), []))

    def pinned(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self.world.chat(chat_id)
        out = []
        for mid in chat.pinned:
            stored = self.world.find(chat, mid)
            if stored is not None:
                out.append(stored.view())
        return out

    def file_content(self, file_id: str) -> bytes:
        return self.world.files[file_id].content

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self.updates.pending)
