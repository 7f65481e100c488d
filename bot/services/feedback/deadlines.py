"""Deadlines, exposed for /inbox and for the nudges feature (which reminds and escalates).

Each level has a time to answer counted from when the item reached it (`FeedbackConfig`); an
item still waiting there (open, taken or asked) is "near" its deadline within a window before
it and "overdue" after it. `holders` are who can act: the people who get the level's card in
private (a branch's secretary and deputies, else the district's admins) and whoever took the
item, as Telegram ids the bot can write to, plus the level's group chat when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.feedback.common import item_number
from bot.services.feedback.levels import LevelRef, level_holding
from bot.services.feedback.notices import level_people, reachable
from storage.models.feedback import LevelType
from storage.repositories.feedback import FeedbackRepository


@dataclass(frozen=True)
class DueItem:
    item_id: int
    number: str  # KN-2026-0042
    level: LevelRef
    deadline: datetime
    holders: tuple[int, ...]  # private chats (Telegram ids), then the level's chat if linked
    status: str = ""  # open | taken | asked (asked: waiting for the submitter's details)


async def items_due(
    session: AsyncSession,
    now: datetime,
    *,
    within: timedelta = timedelta(0),
    overdue: bool = True,
) -> list[DueItem]:
    """Waiting items whose deadline is at or before `now + within`, earliest first; without
    `overdue`, only those not yet past it (the "near" list)."""
    repo = FeedbackRepository(session)
    items = await repo.open_due(now + within, None if overdue else now)
    out = []
    for item in items:
        level = await level_holding(session, item)
        people = await level_people(session, level, item)
        taken = await reachable(session, [item.taken_by])
        holders = list(dict.fromkeys(taken + people))
        if level.chat_id is not None:
            holders.append(level.chat_id)
        out.append(
            DueItem(
                item_id=item.id,
                number=item_number(item.year, item.number),
                level=LevelRef(LevelType(item.level_type), item.level_id),
                deadline=item.deadline,
                holders=tuple(holders),
                status=item.status,
            )
        )
    return out
