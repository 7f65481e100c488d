"""The last-moment check: a nudge or escalation about to go out is withdrawn when nothing in
it is owed any more (the secretary reported between the sweep and the send).

Registered with the outbox (`bot.outbox.before_send("nudge", check)`): the sender runs it on
the rows it just claimed, in the claim's transaction, about two seconds before they leave. A
message that still names one obligation owed goes out whole (its other buttons then answer
"already done"): rewriting a queued message would cost more than it saves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import before_send
from bot.outbox.addresses import on_readdress
from bot.services.nudges.obligations import Status
from bot.services.nudges.registry import statuses
from storage.models import OutboxEntry
from storage.repositories.nudges import NudgeRepository

ORIGIN = "nudge"
WITHDRAWN = "withdrawn: done meanwhile"


async def check(
    session: AsyncSession, rows: Sequence[OutboxEntry], now: datetime
) -> dict[int, str]:
    repo = NudgeRepository(session)
    events = await repo.events_by_outbox(r.id for r in rows)
    keys: dict[int, set[str]] = defaultdict(set)
    for e in events:
        if e.outbox_id is not None:
            keys[e.outbox_id].add(e.key)
    # The outbox's check has no context: local days in the default zone (the bot's own).
    found = await statuses(session, {k for ks in keys.values() for k in ks}, now)
    gone = [i for i, ks in keys.items() if not any(found[k] is Status.OWED for k in ks)]
    await repo.mark_withdrawn(gone, now)
    return dict.fromkeys(gone, WITHDRAWN)


async def readdressed(session: AsyncSession, moved: dict[int, int]) -> None:
    """A nudge left for its group's new chat (the target relinked meanwhile): its events
    follow, so "Nhắc lại sau" pressed there is the chat's own."""
    for event in await NudgeRepository(session).events_by_outbox(moved):
        if event.outbox_id is not None:
            event.chat_id = moved[event.outbox_id]


def register() -> None:
    before_send(ORIGIN, check)
    on_readdress(ORIGIN, readdressed)


register()
