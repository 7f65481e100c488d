"""The acts at a level: take, forward, ask, answer, close, reject (and, re-exported from
`submitter`, the submitter's side: details, accept, reopen, and the automatic close).

Every act is `(session, ctx, actor, item_id, version, *, via_chat=None, ...)`: the item is
locked, the press checked (`acts.held_item`: not yours / closed / stale), the change made, one
event appended, the version bumped, and the notices it causes queued, all in the caller's
transaction. A refusal raises `FeedbackError` before anything changes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.acts import held_item, record, require_status, snapshot
from bot.services.feedback.common import DEFAULT_CONFIG, FeedbackConfig, FeedbackError
from bot.services.feedback.items import checked_reason, checked_text, departments
from bot.services.feedback.levels import (
    Level,
    LevelRef,
    acts_at,
    find_level,
    level_above,
    level_holding,
)
from bot.services.feedback.notices import FeedbackNotices
from bot.services.feedback.submitter import accept, auto_close, reopen, reply_info
from bot.services.feedback.views import ItemView, item_view
from bot.services.vn_sort import vn_sorted
from storage.models import FeedbackItem
from storage.models.feedback import FeedbackStatus, LevelType
from storage.models.org import TargetType
from storage.repositories.feedback import FeedbackRepository

__all__ = [
    "ItemView",
    "accept",
    "answer",
    "ask",
    "auto_close",
    "close",
    "forward",
    "forward_targets",
    "item_view",
    "reject",
    "reopen",
    "reply_info",
    "take",
]

_WAITING = (FeedbackStatus.OPEN, FeedbackStatus.TAKEN, FeedbackStatus.ASKED)
# The states each typed act may start from (the press check in `prompts` asks the same).
ASK_FROM = (FeedbackStatus.OPEN, FeedbackStatus.TAKEN)
ANSWER_FROM = _WAITING
CLOSE_FROM = (*_WAITING, FeedbackStatus.ANSWERED)
REJECT_FROM = _WAITING


async def take(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
) -> FeedbackItem:
    """Nhận xử lý: the person pressing handles the item (told of the submitter's details)."""
    item, _level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, FeedbackStatus.OPEN)
    before = snapshot(item)
    item.status, item.taken_by = FeedbackStatus.TAKEN, actor.telegram_id
    await record(session, ctx, actor.telegram_id, item, "taken", before)
    return item


async def _targets(session: AsyncSession, item: FeedbackItem, current: Level) -> list[Level]:
    """Where an item may go from `current`, along the organisation's tree only.

    Up from a branch: the level above. From a unit (a commune's committee): the committee
    above it (its parent, or the top committee), the top committee's departments (they answer
    for it), and the units directly under it; never a sibling commune, which has no say over
    another's branches. From the top committee or a department: the top committee, its
    departments and any unit of the district (it sends an item down to where it belongs);
    the current level excepted."""
    if current.type is LevelType.BRANCH:
        above = await level_above(session, current.ref)
        return [above] if above is not None else []
    repo = FeedbackRepository(session)
    out: list[Level] = []
    district = await find_level(session, LevelRef(LevelType.DISTRICT, item.district_id))
    units = vn_sorted(await repo.units_of_district(item.district_id), key=lambda u: u.name)
    if current.type is LevelType.UNIT:
        above = await level_above(session, current.ref)
        if above is not None:
            out.append(above)
        if district is not None and district.ref not in {lv.ref for lv in out}:
            out.append(district)
        units = [u for u in units if u.parent_id == current.id]
    elif district is not None:
        out.append(district)
    for dep in await departments(session, item.district_id):
        out.append(Level(LevelType.DEPARTMENT, dep.id, dep.district_id, dep.name, dep.chat_id))
    chats = await repo.chats_of(TargetType.UNIT, (u.id for u in units))
    out += [Level(LevelType.UNIT, u.id, item.district_id, u.name, chats.get(u.id)) for u in units]
    return [lv for lv in out if lv.ref != current.ref]


