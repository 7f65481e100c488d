"""copyMessages: several messages copied in one call, an album's grouping kept.

Kept beside `MessageMethods` (it reuses that provider's checks and storage) rather than in it,
so each module stays readable. Telegram's rules as documented: 1-100 ids in strictly increasing
order; ids that are missing or cannot be copied (service messages) are skipped; the answer is
the list of new message ids; the copies of one album share a new `media_group_id`.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .methods import _CONTENT_KEYS, MessageMethods


class AlbumMethods:
    def __init__(self, messages: MessageMethods) -> None:
        self.messages = messages

    async def api_copyMessages(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        ids = list(p["message_ids"])
        if not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must contain 1-100 identifiers")
        if any(b <= a for a, b in zip(ids, ids[1:], strict=False)):
            raise bad_request("message identifiers must be in strictly increasing order")
        m = self.messages
        source_chat = m.world.resolve(p["from_chat_id"])
        sources = []
        for mid in ids:
            stored = m.world.find(source_chat, mid)
            if stored is not None and any(k in stored.data for k in _CONTENT_KEYS):
                sources.append(stored)
        if not sources:
            raise bad_request("message to copy not found")
        chat = m._sendable(p["chat_id"])
        groups: dict[str, str] = {}
        out = []
        for stored in sources:
            content = {k: stored.data[k] for k in _CONTENT_KEYS if k in stored.data}
            if p.get("remove_caption"):
                content.pop("caption", None)
                content.pop("caption_entities", None)
            group = stored.data.get("media_group_id")
            if group is not None:
                if group not in groups:
                    groups[group] = str(10_000_000_000_000 + next(m.world.ids))
                content["media_group_id"] = groups[group]
            options: dict[str, Any] = {
                k: p[k] for k in ("message_thread_id", "protect_content") if k in p
            }
            sent = m._bot_send(chat, options, content, html=stored.html)
            out.append({"message_id": sent["message_id"]})
        return out
