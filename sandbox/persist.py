"""Keep one bot's world (people, chats, messages, files) in a JSON file across restarts.

The demo runs the stand-in beside a database that remembers which group is bound to which
branch; if the stand-in forgot its chats on every restart, the bot would hold bindings to groups
nobody can open. `autosave` writes the file shortly after every change (debounced, atomically),
`load` puts it back before the bot polls again.

What is kept: users, chats with their members and messages (as stored, with the bot's HTML and
keyboards), files, the id counters and the demo clock's offset. What is not: pending updates,
callback queries, logs and faults, which belong to the run that made them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .records import ChatRec, FileRec, StoredMessage, UserRec
from .state import BotWorld

log = logging.getLogger("sandbox.persist")
FORMAT = 1


def dump(world: BotWorld) -> dict[str, Any]:
    """The world as plain JSON data."""
    state = world.world_state
    next_id = next(state.ids)
    state.ids = itertools.count(next_id)
    return {
        "format": FORMAT,
        "bot_id": state.bot_id,
        "next_id": next_id,
        "next_update_id": world.updates.next_update_id,
        "wall_offset": state.wall_offset,
        "users": [asdict(u) for u in state.users.values()],
        "chats": [_chat(c) for c in state.chats.values()],
        "files": [_file(f) for f in state.files.values()],
    }


def _chat(chat: ChatRec) -> dict[str, Any]:
    data = asdict(chat)
    data["members"] = [[uid, status] for uid, status in chat.members.items()]
    return data


def _file(rec: FileRec) -> dict[str, Any]:
    data = asdict(rec)
    data["content"] = base64.b64encode(rec.content).decode("ascii")
    return data


def load(world: BotWorld, data: dict[str, Any]) -> None:
    """Replace the world's people, chats and files with `data` (from `dump`)."""
    state = world.world_state
    if data.get("format") != FORMAT or data.get("bot_id") != state.bot_id:
        raise ValueError("the saved world belongs to another bot or format")
    state.clear()
    state.users = {u["id"]: UserRec(**u) for u in data["users"]}
    for raw in data["chats"]:
        raw = dict(raw)
        raw["members"] = {int(uid): status for uid, status in raw["members"]}
        raw["messages"] = [StoredMessage(**m) for m in raw["messages"]]
        chat = ChatRec(**raw)
        state.chats[chat.id] = chat
    for raw in data["files"]:
        raw = dict(raw)
        raw["content"] = base64.b64decode(raw["content"])
        rec = FileRec(**raw)
        state.files[rec.file_id] = rec
    state.ids = itertools.count(int(data["next_id"]))
    state.wall_offset = float(data.get("wall_offset", 0.0))
    world.updates.next_update_id = int(data.get("next_update_id", 1))
    world.signal.notify()


def save(world: BotWorld, path: Path) -> None:
    """Write the file atomically: a crash mid-write leaves the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(dump(world), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> dict[str, Any] | None:
    """The saved world, or None when there is none (or it cannot be read: said in the log)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("the saved world %s cannot be read (%s); starting without it", path, exc)
        return None
    return data if isinstance(data, dict) else None


async def autosave(
    world: BotWorld, path: Path, debounce: float = 0.5, saved: asyncio.Event | None = None
) -> None:
    """Save after every change, at most once per `debounce` seconds; runs until cancelled
    (and then saves once more, so the last change is never lost). `saved` is set after each
    write, for whoever waits on one."""
    try:
        while True:
            await world.signal.changed.wait()
            await asyncio.sleep(debounce)
            save(world, path)
            if saved is not None:
                saved.set()
    finally:
        with contextlib.suppress(Exception):
            save(world, path)