async def forward_targets(
    session: AsyncSession, actor: Actor, item_id: int, *, via_chat: int | None = None
) -> list[Level]:
    """Where the person may send the item now (the buttons after "Chuyển")."""
    item = await FeedbackRepository(session).item(item_id)
    if item is None:
        raise FeedbackError("fb.not_your_level")
    level = await level_holding(session, item)
    if not acts_at(actor, level, via_chat):
        raise FeedbackError("fb.not_your_level")
    if item.status not in _WAITING:
        answered = item.status == FeedbackStatus.ANSWERED
        raise FeedbackError("fb.bad_state" if answered else "fb.item_closed")
    return await _targets(session, item, level)


async def forward(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    to: LevelRef,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """Chuyển: along the tree (`_targets`: up, to the top committee's departments, or down);
    the deadline restarts there, at the end of an office day. `fb.bad_target` for anything
    else (a sibling commune included)."""
    item, level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, *_WAITING)
    target = next((lv for lv in await _targets(session, item, level) if lv.ref == to), None)
    if target is None:
        raise FeedbackError("fb.bad_target")
    before = snapshot(item)
    now = ctx.now()
    item.level_type, item.level_id = target.type, target.id
    item.reached_level_at = now
    item.deadline = config.deadline_at(target.type, now, ctx.tz)
    item.status, item.taken_by = FeedbackStatus.OPEN, None
    data = {"from": [level.type.value, level.id], "to": [target.type.value, target.id]}
    event = await record(session, ctx, actor.telegram_id, item, "forwarded", before, data=data)
    await FeedbackNotices(session, ctx, config).moved(item, target, event, actor)
    return item


async def ask(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    question: str,
) -> FeedbackItem:
    """Hỏi thêm: the question goes to the submitter, whose details come back to the asker.
    Refused (`fb.cannot_ask`) when nobody who speaks for the item can be written to."""
    item, level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, *ASK_FROM)
    text = checked_text(question)
    notices = FeedbackNotices(session, ctx)
    if not await notices.submitter_chats(item, with_leaders=True):
        raise FeedbackError("fb.cannot_ask")
    before = snapshot(item)
    item.status, item.question = FeedbackStatus.ASKED, text
    item.taken_by = item.taken_by or actor.telegram_id
    event = await record(session, ctx, actor.telegram_id, item, "asked", before, text=text)
    await notices.asked(item, level, event)
    return item


async def answer(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    text: str,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """Trả lời: the answer to the submitter (accept / reopen) and to the branch's group unless
    the item is private; on time when given by the level's deadline."""
    item, level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, *ANSWER_FROM)
    body = checked_text(text)
    before = snapshot(item)
    now = ctx.now()
    item.status, item.answer = FeedbackStatus.ANSWERED, body
    item.answered_at, item.answered_by = now, actor.telegram_id
    item.answered_level, item.answered_on_time = level.type, now <= item.deadline
    item.first_answered_at = item.first_answered_at or now
    event = await record(session, ctx, actor.telegram_id, item, "answered", before, text=body)
    await FeedbackNotices(session, ctx, config).answered(item, level, event, actor)
    return item


async def _end(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item: FeedbackItem,
    level: Level,
    status: FeedbackStatus,
    reason: str,
    action: str,
) -> FeedbackItem:
    text = checked_reason(reason)
    before = snapshot(item)
    item.status, item.closed_at, item.close_reason = status, ctx.now(), text
    event = await record(session, ctx, actor.telegram_id, item, action, before, text=text)
    await FeedbackNotices(session, ctx).ended(item, level, event, actor, f"fb.notice.{action}")
    return item


async def close(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    reason: str,
) -> FeedbackItem:
    """Đóng, with a reason (also after an answer nobody accepted)."""
    item, level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, *CLOSE_FROM)
    return await _end(session, ctx, actor, item, level, FeedbackStatus.CLOSED, reason, "closed")


async def reject(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    reason: str,
) -> FeedbackItem:
    """Từ chối, with a reason, before any answer."""
    item, level = await held_item(session, actor, item_id, version, via_chat)
    require_status(item, *REJECT_FROM)
    return await _end(session, ctx, actor, item, level, FeedbackStatus.REJECTED, reason, "rejected")
