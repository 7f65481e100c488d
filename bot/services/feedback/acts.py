"""What every act on an item shares: loading it locked and checking the press, and recording
the act (the event, the version, the audit row).

The order of the checks decides what a refused person reads: an item they may not act on is
"not yours" (also one that does not exist: a forged id learns nothing), then a closed item is
"closed", then an older card is "stale" (a second press of the same button records one act).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.common import FeedbackError
from bot.services.feedback.levels import Level, acts_at, level_holding
from bot.services.feedback.views import speaks_for_submitter
from storage.models import FeedbackEvent, FeedbackItem
from storage.models.feedback import FINAL_STATUSES, FeedbackStatus
from storage.repositories.feedback import FeedbackRepository

FINAL = FINAL_STATUSES


def snapshot(item: FeedbackItem) -> dict[str, Any]:
    return {
        "status": item.status,
        "level": [item.level_type, item.level_id],
        "version": item.version,
        "reopened": item.reopened,
    }


async def held_item(
    session: AsyncSession, actor: Actor, item_id: int, version: int, via_chat: int | None
) -> tuple[FeedbackItem, Level]:
    """The item, locked, with its level, when `actor` may act there now (from `via_chat`)."""
    item = await FeedbackRepository(session).item(item_id, for_update=True)
    if item is None:
        raise FeedbackError("fb.not_your_level")
    level = await level_holding(session, item)
    if not acts_at(actor, level, via_chat):
        raise FeedbackError("fb.not_your_level")
    if item.status in FINAL:
        raise FeedbackError("fb.item_closed")
    if version != item.version:
        raise FeedbackError("fb.stale")
    return item, level


async def submitters_item(
    session: AsyncSession, actor: Actor, item_id: int, version: int | None
) -> tuple[FeedbackItem, Level]:
    """The item, locked, when `actor` is its submitter (or answers for the branch)."""
    item = await FeedbackRepository(session).item(item_id, for_update=True)
    if item is None or not speaks_for_submitter(actor, item):
        raise FeedbackError("fb.not_your_item")
    if item.status in FINAL:
        raise FeedbackError("fb.item_closed")
    if version is not None and version != item.version:
        raise FeedbackError("fb.stale")
    return item, await level_holding(session, item)


def require_status(item: FeedbackItem, *allowed: FeedbackStatus) -> None:
    if item.status not in allowed:
        if item.status == FeedbackStatus.TAKEN:
            raise FeedbackError("fb.already_taken")
        raise FeedbackError("fb.bad_state")


async def record(
    session: AsyncSession,
    ctx: ServiceContext,
    actor_tg: int | None,
    item: FeedbackItem,
    action: str,
    before: dict[str, Any],
    *,
    text: str | None = None,
    data: dict[str, Any] | None = None,
) -> FeedbackEvent:
    """The act as an event at the item's (new) level, the version bumped, the audit row."""
    now = ctx.now()
    item.version += 1
    item.updated_at = now
    event = await FeedbackRepository(session).add_event(
        FeedbackEvent(
            item_id=item.id,
            at=now,
            actor_tg=actor_tg,
            action=action,
            level_type=item.level_type,
            level_id=item.level_id,
            text=text,
            data=data,
        )
    )
    await audit.record(
        session,
        action=f"feedback.{action}",
        entity_type="feedback_item",
        entity_id=item.id,
        before=before,
        after=snapshot(item),
        actor_id=actor_tg,
        district_id=item.district_id,
    )
    return event
