"""In-memory Telegram world for one bot token, plus the Python control API.

``BotWorld`` holds users, chats, messages, files, updates and the bot's settings, and
implements Bot API methods (``api_<methodName>`` in :mod:`sandbox.methods`).
Control operations (``send_text``, ``press_button`` ...) act as people: they build the
same Update objects Telegram would and queue them for getUpdates or the webhook.
``Sandbox`` keeps one world per token, so several bots never see each other's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import ApiError, bad_request, forbidden
from .faults import Fault, FaultInjector
from .flood import FloodConfig, FloodControl
from .methods import BotApiMethods
from .spec import Spec, UploadedFile, load_spec

DEFAULT_TOKEN = "123456:TEST"
TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
PRESENT = ("creator", "administrator", "member", "restricted")
# Update types Telegram leaves out unless explicitly requested in allowed_updates.
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")


@dataclass
class UserRec:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False
    blocked: bool = False

    def api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class StoredMessage:
    data: dict[str, Any]
    from_bot: bool
    html: str | None = None
    keyboard: dict[str, Any] | None = None  # non-inline reply markup (not part of Message)
    deleted: bool = False

    def view(self) -> dict[str, Any]:
        """Message as Telegram shows it, plus sandbox-only keys for assertions."""
        out = dict(self.data)
        out["html"] = self.html
        out["is_bot_message"] = self.from_bot
        if self.keyboard is not None:
            out["reply_keyboard"] = self.keyboard
        if self.deleted:
            out["deleted"] = True
        return out


@dataclass
class ChatRec:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "left"
    migrated_to: int | None = None
    pinned: list[int] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    menu_button: dict[str, Any] | None = None

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass
class FileRec:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    photo_sizes: list[dict[str, Any]] | None = None


def _image_size(content: bytes) -> tuple[int, int] | None:
    """Width/height for PNG/GIF/JPEG headers; None when not an image we recognise."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return struct.unpack(">II", content[16:24])
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        return struct.unpack("<HH", content[6:10])
    if content.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                i += 1
                continue
            marker = content[i + 1]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", content[i + 5 : i + 9])
                return w, h
            (seg_len,) = struct.unpack(">H", content[i + 2 : i + 4])
            i += 2 + seg_len
        return (1280, 720)
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return (512, 512)
    if content.startswith(b"BM"):
        return (256, 256)
    return None


