"""Bot API methods that send, edit and delete messages, and answer callback queries.

Parameters arrive already validated and converted by :mod:`sandbox.spec`. Methods of
the spec without an ``api_`` implementation (here or in another provider the dispatcher
knows) answer 400 "Bad Request: method not implemented by sandbox: <name>" (400 rather
than 501 so clients never retry them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from .errors import ApiError, bad_request, forbidden
from .html import HtmlParseError, parse_html
from .records import ChatRec, FileRec, StoredMessage, document_api, strip_reply
from .signal import Signal
from .spec import UploadedFile
from .world import WorldState

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


class MessageMethods:
    """Messages the bot sends or changes; every one is stored in the world."""

    def __init__(self, world: WorldState, signal: Signal, clock: Callable[[], float]) -> None:
        self.world = world
        self.signal = signal
        self.clock = clock

    # ---- shared checks ------------------------------------------------------------------
    def _sendable(self, chat_id: int | str) -> ChatRec:
        chat = self.world.resolve(chat_id)
        if chat.type == "private":
            user = self.world.users[chat.id]
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
            target_chat = self.world.resolve(rp["chat_id"])
        stored = self.world.find(target_chat, rp["message_id"])
        if stored is None:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return strip_reply(stored.data)

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
        stored = self.world.store(
            chat, dict(self.world.bot_user), content, from_bot=True, html=html, keyboard=keyboard
        )
        return dict(stored.data)

    def _input_file(self, value: UploadedFile | str, kind: str) -> FileRec | list[dict[str, Any]]:
        if isinstance(value, UploadedFile):
            if kind == "photo":
                if len(value.content) > 10 * 1024 * 1024:
                    raise bad_request("PHOTO_INVALID_DIMENSIONS")
                return self.world.photo_from_bytes(value.content)
            if len(value.content) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            if not value.content:
                raise bad_request("file must be non-empty")
            doc = self.world.document_from_bytes(value.content, value.filename, value.content_type)
            return self.world.files[doc["file_id"]]
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content (the sandbox never downloads)")
        rec = self.world.files.get(value)
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
        chat = self.world.resolve(p["chat_id"])
        stored = self.world.find(chat, p["message_id"])
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
        self.signal.notify()
        return dict(stored.data)

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
        media = self._input_file(p[kind], kind)  # photo sizes for a photo, else the file
        if isinstance(media, FileRec):
            content["document"] = document_api(media)
        else:
            content["photo"] = media
        return self._bot_send(chat, p, content, html=html)

    async def api_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media(p, "document")

    async def api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media(p, "photo")

    async def api_copyMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        source_chat = self.world.resolve(p["from_chat_id"])
        source = self.world.find(source_chat, p["message_id"])
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
        source_chat = self.world.resolve(p["from_chat_id"])
        source = self.world.find(source_chat, p["message_id"])
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
        self.world.actions.append({"chat_id": chat.id, "action": p["action"], "at": self.clock()})
        self.signal.notify()
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
        caption = ""
        entities: list[dict[str, Any]] = []
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
        chat = self.world.resolve(p["chat_id"])
        stored = self.world.find(chat, p["message_id"])
        if stored is None:
            raise bad_request("message to delete not found")
        self._check_deletable(chat, stored)
        stored.deleted = True
        self.signal.notify()
        return True

    async def api_deleteMessages(self, p: dict[str, Any]) -> bool:
        chat = self.world.resolve(p["chat_id"])
        if not 1 <= len(p["message_ids"]) <= 100:
            raise bad_request("too many messages to delete")
        for mid in p["message_ids"]:
            stored = self.world.find(chat, mid)
            if stored is not None:
                self._check_deletable(chat, stored)
                stored.deleted = True
        self.signal.notify()
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
        entry = self.world.callback_queries.get(p["callback_query_id"])
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
        self.signal.notify()
        return True
