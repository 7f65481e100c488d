"""The visitor's 24 h reminder: place and agenda of the meeting they visit, once per version.

Same rules as the branch's own reminders (see `bot.services.meetings.reminders`): the database
decides what is due, the notice row and its outbox row share a dedupe key, so a restart or a
second process neither loses nor repeats one; a meeting moved after the reminder gets a fresh
one for its new version (the correction already went to the branch, the visitor needs it too).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import OutboxKind, OutboxMessage, enqueue, send_moment
from bot.services.context import ServiceContext
from bot.services.meetings import presentation as mp
from bot.services.meetings.notices import reminder_latest
from bot.services.meetings.reminders import OFFSETS, record_notice
from bot.services.rosters.notices import RosterNotices
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository
from storage.repositories.rosters import RosterRepository

LEAD = OFFSETS[NoticeKind.VISITOR_24H]


async def visitor_reminders(session: AsyncSession, ctx: ServiceContext) -> int:
    """Queue the visitor reminders due now; how many were queued."""
    now = ctx.now()
    repo = RosterRepository(session)
    meetings = MeetingRepository(session)
    visits = await repo.published_visits(since=now, before=now + LEAD + timedelta(seconds=1))
    if not visits:
        return 0
    visitors = await repo.members(v.visitor_member_id for v in visits)
    notices = RosterNotices(session, ctx)
    chats = await notices.reachable(visitors.values())
    locales = await notices.locales_of(chats.values())
    queued = 0
    for visit in visits:
        chat_id = chats.get(visit.visitor_member_id)
        if chat_id is None or visit.meeting_id is None:
            continue
        meeting = await meetings.get(visit.meeting_id)
        if meeting is None or meeting.status == MeetingStatus.CANCELLED:
            continue
        if not now >= meeting.starts_at - LEAD or meeting.starts_at <= now:
            continue
        branch = await meetings.branch(meeting.branch_id)
        if branch is None:
            continue
        notice = await record_notice(
            session,
            meeting,
            NoticeKind.VISITOR_24H,
            chat_id,
            now,
            member_id=visit.visitor_member_id,
        )
        if notice is None:
            continue
        loc = locales[chat_id]
        latest = reminder_latest(meeting)
        at = send_moment(OutboxKind.REMINDER, now, latest=latest)
        text = mp.reminder_text(
            ctx.i18n, loc, NoticeKind.VISITOR_24H, meeting, branch, at=at, tz=ctx.tz
        )
        text += "\n\n" + ctx.i18n.t("roster.remind.report", loc)
        notice.outbox_id = await enqueue(
            session,
            OutboxMessage(
                chat_id=chat_id,
                kind=OutboxKind.REMINDER,
                text=mp.cut(text, mp.TEXT_LIMIT),
                dedupe_key=notice.dedupe_key,
                origin_type="roster_visit",
                origin_id=visit.id,
                latest=latest,
            ),
            clock=ctx.clock,
        )
        queued += 1
    return queued
