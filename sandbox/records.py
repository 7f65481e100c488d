"""Plain records of the sandbox world (users, chats, stored messages, files).

Kept apart from the behaviour so every component (world state, Bot API methods, control API)
can share them without importing each other.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
PRESENT = ("creator", "administrator", "member", "restricted")


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


def image_size(content: bytes) -> tuple[int, int] | None:
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


def document_api(rec: FileRec) -> dict[str, Any]:
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


def strip_reply(data: dict[str, Any]) -> dict[str, Any]:
    """A message as quoted inside another one: Telegram never nests reply_to_message."""
    return {k: v for k, v in data.items() if k != "reply_to_message"}
