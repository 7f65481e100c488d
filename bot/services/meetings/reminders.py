"""Which reminders are due, and the record of what each chat was told about which version.

The database decides what is due, so a restart neither loses nor repeats a reminder: a reminder
is due for the meeting's *current* version only, and recording it (`record_notice`, in the same
transaction as its outbox row, whose dedupe key it shares) makes it not due any more.

Per chat, only the latest passed stage is sent: a bot that was down at the 24 h mark and is back
1 h before the meeting sends the 2 h reminder, not both. A correction or announcement sent after
a stage's moment counts as that stage (the chat already has the new details).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Meeting, MeetingNotice, MeetingSettings
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository
from storage.repositories.recipients import RecipientRepository

OFFSETS: dict[NoticeKind, timedelta] = {
    NoticeKind.GROUP_24H: timedelta(hours=24),
    NoticeKind.GROUP_2H: timedelta(hours=2),
    NoticeKind.MEMBER_24H: timedelta(hours=24),
    NoticeKind.VISITOR_24H: timedelta(hours=24),
}
# Kinds that carry the meeting's full current details to a chat.
_INFORMING = frozenset({NoticeKind.ANNOUNCE, NoticeKind.CORRECTION})


def dedupe_key(meeting_id: int, version: int, kind: str, chat_id: int) -> str:
    return f"mtg:{meeting_id}:v{version}:{kind}:{chat_id}"


@dataclass(frozen=True)
class DueNotice:
    meeting_id: int
    version: int
    kind: NoticeKind
    chat_id: int
    member_id: int | None = None

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.meeting_id, self.version, self.kind.value, self.chat_id)


def _covered(
    notices: list[MeetingNotice],
    chat_id: int,
    version: int,
    stage: NoticeKind,
    moment: datetime,
    later: set[NoticeKind],
) -> bool:
    for n in notices:
        if n.chat_id != chat_id or n.version != version:
            continue
        if n.kind == stage or n.kind in later:
            return True
        if n.kind in _INFORMING and n.created_at >= moment:
            return True
    return False


def _latest_stage(
    meeting: Meeting, stages: list[NoticeKind], now: datetime
) -> tuple[NoticeKind, datetime, set[NoticeKind]] | None:
    """The last stage whose moment has passed, with the stages after it."""
    passed = [(s, meeting.starts_at - OFFSETS[s]) for s in stages]
    passed = [(s, at) for s, at in passed if at <= now]
    if not passed:
        return None
    passed.sort(key=lambda p: p[1])
    stage, moment = passed[-1]
    later = {s for s in stages if meeting.starts_at - OFFSETS[s] > moment}
    return stage, moment, later


async def due_reminders(session: AsyncSession, now: datetime) -> list[DueNotice]:
    """Group reminders (24 h, 2 h, per-branch switches) and private 24 h reminders to members
    who have not answered and can be written to; for scheduled meetings in the next 24 h."""
    repo = MeetingRepository(session)
    horizon = max(OFFSETS.values())
    meetings = await repo.starting_between(now, now + horizon, [MeetingStatus.SCHEDULED])
    if not meetings:
        return []
    settings = await repo.settings(list({m.branch_id for m in meetings}))
    all_notices = await repo.notices([m.id for m in meetings])
    due: list[DueNotice] = []
    for meeting in meetings:
        notices = [n for n in all_notices if n.meeting_id == meeting.id]
        switches = settings.get(meeting.branch_id) or MeetingSettings(
            remind_group_24h=True, remind_group_2h=True, remind_members_24h=True
        )
        group_stages = [
            s
            for s, on in (
                (NoticeKind.GROUP_24H, switches.remind_group_24h),
                (NoticeKind.GROUP_2H, switches.remind_group_2h),
            )
            if on
        ]
        # The branch's current group, never the one the announcement went to: a branch that
        # moved to a new group, or whose group removed the bot, is reminded there or not at all.
        chat_id = await RecipientRepository(session).branch_chat(meeting.branch_id)
        latest = _latest_stage(meeting, group_stages, now)
        if chat_id is not None and latest is not None:
            stage, moment, later = latest
            if not _covered(notices, chat_id, meeting.version, stage, moment, later):
                due.append(DueNotice(meeting.id, meeting.version, stage, chat_id))
        member_stage = _latest_stage(meeting, [NoticeKind.MEMBER_24H], now)
        if switches.remind_members_24h and member_stage is not None:
            stage, moment, later = member_stage
            answered = {r.member_id for r in await repo.rsvps(meeting.id)}
            members = [
                m
                for m in await repo.active_members(meeting.branch_id)
                if m.telegram_id is not None and m.id not in answered
            ]
            reachable = await RecipientRepository(session).reachable_telegram_ids(
                m.telegram_id for m in members if m.telegram_id
            )
            for member in members:
                assert member.telegram_id is not None
                if member.telegram_id not in reachable:
                    continue
                if _covered(notices, member.telegram_id, meeting.version, stage, moment, later):
                    continue
                due.append(
                    DueNotice(meeting.id, meeting.version, stage, member.telegram_id, member.id)
                )
    return due


async def record_notice(
    session: AsyncSession,
    meeting: Meeting,
    kind: NoticeKind,
    chat_id: int,
    now: datetime,
    *,
    member_id: int | None = None,
    outbox_id: int | None = None,
) -> MeetingNotice | None:
    """Remember that `chat_id` was sent `kind` for the meeting's current version; None when it
    was already recorded (a concurrent job or a retry got there first)."""
    notice = MeetingNotice(
        meeting_id=meeting.id,
        kind=kind,
        chat_id=chat_id,
        member_id=member_id,
        version=meeting.version,
        dedupe_key=dedupe_key(meeting.id, meeting.version, kind.value, chat_id),
        outbox_id=outbox_id,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(notice)
            await session.flush()
    except IntegrityError:
        return None
    return notice
