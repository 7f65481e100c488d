"""The submitter's side of an item: the details a level asked for, accepting or reopening an
answer, and the automatic close of answers left without a word.

"The submitter" is the person who raised the item or, for an item raised on the branch's behalf
(by its secretary, from a report, or by a visitor), also the branch's secretary and deputies.
An answer may be reopened `FeedbackConfig.reopen_limit` times; an answer neither accepted nor
reopened is closed `auto_close_after` after it was given.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.acts import record, snapshot, submitters_item
from bot.services.feedback.common import DEFAULT_CONFIG, FeedbackConfig, FeedbackError
from bot.services.feedback.items import checked_reason, checked_text
from bot.services.feedback.levels import level_holding
from bot.services.feedback.notices import FeedbackNotices
from bot.services.feedback.presentation import esc
from storage.models import FeedbackItem
from storage.models.feedback import FeedbackStatus
from storage.repositories.feedback import FeedbackRepository


async def reply_info(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, item_id: int, text: str
) -> FeedbackItem:
    """The details asked for: back to the level (a fresh card, and the asker in private).
    Refusals: fb.not_your_item, fb.item_closed, fb.not_asked, fb.text_empty/too_long."""
    item, level = await submitters_item(session, actor, item_id, None)
    if item.status != FeedbackStatus.ASKED:
        raise FeedbackError("fb.not_asked")
    body = checked_text(text)
    before = snapshot(item)
    item.status = FeedbackStatus.TAKEN if item.taken_by else FeedbackStatus.OPEN
    event = await record(session, ctx, actor.telegram_id, item, "info", before, text=body)
    await FeedbackNotices(session, ctx).to_holder(
        item,
        level,
        event,
        ("fb.headline.info", "fb.notice.info"),
        item.taken_by,
        info=esc(body, 1500),
    )
    return item


async def accept(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, item_id: int, version: int
) -> FeedbackItem:
    """Đồng ý: the answer settles the item; it is closed."""
    item, level = await submitters_item(session, actor, item_id, version)
    if item.status != FeedbackStatus.ANSWERED:
        raise FeedbackError("fb.bad_state")
    before = snapshot(item)
    item.status, item.closed_at = FeedbackStatus.CLOSED, ctx.now()
    event = await record(session, ctx, actor.telegram_id, item, "accepted", before)
    notices = FeedbackNotices(session, ctx)
    chats = [c for c in await notices.reachable([item.answered_by]) if c != actor.telegram_id]
    await notices.to_person(chats, item, event, "accepted", "fb.notice.accepted")
    return item


async def reopen(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    reason: str,
    *,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """Chưa thỏa đáng: back to the level that answered, open, with a fresh time to answer; at
    most `config.reopen_limit` times (`fb.reopen_used`)."""
    item, level = await submitters_item(session, actor, item_id, version)
    if item.status != FeedbackStatus.ANSWERED:
        raise FeedbackError("fb.bad_state")
    if item.reopened >= config.reopen_limit:
        raise FeedbackError("fb.reopen_used", limit=config.reopen_limit)
    text = checked_reason(reason)
    before = snapshot(item)
    now = ctx.now()
    item.status, item.taken_by = FeedbackStatus.OPEN, None
    item.reopened += 1
    item.deadline = config.deadline_at(item.level_type, now, ctx.tz)
    event = await record(session, ctx, actor.telegram_id, item, "reopened", before, text=text)
    await FeedbackNotices(session, ctx, config).to_holder(
        item,
        level,
        event,
        ("fb.headline.reopened", "fb.notice.reopened"),
        item.answered_by,
        reason=esc(text, 500),
    )
    return item


async def auto_close(
    session: AsyncSession, ctx: ServiceContext, *, config: FeedbackConfig = DEFAULT_CONFIG
) -> int:
    """Close every answer given `auto_close_after` ago and neither accepted nor reopened; the
    submitter is told. Running twice closes nothing twice (the status changed)."""
    now = ctx.now()
    closed = 0
    for item in await FeedbackRepository(session).answered_before(now - config.auto_close_after):
        before = snapshot(item)
        item.status, item.closed_at = FeedbackStatus.CLOSED, now
        event = await record(session, ctx, None, item, "auto_closed", before)
        level = await level_holding(session, item)
        await FeedbackNotices(session, ctx, config).ended(
            item, level, event, None, "fb.notice.auto_closed"
        )
        closed += 1
    return closed
