"""The demo page: act as anyone of the organisation in a browser, served by the stand-in.

Plain HTML, CSS and JavaScript (package data beside this module, no build step) over a small
JSON API on the same aiohttp application as the Bot API:

* ``GET /demo`` - the page; ``GET /demo/static/<file>`` - its script and style;
* ``GET /demo/api/people`` - who one can act as (from the host: role, name, unit);
* ``GET /demo/api/view?user=&chat=&version=`` - that person's chats and the open chat's
  messages; with ``version`` it waits (up to 20 s) for a change first, so the page long-polls;
* ``POST /demo/api/send`` ``{user, chat, text}``, ``POST /demo/api/press``
  ``{user, chat, message_id, data}``, ``POST /demo/api/upload`` (multipart: user, chat, file,
  caption), ``POST /demo/api/clock`` ``{action: now|hour|day|set, at}``;
* ``GET /demo/api/file/<file_id>`` - a file to open or download.

The sandbox knows nothing about the bot: the host (``bot.app.demo``) gives the people's directory
and moves the clock through :class:`DemoHost`.
"""

from __future__ import annotations

import contextlib
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote as _quote

from aiohttp import BodyPartReader, web

from ..records import PRESENT, ChatRec
from ..state import BotWorld, Sandbox

STATIC = Path(__file__).parent / "static"
POLL_S = 20.0


class DemoHost(Protocol):
    """What the page needs from whoever runs the bot beside the stand-in."""

    def people(self) -> list[dict[str, Any]]: ...

    def clock_text(self) -> str: ...

    async def move_clock(self, action: str, at: str | None) -> None: ...


@dataclass
class Demo:
    sandbox: Sandbox
    host: DemoHost
    token: str | None = None

    @property
    def world(self) -> BotWorld:
        return self.sandbox.world(self.token)


DEMO_KEY = web.AppKey("demo", Demo)


def add_demo(app: web.Application, sandbox: Sandbox, host: DemoHost, token: str | None) -> Demo:
    """Serve the page on `app` (the stand-in's application) for the bot `token`."""
    demo = Demo(sandbox, host, token)
    app[DEMO_KEY] = demo
    app.router.add_get("/demo", _page)
    app.router.add_get("/demo/", _page)
    app.router.add_static("/demo/static", STATIC)
    app.router.add_get("/demo/api/people", _people)
    app.router.add_get("/demo/api/view", _view)
    app.router.add_post("/demo/api/send", _send)
    app.router.add_post("/demo/api/press", _press)
    app.router.add_post("/demo/api/upload", _upload)
    app.router.add_post("/demo/api/clock", _clock)
    app.router.add_get("/demo/api/file/{file_id}", _file)
    return demo


