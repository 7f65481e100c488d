"""An album arrives as one update per item, handled concurrently: gather them into one draft.

Each item's update adds its message id here and waits `SETTLE` seconds; the update of the
item that arrived last (nothing came after it for `SETTLE`) takes the whole album, the others
end quietly. Kept in this process's memory, not in the conversation state: the items' updates
read that state at the same moment, so each would write back its own list and lose the
others'. Telegram sends an album's items together, to the process polling (or one webhook
process), so one process sees them all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

SETTLE = 1.2  # seconds without a new item before the album counts as complete


@dataclass
class _Album:
    ids: set[int] = field(default_factory=set)
    excerpts: dict[int, str] = field(default_factory=dict)
    last: float = 0.0
    taken: bool = False


_albums: dict[tuple[int, str], _Album] = {}


async def collect(
    chat_id: int, group_id: str, message_id: int, excerpt: str
) -> tuple[tuple[int, ...], str] | None:
    """Add an item; for the last one, after the pause: every id (ascending) and the first
    caption. None for the others."""
    loop = asyncio.get_running_loop()
    key = (chat_id, group_id)
    album = _albums.setdefault(key, _Album())
    album.ids.add(message_id)
    if excerpt:
        album.excerpts[message_id] = excerpt
    album.last = loop.time()
    await asyncio.sleep(SETTLE)
    if album.taken or loop.time() - album.last < SETTLE * 0.99:
        return None  # taken, or a later item came and will take it
    album.taken = True
    _albums.pop(key, None)
    ids = tuple(sorted(album.ids))
    first = next((album.excerpts[i] for i in ids if i in album.excerpts), "")
    return ids, first