class BotWorld(BotApiMethods):
    """All state visible to one bot token."""

    def __init__(
        self,
        token: str,
        spec: Spec,
        *,
        bot_username: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        flood: bool = False,
        webhook_retry_delay: float = 0.5,
        webhook_timeout: float = 10.0,
        allow_http_webhook: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        self.token = token
        self.privacy_mode = privacy_mode
        self.spec = spec
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username or f"test{self.bot_id}_bot"
        self.clock = clock
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.allow_http_webhook = allow_http_webhook
        self.flood = FloodControl(clock=clock, config=FloodConfig(enabled=flood))
        self.faults = FaultInjector(seed=seed)
        self._flood_default = flood
        self._seed = seed
        self._changed = asyncio.Event()
        self._release = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._init_state()

    # ---- lifecycle ----------------------------------------------------------------------
    def _init_state(self) -> None:
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
        self.webhook: dict[str, Any] = {"url": ""}
        self.allowed_updates: list[str] | None = None
        self.pending: list[dict[str, Any]] = []
        self.updates_log: list[dict[str, Any]] = []
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.unseen_errors: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.legacy_params: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget everything (users, chats, logs, faults, flood) but keep the token."""
        self._stop_webhook()
        self.flood.reset()
        self.flood.config = FloodConfig(enabled=self._flood_default)
        self.faults.clear()
        self.faults.reseed(self._seed)
        self._init_state()
        self._notify()

    async def aclose(self) -> None:
        self._release.set()
        task = self._webhook_task
        self._stop_webhook()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _stop_webhook(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    def _notify(self) -> None:
        """Wake every waiter (long polls, wait_for_* helpers, webhook worker)."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _hold(self, delay: float) -> None:
        """Sleep for an injected timeout, cut short when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), delay)

    # ---- dispatch -----------------------------------------------------------------------
    async def call(
        self,
        method_name: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile] | None = None,
        connected: Callable[[], bool] | None = None,
    ) -> Any:
        """Run one Bot API call; raise ApiError for any non-ok answer (and log it).

        Errors nobody received (``connected()`` false: the client gave up, e.g. a long
        poll abandoned by a stopped bot) go to ``unseen_errors`` instead of ``errors``.
        """
        try:
            return await self._call(method_name, params, files or {})
        except ApiError as exc:
            target = self.errors if connected is None or connected() else self.unseen_errors
            target.append(
                {
                    "method": method_name,
                    "params": _loggable(params),
                    "error_code": exc.code,
                    "description": exc.description,
                    "parameters": exc.parameters,
                    "at": self.clock(),
                }
            )
            self._notify()
            raise

    async def _call(
        self, method_name: str, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        method = self.spec.method(method_name)
        if method is None:
            raise bad_request("method not found")  # Telegram says 404; 400 on purpose
        raw = self._legacy(method.name, dict(raw))
        params = self.spec.validate_call(method, raw, files)
        impl = getattr(self, f"api_{method.name}", None)
        if impl is None:
            raise bad_request(f"method not implemented by sandbox: {method.name}")
        chat_id = params.get("chat_id")
        chat_key = chat_id if isinstance(chat_id, int) else None
        sending = is_sending(method.name)
        fault = self.faults.pick(method.name, chat_key, sending)
        if fault is not None and fault.kind != "timeout":
            raise self._fault_error(fault, method.name, chat_key)
        if sending:
            chat = self.chats.get(chat_key) if chat_key is not None else None
            retry = self.flood.check(method.name, chat_key, bool(chat and chat.is_group))
            if retry is not None:
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        if fault is not None:  # timeout
            if fault.deliver:
                result = await impl(params)
                self._log_send(method.name, params, result)
                await self._hold(fault.delay)
                return result
            await self._hold(fault.delay)
            raise ApiError(504, "Gateway Timeout", html_body=_html_page(504, "Gateway Time-out"))
        result = await impl(params)
        self._log_send(method.name, params, result)
        return result

    def _legacy(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Map parameters Telegram still honours but the spec no longer lists."""
        legacy = {"reply_to_message_id", "allow_sending_without_reply", "disable_web_page_preview"}
        fields = self.spec.methods[method.lower()].fields
        found = [k for k in raw if k in legacy and k not in fields]
        if not found:
            return raw
        self.legacy_params.append({"method": method, "params": found})
        if "reply_to_message_id" in found and "reply_parameters" in fields:
            rp = {"message_id": raw.pop("reply_to_message_id")}
            if "allow_sending_without_reply" in raw:
                rp["allow_sending_without_reply"] = raw.pop("allow_sending_without_reply")
            raw.setdefault("reply_parameters", rp)
        raw.pop("allow_sending_without_reply", None)
        if "disable_web_page_preview" in found and "link_preview_options" in fields:
            raw.setdefault("link_preview_options", {"is_disabled": True})
        raw.pop("disable_web_page_preview", None)
        return raw

    def _fault_error(self, fault: Fault, method: str, chat_id: int | None) -> ApiError:
        if fault.kind == "server_error":
            return ApiError(fault.status, "Internal Server Error")
        if fault.kind == "bad_gateway":
            return ApiError(502, "Bad Gateway", html_body=_html_page(502, "Bad Gateway"))
        if fault.kind == "retry_after":
            self.flood.announce(method, chat_id, fault.retry_after, "fault")
            return ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "blocked":
            return forbidden("bot was blocked by the user")
        return forbidden("bot was kicked from the group chat")

    def _log_send(self, method: str, params: dict[str, Any], result: Any) -> None:
        if not is_sending(method):
            return
        entry = {
            "method": method,
            "chat_id": params.get("chat_id"),
            "at": self.clock(),
            "time": time.time(),
        }
        if isinstance(result, dict) and "message_id" in result:
            entry["message_id"] = result["message_id"]
        self.sent.append(entry)

    # ---- updates ------------------------------------------------------------------------
    def _allowed(self, kind: str) -> bool:
        allowed = self.webhook.get("allowed_updates") if self.webhook["url"] else None
        if allowed is None:
            allowed = self.allowed_updates
        if not allowed:
            return kind not in OPT_IN_UPDATES
        return kind in allowed

    def _emit(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self.updates_log.append(update)
        if self._allowed(kind):
            self.pending.append(update)
            if self.webhook["url"]:
                self._ensure_webhook_worker()
        self._notify()
        return update

    def _ensure_webhook_worker(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_worker())

    async def _webhook_worker(self) -> None:
        async with aiohttp.ClientSession() as session:
            while self.webhook["url"] and not self._release.is_set():
                if not self.pending:
                    event = self._changed
                    if self.pending or not self.webhook["url"]:
                        continue
                    await event.wait()
                    continue
                update = self.pending[0]
                url = self.webhook["url"]
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                status, error, body, ctype = 0, None, b"", ""
                try:
                    async with session.post(
                        url,
                        json=update,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as resp:
                        status, body, ctype = resp.status, await resp.read(), resp.content_type
                        if status >= 300:
                            error = f"Wrong response from the webhook: {status} {resp.reason}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"Connection failed: {type(exc).__name__}: {exc}"
                self.webhook_deliveries.append(
                    {
                        "update_id": update["update_id"],
                        "status": status,
                        "error": error,
                        "at": self.clock(),
                    }
                )
                if error is None:
                    if self.pending and self.pending[0] is update:
                        self.pending.pop(0)
                    self._notify()
                    await self._webhook_reply(body, ctype)
                    continue
                self.webhook["last_error_date"] = int(time.time())
                self.webhook["last_error_message"] = error
                self._notify()
                await self._hold(self.webhook_retry_delay)

    async def _webhook_reply(self, body: bytes, ctype: str) -> None:
        """Telegram executes a method returned in the webhook response body."""
        if ctype != "application/json" or not body:
            return
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("method"), str):
                params = {k: v for k, v in data.items() if k != "method"}
                with contextlib.suppress(ApiError):
                    await self.call(data["method"], params)

    # ---- helpers shared with methods ----------------------------------------------------
    def _chat_api(self, chat: ChatRec) -> dict[str, Any]:
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

    def _store(
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
            "chat": self._chat_api(chat),
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        stored = StoredMessage(data=data, from_bot=from_bot, html=html, keyboard=keyboard)
        chat.messages.append(stored)
        self._notify()
        return stored

    def _find(self, chat: ChatRec, message_id: int) -> StoredMessage | None:
        for stored in chat.messages:
            if stored.data["message_id"] == message_id and not stored.deleted:
                return stored
        return None

    def _new_file(
        self,
        content: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRec:
        n = next(self._ids)
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

    def _photo_from_bytes(self, content: bytes) -> list[dict[str, Any]]:
        size = _image_size(content)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        sizes = []
        scale = min(1.0, 90 / max(width, height, 1))
        variants = [(max(1, int(width * scale)), max(1, int(height * scale)))]
        if scale < 1.0:
            variants.append((width, height))
        for w, h in variants:
            rec = self._new_file(content, kind="photo")
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

    def _document_from_bytes(
        self, content: bytes, file_name: str, mime_type: str | None
    ) -> dict[str, Any]:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        rec = self._new_file(content, kind="document", file_name=file_name, mime_type=mime)
        return _document_api(rec)

    def _member_api(self, user: dict[str, Any], status: str) -> dict[str, Any]:
        sub = {
            "creator": "ChatMemberOwner",
            "administrator": "ChatMemberAdministrator",
            "member": "ChatMemberMember",
            "restricted": "ChatMemberRestricted",
            "left": "ChatMemberLeft",
            "kicked": "ChatMemberBanned",
        }[status]
        data: dict[str, Any] = {"status": status, "user": user}
        for f in self.spec.types[sub].get("fields", []):
            if f["required"] and f["name"] not in data:
                if f["types"] == ["Boolean"]:
                    data[f["name"]] = False
                elif f["types"] == ["Integer"]:
                    data[f["name"]] = 0
        if status == "administrator":
            for key in (
                "can_manage_chat",
                "can_delete_messages",
                "can_restrict_members",
                "can_invite_users",
                "can_change_info",
                "can_manage_video_chats",
            ):
                data[key] = True
            data["can_pin_messages"] = True
            # Required since Bot API 10.3 (aiogram 3.31 rejects its absence); the shared
            # spec may be older, so it is added regardless.
            data["can_send_welcome_messages"] = False
        if status == "restricted":
            data["is_member"] = True
        return data

    def _user_api(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        return self._user(user_id).api()

    def _user(self, user_id: int) -> UserRec:
        try:
            return self.users[int(user_id)]
        except KeyError:
            raise ValueError(f"unknown user {user_id}; call add_user first") from None

    def _chat(self, chat_id: int) -> ChatRec:
        try:
            return self.chats[int(chat_id)]
        except KeyError:
            raise ValueError(f"unknown chat {chat_id}") from None

    def _private_chat(self, user_id: int) -> ChatRec:
        user = self._user(user_id)
        chat = self.chats.get(user.id)
        if chat is None:
            chat = ChatRec(id=user.id, type="private", bot_status="member")
            self.chats[user.id] = chat
        return chat

    def _chat_member_updated(
        self, chat: ChatRec, by: dict[str, Any], subject: dict[str, Any], old: str, new: str
    ) -> dict[str, Any]:
        return {
            "chat": self._chat_api(chat),
            "from": by,
            "date": int(time.time()),
            "old_chat_member": self._member_api(subject, old),
            "new_chat_member": self._member_api(subject, new),
        }

    def _set_bot_status(self, chat: ChatRec, by: dict[str, Any], new: str) -> dict[str, Any]:
        old, chat.bot_status = chat.bot_status, new
        return self._emit(
            "my_chat_member", self._chat_member_updated(chat, by, self.bot_user, old, new)
        )

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        user = self._user(user_id)
        if chat_id is None or int(chat_id) == user.id:
            chat = self._private_chat(user.id)
            if user.blocked:
                self.unblock_bot(user.id)  # writing to a blocked bot restarts it
            user.started = True
        else:
            chat = self._chat(chat_id)
            if chat.migrated_to is not None:
                raise ValueError(f"chat {chat.id} migrated to {chat.migrated_to}")
            if chat.members.get(user.id) not in PRESENT:
                raise ValueError(f"user {user.id} is not a member of chat {chat.id}")
        stored = self._store(chat, user.api(), content, from_bot=False)
        if chat.type != "private" and not self._bot_sees(chat, stored.data):
            return {"update_id": None, "message": stored.data}  # not delivered to the bot
        return self._emit("message", stored.data)

    def _bot_sees(self, chat: ChatRec, data: dict[str, Any]) -> bool:
        """Group delivery rules, including privacy mode (Telegram's default)."""
        if chat.bot_status not in PRESENT:
            return False
        if not self.privacy_mode or chat.bot_status in ("administrator", "creator"):
            return True
        text = data.get("text") or data.get("caption") or ""
        reply = data.get("reply_to_message") or {}
        return (
            text.startswith("/")
            or f"@{self.bot_username}".lower() in text.lower()
            or reply.get("from", {}).get("id") == self.bot_id
        )

    # ---- control API: people ------------------------------------------------------------
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
        self.users[user.id] = user
        return user.api()

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """User writes ``text`` (private chat by default); commands get bot_command."""
        content: dict[str, Any] = {"text": text}
        m = _COMMAND_RE.match(text)
        if m:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(m.group())}]
        if reply_to_message_id is not None:
            chat = self._private_chat(user_id) if chat_id is None else self._chat(chat_id)
            target = self._find(chat, int(reply_to_message_id))
            if target is None:
                raise ValueError(f"message {reply_to_message_id} not found")
            content["reply_to_message"] = _strip_reply(target.data)
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
        user = self._user(user_id)
        chat = self._private_chat(user.id) if chat_id is None else self._chat(chat_id)
        stored = self._find(chat, int(message_id))
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
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        query: dict[str, Any] = {
            "id": query_id,
            "from": user.api(),
            "message": dict(stored.data),
            "chat_instance": str((chat.id * 2654435761) % (2**62)),
        }
        if callback_data is not None:
            query["data"] = callback_data
        self.callback_queries[query_id] = {"query": query, "answer": None}
        self._emit("callback_query", query)
        return query_id

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """What the bot answered to a callback query (None while unanswered)."""
        entry = self.callback_queries.get(str(query_id))
        return None if entry is None else entry["answer"]

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
        user = self._user(user_id)
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
    ) -> dict[str, Any]:
        doc = self._document_from_bytes(content, filename, mime_type)
        body: dict[str, Any] = {"document": doc}
        if caption:
            body["caption"] = caption
        return self._user_message(user_id, chat_id, body)

    def upload_photo(
        self,
        user_id: int,
        chat_id: int | None,
        content: bytes,
        caption: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"photo": self._photo_from_bytes(content)}
        if caption:
            body["caption"] = caption
        return self._user_message(user_id, chat_id, body)

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
            self._user(uid)
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
        self.chats[chat_id] = chat
        self._notify()
        return self._chat_api(chat)

    def add_bot_to_group(
        self, chat_id: int, by_user_id: int, status: str = "member"
    ) -> dict[str, Any]:
        """Returns ``{"my_chat_member": update, "message": update}`` (new_chat_members)."""
        chat = self._chat(chat_id)
        by = self._user(by_user_id).api()
        member_update = self._set_bot_status(chat, by, status)
        stored = self._store(chat, by, {"new_chat_members": [dict(self.bot_user)]}, from_bot=False)
        return {"my_chat_member": member_update, "message": self._emit("message", stored.data)}

    def remove_bot_from_group(
        self, chat_id: int, by_user_id: int, kicked: bool = True
    ) -> dict[str, Any]:
        chat = self._chat(chat_id)
        by = self._user(by_user_id).api()
        return self._set_bot_status(chat, by, "kicked" if kicked else "left")

    def set_member_status(
        self, chat_id: int, user_id: int, status: str, by_user_id: int | None = None
    ) -> dict[str, Any]:
        """Change a member's status; emits chat_member (opt-in, like Telegram)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"bad status {status!r}")
        chat = self._chat(chat_id)
        by = self._user_api(by_user_id) if by_user_id is not None else None
        if int(user_id) == self.bot_id:
            return self._set_bot_status(chat, by or self.bot_user, status)
        user = self._user(user_id)
        old = chat.members.get(user.id, "left")
        chat.members[user.id] = status
        payload = self._chat_member_updated(chat, by or user.api(), user.api(), old, status)
        if chat.bot_status in PRESENT:
            return self._emit("chat_member", payload)
        self._notify()
        return {"update_id": None, "chat_member": payload}

    def migrate_to_supergroup(
        self, chat_id: int, new_chat_id: int, by_user_id: int | None = None
    ) -> dict[str, Any]:
        """Upgrade a group; the old id then answers sends with migrate_to_chat_id."""
        old = self._chat(chat_id)
        if old.type != "group":
            raise ValueError("only basic groups can migrate")
        new_chat_id = int(new_chat_id)
        if by_user_id is None:
            by_user_id = next((u for u, s in old.members.items() if s == "creator"), None)
        by = self._user_api(by_user_id) if by_user_id is not None else dict(self.bot_user)
        new = ChatRec(
            id=new_chat_id,
            type="supergroup",
            title=old.title,
            members=dict(old.members),
            bot_status=old.bot_status,
        )
        self.chats[new_chat_id] = new
        visible = old.bot_status in PRESENT
        old_msg = self._store(old, by, {"migrate_to_chat_id": new_chat_id}, from_bot=False)
        old.migrated_to = new_chat_id
        new_msg = self._store(new, by, {"migrate_from_chat_id": old.id}, from_bot=False)
        result: dict[str, Any] = {"old_message": old_msg.data, "new_message": new_msg.data}
        if visible:
            result["updates"] = [
                self._emit("message", old_msg.data),
                self._emit("message", new_msg.data),
            ]
        return result

    def block_bot(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        user.blocked = True
        chat = self._private_chat(user.id)
        return self._emit(
            "my_chat_member",
            self._chat_member_updated(chat, user.api(), self.bot_user, "member", "kicked"),
        )

    def unblock_bot(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        user.blocked = False
        chat = self._private_chat(user.id)
        return self._emit(
            "my_chat_member",
            self._chat_member_updated(chat, user.api(), self.bot_user, "kicked", "member"),
        )

    # ---- control API: reading -----------------------------------------------------------
    def messages(self, chat_id: int, include_deleted: bool = False) -> list[dict[str, Any]]:
        chat = self.chats.get(int(chat_id))
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
        chat = self.chats.get(int(chat_id))
        return None if chat is None else chat.reply_keyboard

    def sent_log(self) -> list[dict[str, Any]]:
        return list(self.sent)

    def errors_log(self) -> list[dict[str, Any]]:
        return list(self.errors)

    def rate_limit_log(self) -> dict[str, list[dict[str, Any]]]:
        return {"issued": list(self.flood.issued), "violations": list(self.flood.violations)}

    def violations(self) -> list[dict[str, Any]]:
        return list(self.flood.violations)

    def chat_actions(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [a for a in self.actions if chat_id is None or a["chat_id"] == int(chat_id)]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        if isinstance(scope, str):
            scope = {"type": scope}
        key = self._scope_key(scope or {"type": "default"}, resolve=False)
        return list(self.commands_store.get((*key, language_code or ""), []))

    def pinned(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self._chat(chat_id)
        out = []
        for mid in chat.pinned:
            stored = self._find(chat, mid)
            if stored is not None:
                out.append(stored.view())
        return out

    def file_content(self, file_id: str) -> bytes:
        return self.files[file_id].content

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self.pending)

    # ---- control API: waiting -----------------------------------------------------------
    async def wait_for(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Await until ``check()`` returns something truthy and return it.

        Re-checked on every state change (no polling sleeps); TimeoutError otherwise.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after: int | None = None,
    ) -> dict[str, Any]:
        """First bot message in the chat with id > ``after`` matching ``predicate``.

        Edits count: a message that starts matching after editMessageText resolves it.
        """

        def check() -> dict[str, Any] | None:
            for msg in self.bot_messages(chat_id):
                if after is not None and msg["message_id"] <= after:
                    continue
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.wait_for(check, timeout)

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        return await self.wait_for(lambda: self.callback_answer(query_id), timeout)

    async def wait_until_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (polled past) every pending update."""
        await self.wait_for(lambda: True if not self.pending else None, timeout)

    # ---- control API: configuration -----------------------------------------------------
    def set_flood(
        self,
        enabled: bool = True,
        global_per_sec: float = 30,
        per_chat_per_sec: float = 1,
        per_group_per_min: int = 20,
        per_chat_burst: int = 3,
    ) -> dict[str, Any]:
        self.flood.config = FloodConfig(
            enabled, global_per_sec, per_chat_per_sec, per_chat_burst, per_group_per_min
        )
        return dict(self.flood.config.__dict__)

    def add_fault(self, kind: str, method: str = "send", **options: Any) -> dict[str, Any]:
        """Inject a failure; see :class:`sandbox.faults.Fault` for options."""
        if "chat_id" in options and options["chat_id"] is not None:
            options["chat_id"] = int(options["chat_id"])
        return self.faults.add(kind, method=method, **options).as_dict()

    def clear_faults(self) -> None:
        self.faults.clear()

    def seed(self, seed: int) -> None:
        self.faults.reseed(seed)
        self._seed = seed

    def release_hung_requests(self) -> None:
        """End every injected timeout and long poll now (used at shutdown)."""
        self._release.set()
        self._notify()


def is_sending(method: str) -> bool:
    low = method.lower()
    if low == "sendchataction":
        return False
    return low.startswith(("send", "copymessage", "forwardmessage", "editmessage"))


def _document_api(rec: FileRec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file_id": rec.file_id,
        "file_unique_id": rec.file_unique_id,
        "file_size": len(rec.content),
    }
    if rec.file_name:
        data["file_name"] = rec.file_name
    if rec.mime_type:
        data["mime_type"] = rec.mime_type
    return data


def _strip_reply(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "reply_to_message"}


def _html_page(code: int, title: str) -> str:
    return (
        f"<html>\r\n<head><title>{code} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{code} {title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"<file {v.filename}>" if isinstance(v, UploadedFile) else v) for k, v in params.items()
    }


class Sandbox:
    """One world per bot token, all sharing the spec and the options."""

    def __init__(
        self,
        spec: Spec | None = None,
        *,
        spec_path: str | None = None,
        default_token: str = DEFAULT_TOKEN,
        **world_options: Any,
    ) -> None:
        self.spec = spec or load_spec(spec_path)
        self.default_token = default_token
        self.world_options = world_options
        self.worlds: dict[str, BotWorld] = {}

    def world(self, token: str | None = None) -> BotWorld:
        token = token or self.default_token
        if not TOKEN_RE.match(token):
            raise ApiError(401, "Unauthorized")
        if token not in self.worlds:
            self.worlds[token] = BotWorld(token, self.spec, **self.world_options)
        return self.worlds[token]

    @property
    def state(self) -> BotWorld:
        return self.world()

    async def aclose(self) -> None:
        for world in self.worlds.values():
            await world.aclose()