async def _page(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _people(request: web.Request) -> web.Response:
    return web.json_response({"people": request.app[DEMO_KEY].host.people()})


def _chats_of(world: BotWorld, user_id: int) -> list[ChatRec]:
    """The person's private chat with the bot first, then the groups they are in."""
    chats: list[ChatRec] = []
    private = world.chats.get(user_id)
    if private is not None:
        chats.append(private)
    groups = [
        c
        for c in world.chats.values()
        if c.is_group and c.migrated_to is None and c.members.get(user_id) in PRESENT
    ]
    chats.extend(sorted(groups, key=lambda c: c.title or ""))
    return chats


def _fingerprint(world: BotWorld) -> int:
    """Changes whenever something a person could see changed (messages, edits, members); two
    edits within one second differ by their content, not their edit date."""
    parts: list[Any] = [world.world_state.wall_offset]
    for chat in world.chats.values():
        parts.append((chat.id, chat.next_message_id, tuple(chat.pinned), len(chat.members)))
        parts.append(json.dumps(chat.reply_keyboard, sort_keys=True))
        for stored in chat.messages[-5:]:
            data = stored.data
            markup = json.dumps(data.get("reply_markup"), sort_keys=True)
            parts.append((stored.html, data.get("text"), markup, stored.deleted))
    return hash(tuple(parts)) & 0x7FFF_FFFF_FFFF


def _message(world: BotWorld, chat: ChatRec, stored: Any) -> dict[str, Any]:
    data = stored.data
    sender = data.get("from", {})
    body = stored.html
    if body is None:
        body = html.escape(data.get("text") or data.get("caption") or "")
    files = []
    if data.get("photo"):
        biggest = data["photo"][-1]
        files.append({"kind": "photo", "id": biggest["file_id"], "name": "ảnh"})
    if data.get("document"):
        doc = data["document"]
        files.append(
            {"kind": "document", "id": doc["file_id"], "name": doc.get("file_name") or "tệp"}
        )
    service = None
    if data.get("new_chat_members"):
        service = "joined"
    return {
        "id": data["message_id"],
        "date": data.get("date"),
        "edited": "edit_date" in data,
        "from_bot": stored.from_bot,
        # Family name first, as the people trying the page write a name (and the bot names them).
        "sender": " ".join(filter(None, [sender.get("last_name"), sender.get("first_name")])),
        "sender_id": sender.get("id"),
        "html": body,
        "files": files,
        "inline": data.get("reply_markup", {}).get("inline_keyboard", []),
        "pinned": data["message_id"] in chat.pinned,
        "service": service,
    }


def _chat_view(world: BotWorld, chat: ChatRec) -> dict[str, Any]:
    title = chat.title if chat.is_group else world.bot_user.get("first_name", "Trợ lý")
    messages = [_message(world, chat, m) for m in chat.messages if not m.deleted]
    pinned = [m for m in messages if m["pinned"]]
    keyboard = chat.reply_keyboard
    return {
        "id": chat.id,
        "title": title,
        "group": chat.is_group,
        "messages": messages[-200:],
        "pinned": pinned[-1] if pinned else None,
        "keyboard": (keyboard or {}).get("keyboard"),
    }


async def _view(request: web.Request) -> web.Response:
    demo = request.app[DEMO_KEY]
    world = demo.world
    if "version" in request.query:
        seen = int(request.query["version"])
        with contextlib.suppress(TimeoutError):
            await world.wait_for(lambda: _fingerprint(world) != seen or None, timeout=POLL_S)
    out: dict[str, Any] = {
        "version": _fingerprint(world),
        "clock": demo.host.clock_text(),
        "chats": [],
        "chat": None,
    }
    user = request.query.get("user")
    if user and int(user) in world.users:
        user_id = int(user)
        chats = _chats_of(world, user_id)
        out["chats"] = [
            {
                "id": c.id,
                "title": c.title if c.is_group else world.bot_user.get("first_name"),
                "group": c.is_group,
                "last": (c.messages[-1].data.get("text") or "")[:60] if c.messages else "",
            }
            for c in chats
        ]
        wanted = int(request.query.get("chat") or user_id)
        chat = next((c for c in chats if c.id == wanted), None)
        if chat is None and wanted == user_id:
            chat = world.world_state.private_chat(user_id)
        if chat is not None:
            out["chat"] = _chat_view(world, chat)
    return web.json_response(out)


def _fail(exc: Exception) -> web.Response:
    return web.json_response({"ok": False, "error": str(exc)}, status=400)


async def _send(request: web.Request) -> web.Response:
    world = request.app[DEMO_KEY].world
    body = await request.json()
    user, chat = int(body["user"]), _chat_id(body)
    try:
        if body.get("contact"):
            world.share_contact(user, str(body["contact"]), chat_id=chat)
        else:
            world.send_text(user, str(body["text"]), chat_id=chat)
    except ValueError as exc:
        return _fail(exc)
    return web.json_response({"ok": True})


def _chat_id(body: dict[str, Any]) -> int | None:
    chat = body.get("chat")
    return None if chat in (None, "", body.get("user")) else int(chat)


async def _press(request: web.Request) -> web.Response:
    world = request.app[DEMO_KEY].world
    body = await request.json()
    try:
        query_id = world.press_button(
            int(body["user"]), int(body["message_id"]), _chat_id(body), body.get("data")
        )
    except ValueError as exc:
        return _fail(exc)
    answer: dict[str, Any] | None = None
    with contextlib.suppress(TimeoutError):
        answer = await world.wait_for_callback_answer(query_id, timeout=10)
    return web.json_response({"ok": True, "answer": answer})


async def _upload(request: web.Request) -> web.Response:
    world = request.app[DEMO_KEY].world
    fields: dict[str, str] = {}
    upload: tuple[str, bytes, str | None] | None = None
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            content = bytes(await part.read(decode=True))
            upload = (part.filename, content, part.headers.get("Content-Type"))
        else:
            fields[part.name] = await part.text()
    if upload is None or "user" not in fields:
        return _fail(ValueError("a person and a file are needed"))
    name, content, mime = upload
    user, chat = int(fields["user"]), _chat_id(fields)
    caption = fields.get("caption") or None
    try:
        if (mime or "").startswith("image/") and fields.get("as") != "document":
            world.upload_photo(user, chat, content, caption=caption)
        else:
            world.upload_document(user, chat, name, content, mime, caption=caption)
    except Exception as exc:  # an unreadable picture is Telegram's IMAGE_PROCESS_FAILED
        return _fail(exc)
    return web.json_response({"ok": True})


async def _clock(request: web.Request) -> web.Response:
    demo = request.app[DEMO_KEY]
    body = await request.json()
    action = str(body.get("action", ""))
    if action not in ("now", "hour", "day", "set"):
        return _fail(ValueError(f"unknown clock action {action!r}"))
    try:
        await demo.host.move_clock(action, body.get("at"))
    except ValueError as exc:
        return _fail(exc)
    return web.json_response({"ok": True, "clock": demo.host.clock_text()})


async def _file(request: web.Request) -> web.Response:
    world = request.app[DEMO_KEY].world
    rec = world.files.get(request.match_info["file_id"])
    if rec is None:
        raise web.HTTPNotFound()
    headers = {}
    if rec.file_name:
        disposition = "attachment" if request.query.get("download") else "inline"
        headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{_quote(rec.file_name)}"
    return web.Response(
        body=rec.content, content_type=_mime(rec.mime_type, rec.content), headers=headers
    )


def _mime(given: str | None, content: bytes) -> str:
    if given:
        return given
    if content.startswith(b"\x89PNG"):
        return "image/png"
    if content.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"
