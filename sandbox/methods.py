"""Bot API method implementations (``api_<methodName>``) mixed into ``BotWorld``.

Parameters arrive already validated and converted by :mod:`sandbox.spec`. Methods of
the spec without an ``api_`` implementation answer 400 "Bad Request: method not
implemented by sandbox: <name>" (400 rather than 501 so clients never retry them).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

from .errors import ApiError, bad_request, forbidden
from .html import HtmlParseError, parse_html
from .spec import UploadedFile

if TYPE_CHECKING:
    from .state import BotWorld, ChatRec, FileRec, StoredMessage

    _Base = BotWorld
else:
    _Base = object

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MD_ESCAPE_RE = re.compile(r"\\([_*\[\]()~`>#+\-=|{}.!\\])")
_COSMETIC_BUTTON_KEYS = {"text", "style", "icon_custom_emoji_id"}
_CONTENT_KEYS = (
    "text",
    "entities",
    "document",
    "photo",
    "contact",
    "caption",
    "caption_entities",
    "link_preview_options",
)
_DAY = 86400


class BotApiMethods(_Base):
    # ---- shared checks ------------------------------------------------------------------
    def _resolve(self, chat_id: int | str) -> ChatRec:
        from .state import ChatRec

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
        chat = self.chats.get(chat_id)
        if chat is None and chat_id in self.users:
            chat = ChatRec(id=chat_id, type="private", bot_status="member")
            self.chats[chat_id] = chat
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.is_group and chat.bot_status == "kicked":
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise forbidden(f"bot was kicked from the {kind} chat")
        if chat.is_group and chat.bot_status == "left":
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise forbidden(f"bot is not a member of the {kind} chat")
        return chat

    def _sendable(self, chat_id: int | str) -> ChatRec:
        chat = self._resolve(chat_id)
        if chat.type == "private":
            user = self.users[chat.id]
            if user.is_bot:
                raise forbidden("bot can't send messages to bots")
            if user.blocked:
                raise forbidden("bot was blocked by the user")
            if not user.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif chat.bot_status == "restricted":
            raise bad_request("not enough rights to send text messages to the chat")
        return chat

    def _format(
        self,
        text: str,
        parse_mode: str | None,
        entities: list[dict[str, Any]] | None,
        *,
        caption: bool = False,
    ) -> tuple[str, list[dict[str, Any]]]:
        """Apply parse_mode; MarkdownV2/Markdown are accepted without a strict check."""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode == "markdownv2":
            text, entities = _MD_ESCAPE_RE.sub(r"\1", text), []
        elif mode == "markdown":
            entities = []
        elif mode:
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        entities = list(entities or [])
        limit = CAPTION_LIMIT if caption else TEXT_LIMIT
        if caption:
            if len(text) > limit:
                raise bad_request("message caption is too long")
        else:
            if not text.strip():
                raise bad_request("message text is empty")
            if len(text) > limit:
                raise bad_request("message is too long")
        return text, entities

    def _markup(
        self, markup: dict[str, Any] | None, chat: ChatRec
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Validate reply_markup; return (inline markup for Message, other keyboard)."""
        if markup is None:
            return None, None
        if "inline_keyboard" in markup:
            total = 0
            for row in markup["inline_keyboard"]:
                for button in row:
                    total += 1
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                    url = button.get("url")
                    if url is not None and not url.startswith(("http://", "https://", "tg://")):
                        raise bad_request(
                            f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                        )
                    if not set(button) - _COSMETIC_BUTTON_KEYS:
                        raise bad_request(
                            "can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard"
                        )
            if total > 100:
                raise bad_request("reply markup is too long")
            return markup, None
        if "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        return None, markup

    def _reply_to(self, chat: ChatRec, rp: dict[str, Any] | None) -> dict[str, Any] | None:
        if not rp:
            return None
        target_chat = chat
        if rp.get("chat_id") is not None:
            target_chat = self._resolve(rp["chat_id"])
        stored = self._find(target_chat, rp["message_id"])
        if stored is None:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return {k: v for k, v in stored.data.items() if k != "reply_to_message"}

    def _bot_send(
        self,
        chat: ChatRec,
        p: dict[str, Any],
        content: dict[str, Any],
        *,
        html: str | None = None,
    ) -> dict[str, Any]:
        inline, keyboard = self._markup(p.get("reply_markup"), chat)
        reply = self._reply_to(chat, p.get("reply_parameters"))
        if p.get("message_thread_id") is not None:
            content["message_thread_id"] = p["message_thread_id"]
        if reply is not None:
            content["reply_to_message"] = reply
        if p.get("protect_content"):
            content["has_protected_content"] = True
        if inline is not None:
            content["reply_markup"] = inline
        stored = self._store(
            chat, dict(self.bot_user), content, from_bot=True, html=html, keyboard=keyboard
        )
        return dict(stored.data)

    def _input_file(self, value: UploadedFile | str, kind: str) -> FileRec | list[dict[str, Any]]:
        if isinstance(value, UploadedFile):
            if kind == "photo":
                if len(value.content) > 10 * 1024 * 1024:
                    raise bad_request("PHOTO_INVALID_DIMENSIONS")
                return self._photo_from_bytes(value.content)
            if len(value.content) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            if not value.content:
                raise bad_request("file must be non-empty")
            doc = self._document_from_bytes(value.content, value.filename, value.content_type)
            return self.files[doc["file_id"]]
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content (the sandbox never downloads)")
        rec = self.files.get(value)
        if rec is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if kind == "photo":
            if rec.photo_sizes is None:
                raise bad_request("type of file mismatch")
            return rec.photo_sizes
        if rec.photo_sizes is not None:
            raise bad_request("type of file mismatch")
        return rec

    def _editable(self, p: dict[str, Any]) -> tuple[ChatRec, StoredMessage]:
        if p.get("inline_message_id"):
            raise bad_request("method not implemented by sandbox: inline messages")
        if p.get("chat_id") is None or p.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        chat = self._resolve(p["chat_id"])
        stored = self._find(chat, p["message_id"])
        if stored is None:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    def _apply_edit(self, stored: StoredMessage, changes: dict[str, Any]) -> dict[str, Any]:
        current = {k: stored.data.get(k) for k in changes}
        wanted = {k: (v if v else None) for k, v in changes.items()}
        current = {k: (v if v else None) for k, v in current.items()}
        if current == wanted:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in wanted.items():
            if value is None:
                stored.data.pop(key, None)
            else:
                stored.data[key] = value
        stored.data["edit_date"] = int(time.time())
        self._notify()
        return dict(stored.data)

    def _scope_key(self, scope: dict[str, Any], *, resolve: bool = True) -> tuple[Any, ...]:
        kind = scope.get("type", "default")
        chat_id = scope.get("chat_id")
        if chat_id is not None:
            chat_id = self._resolve(chat_id).id if resolve else int(chat_id)
        user_id = scope.get("user_id")
        return (kind, chat_id, int(user_id) if user_id is not None else None)

    # ---- getting updates ----------------------------------------------------------------
    async def api_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"]) or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll must end with 409
        offset = p.get("offset")
        if offset is not None:
            if offset < 0:
                self.pending = self.pending[offset:]
            else:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
        self.pending = [u for u in self.pending if self._allowed(_kind(u))]
        limit = min(max(p.get("limit", 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(p.get("timeout", 0), 0)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self.webhook["url"]:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            if self.pending:
                self._notify()  # wait_until_idle
                return self.pending[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0 or self._release.is_set():
                return []
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def api_setWebhook(self, p: dict[str, Any]) -> bool:
        url = p["url"]
        if not url:
            return await self.api_deleteWebhook(p)
        schemes = ("https://", "http://") if self.allow_http_webhook else ("https://",)
        if not url.startswith(schemes):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": p.get("max_connections", 40),
            "allowed_updates": p.get("allowed_updates") or None,
        }
        if p.get("ip_address"):
            self.webhook["ip_address"] = p["ip_address"]
        self._notify()
        self._ensure_webhook_worker()
        return True

    async def api_deleteWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self.pending.clear()
        self._notify()
        return True

    async def api_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        for key in (
            "last_error_date",
            "last_error_message",
            "max_connections",
            "allowed_updates",
            "ip_address",
        ):
            if self.webhook.get(key):
                info[key] = self.webhook[key]
        return info

    # ---- sending ------------------------------------------------------------------------
    async def api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._sendable(p["chat_id"])
        text, entities = self._format(p["text"], p.get("parse_mode"), p.get("entities"))
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if p.get("link_preview_options"):
            content["link_preview_options"] = p["link_preview_options"]
        html = p["text"] if (p.get("parse_mode") or "").lower() == "html" else None
        return self._bot_send(chat, p, content, html=html)

    async def _send_media(self, p: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self._sendable(p["chat_id"])
        content: dict[str, Any] = {}
        html = None
        if p.get("caption"):
            caption, entities = self._format(
                p["caption"], p.get("parse_mode"), p.get("caption_entities"), caption=True
            )
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
            if (p.get("parse_mode") or "").lower() == "html":
                html = p["caption"]
        media = self._input_file(p[kind], kind)
        if kind == "photo":
            content["photo"] = media
        else:
            from .state import _document_api

            content["document"] = _document_api(media)  # type: ignore[arg-type]
        return self._bot_send(chat, p, content, html=html)

    async def api_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media(p, "document")

    async def api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media(p, "photo")

    async def api_copyMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        source_chat = self._resolve(p["from_chat_id"])
        source = self._find(source_chat, p["message_id"])
        if source is None:
            raise bad_request("message to copy not found")
        content = {k: source.data[k] for k in _CONTENT_KEYS if k in source.data}
        if not content:
            raise bad_request("message can't be copied")
        chat = self._sendable(p["chat_id"])
        if "caption" in p and any(k in content for k in ("document", "photo")):
            content.pop("caption_entities", None)
            if p["caption"]:
                caption, entities = self._format(
                    p["caption"], p.get("parse_mode"), p.get("caption_entities"), caption=True
                )
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
            else:
                content.pop("caption", None)
        message = self._bot_send(chat, p, content, html=source.html)
        return {"message_id": message["message_id"]}

    async def api_forwardMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        source_chat = self._resolve(p["from_chat_id"])
        source = self._find(source_chat, p["message_id"])
        if source is None:
            raise bad_request("message to forward not found")
        content = {k: source.data[k] for k in _CONTENT_KEYS if k in source.data}
        if not content:
            raise bad_request("message can't be forwarded")
        content["forward_origin"] = {
            "type": "user",
            "sender_user": source.data["from"],
            "date": source.data["date"],
        }
        chat = self._sendable(p["chat_id"])
        return self._bot_send(chat, p, content)

    async def api_sendChatAction(self, p: dict[str, Any]) -> bool:
        chat = self._sendable(p["chat_id"])
        if p["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.actions.append({"chat_id": chat.id, "action": p["action"], "at": self.clock()})
        self._notify()
        return True

    # ---- editing ------------------------------------------------------------------------
    async def api_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, stored = self._editable(p)
        if "text" not in stored.data:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._format(p["text"], p.get("parse_mode"), p.get("entities"))
        inline, _ = self._markup(p.get("reply_markup"), chat)
        result = self._apply_edit(
            stored, {"text": text, "entities": entities, "reply_markup": inline}
        )
        stored.html = p["text"] if (p.get("parse_mode") or "").lower() == "html" else None
        return result

    async def api_editMessageCaption(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, stored = self._editable(p)
        if not any(k in stored.data for k in ("document", "photo")):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = "", []
        if p.get("caption"):
            caption, entities = self._format(
                p["caption"], p.get("parse_mode"), p.get("caption_entities"), caption=True
            )
        inline, _ = self._markup(p.get("reply_markup"), chat)
        return self._apply_edit(
            stored, {"caption": caption, "caption_entities": entities, "reply_markup": inline}
        )

    async def api_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, stored = self._editable(p)
        inline, _ = self._markup(p.get("reply_markup"), chat)
        return self._apply_edit(stored, {"reply_markup": inline})

    async def api_deleteMessage(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        stored = self._find(chat, p["message_id"])
        if stored is None:
            raise bad_request("message to delete not found")
        self._check_deletable(chat, stored)
        stored.deleted = True
        self._notify()
        return True

    async def api_deleteMessages(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        if not 1 <= len(p["message_ids"]) <= 100:
            raise bad_request("too many messages to delete")
        for mid in p["message_ids"]:
            stored = self._find(chat, mid)
            if stored is not None:
                self._check_deletable(chat, stored)
                stored.deleted = True
        self._notify()
        return True

    def _check_deletable(self, chat: ChatRec, stored: StoredMessage) -> None:
        if stored.data["date"] < time.time() - 2 * _DAY:
            raise bad_request("message can't be deleted for everyone")
        if (
            chat.is_group
            and not stored.from_bot
            and chat.bot_status not in ("administrator", "creator")
        ):
            raise bad_request("message can't be deleted")

    async def api_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        entry = self.callback_queries.get(p["callback_query_id"])
        if entry is None or entry["answer"] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(p.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        entry["answer"] = {
            "text": p.get("text"),
            "show_alert": bool(p.get("show_alert")),
            "url": p.get("url"),
            "cache_time": p.get("cache_time", 0),
            "at": self.clock(),
        }
        self._notify()
        return True

    # ---- pins ---------------------------------------------------------------------------
    def _pin_rights(self, chat: ChatRec) -> None:
        if chat.is_group and chat.bot_status not in ("administrator", "creator"):
            raise bad_request("not enough rights to manage pinned messages in the chat")

    async def api_pinChatMessage(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        self._pin_rights(chat)
        if self._find(chat, p["message_id"]) is None:
            raise bad_request("message to pin not found")
        if p["message_id"] in chat.pinned:
            chat.pinned.remove(p["message_id"])
        chat.pinned.append(p["message_id"])
        self._notify()
        return True

    async def api_unpinChatMessage(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        self._pin_rights(chat)
        mid = p.get("message_id")
        if mid is None:
            if chat.pinned:
                chat.pinned.pop()
        elif mid in chat.pinned:
            chat.pinned.remove(mid)
        self._notify()
        return True

    async def api_unpinAllChatMessages(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        self._pin_rights(chat)
        chat.pinned.clear()
        self._notify()
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
        key = (*self._scope_key(p.get("scope") or {}), p.get("language_code") or "")
        self.commands_store[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        self._notify()
        return True

    async def api_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        key = (*self._scope_key(p.get("scope") or {}), p.get("language_code") or "")
        return list(self.commands_store.get(key, []))

    async def api_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        key = (*self._scope_key(p.get("scope") or {}), p.get("language_code") or "")
        self.commands_store.pop(key, None)
        self._notify()
        return True

    def _set_setting(self, name: str, p: dict[str, Any], limit: int) -> bool:
        value = p.get(name) or ""
        if len(value) > limit:
            raise bad_request(f"{name} is too long")
        lang = p.get("language_code") or ""
        if value:
            self.settings[name][lang] = value
        else:
            self.settings[name].pop(lang, None)
        return True

    def _get_setting(self, name: str, p: dict[str, Any]) -> dict[str, str]:
        values = self.settings[name]
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
            self.default_menu_button = button
        else:
            chat = self._resolve(p["chat_id"])
            if chat.type != "private":
                raise bad_request("menu button can be set only in private chats")
            chat.menu_button = button
        return True

    async def api_getChatMenuButton(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("chat_id") is not None:
            chat = self._resolve(p["chat_id"])
            if chat.menu_button and chat.menu_button.get("type") != "default":
                return chat.menu_button
        return self.default_menu_button

    # ---- chats & members ----------------------------------------------------------------
    async def api_getChat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._resolve(p["chat_id"])
        info = self._chat_api(chat)
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
            stored = self._find(chat, chat.pinned[-1])
            if stored is not None:
                info["pinned_message"] = dict(stored.data)
        if chat.type != "private":
            info["permissions"] = {"can_send_messages": True}
        return info

    async def api_getChatMember(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._resolve(p["chat_id"])
        user_id = p["user_id"]
        if user_id != self.bot_id and user_id not in self.users:
            raise bad_request("user not found")
        if chat.type == "private":
            if user_id not in (chat.id, self.bot_id):
                raise bad_request("user not found")
            return self._member_api(self._user_api(user_id), "member")
        status = chat.bot_status if user_id == self.bot_id else chat.members.get(user_id, "left")
        return self._member_api(self._user_api(user_id), status)

    async def api_getChatAdministrators(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self._resolve(p["chat_id"])
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self._member_api(self._user_api(uid), status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_api(dict(self.bot_user), "administrator"))
        return admins

    async def api_getChatMemberCount(self, p: dict[str, Any]) -> int:
        chat = self._resolve(p["chat_id"])
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        count = sum(1 for s in chat.members.values() if s in present)
        return count + (1 if chat.bot_status in present else 0)

    async def api_leaveChat(self, p: dict[str, Any]) -> bool:
        chat = self._resolve(p["chat_id"])
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self._set_bot_status(chat, dict(self.bot_user), "left")
        return True

    # ---- files --------------------------------------------------------------------------
    async def api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        rec = self.files.get(p["file_id"])
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
