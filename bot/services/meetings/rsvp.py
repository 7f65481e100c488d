"""RSVPs: Có mặt / Vắng mặt from the group announcement or a private reminder.

Only active members of the meeting's branch answer, only before the meeting starts, and the
latest answer counts. The announcement's live count is the job's (`LiveCounts`), so a tap
does not count: kept to four small queries, as this runs for every tap of a burst. A member the
bot cannot write to privately (asked for the reason of an absence) is told in the branch's group
to open a private chat with the bot (`private_chat_hint`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.context import ServiceContext
from bot.services.meetings.common import ABSENCE_TEXT_MAX, MeetingError, check_length
from bot.services.meetings.notices import ORIGIN, Notices
from bot.services.meetings.reminders import dedupe_key
from storage.models import Meeting
from storage.models.meetings import AbsenceReason, MeetingStatus, NoticeKind, RsvpAnswer
from storage.repositories.meetings import MeetingRepository
from storage.repositories.outbox import OutboxRepository

ABSENCE_CODES = frozenset(AbsenceReason)


class RsvpVia(enum.StrEnum):
    GROUP = "group"  # the announcement's buttons
    PRIVATE = "private"  # a private reminder's buttons, or the reason asked in private


@dataclass(frozen=True)
class RsvpCounts:
    yes: int
    no: int
    members: int

    @property
    def unanswered(self) -> int:
        return max(self.members - self.yes - self.no, 0)


@dataclass(frozen=True)
class RsvpResult:
    meeting_id: int
    member_id: int
    answer: RsvpAnswer
    changed: bool  # False when the same answer (and reason) was already recorded

    @property
    def needs_reason(self) -> bool:
        """An absence without a reason yet: ask for one in private."""
        return self.answer == RsvpAnswer.NO and self.changed


async def record_rsvp(
    session: AsyncSession,
    clock: Clock,
    meeting_id: int,
    telegram_id: int,
    answer: RsvpAnswer,
    *,
    reason_code: AbsenceReason | None = None,
    reason_text: str | None = None,
    via: RsvpVia = RsvpVia.GROUP,
) -> RsvpResult:
    """Record one member's answer and say what was recorded and whether it changed.

    No counts: a COUNT per tap would cost every tap of a burst a query nobody reads (the
    announcement's live count is `LiveCounts`' job; `rsvp_counts` reads them on demand)."""
    if answer not in (RsvpAnswer.YES, RsvpAnswer.NO):
        raise MeetingError("meetings.error.bad_answer")
    if reason_code is not None and reason_code not in ABSENCE_CODES:
        raise MeetingError("meetings.error.bad_reason")
    if reason_text is not None:
        reason_text = check_length(reason_text, ABSENCE_TEXT_MAX, "meetings.error.reason_too_long")
    if answer == RsvpAnswer.YES:
        reason_code = reason_text = None
    answer = RsvpAnswer(answer)
    reason_code = None if reason_code is None else AbsenceReason(reason_code)
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        raise MeetingError("meetings.error.not_found")
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("meetings.error.cancelled")
    if meeting.status != MeetingStatus.SCHEDULED:
        raise MeetingError("meetings.error.not_scheduled")
    now = clock.now()
    if now >= meeting.starts_at:
        raise MeetingError("meetings.error.rsvp_closed")
    member = await repo.active_member_by_telegram(meeting.branch_id, telegram_id)
    if member is None:
        raise MeetingError("meetings.error.not_member")
    previous = await repo.rsvp(meeting.id, member.id)
    changed = previous is None or (
        previous.answer,
        previous.reason_code,
        previous.reason_text,
    ) != (answer, reason_code, reason_text)
    if changed:
        await repo.upsert_rsvp(
            meeting.id, member.id, answer, reason_code, reason_text or None, via, now
        )
        await _withdraw_own_reminder(session, meeting, telegram_id, now)
    return RsvpResult(meeting.id, member.id, answer, changed)


async def _withdraw_own_reminder(
    session: AsyncSession, meeting: Meeting, telegram_id: int, now: datetime
) -> None:
    """The member's private reminder still waiting in the outbox (held for the morning, or
    behind a backlog) would ask a question already answered: it never leaves."""
    key = dedupe_key(meeting.id, meeting.version, NoticeKind.MEMBER_24H.value, telegram_id)
    await OutboxRepository(session).cancel_unsent(
        ORIGIN, str(meeting.id), now, "withdrawn: answered", key=key
    )


async def set_absence_reason(
    session: AsyncSession,
    clock: Clock,
    meeting_id: int,
    telegram_id: int,
    reason_code: AbsenceReason,
    reason_text: str | None = None,
) -> RsvpResult:
    """The reason for an absence (one tap from the short list, or text), asked in private."""
    return await record_rsvp(
        session,
        clock,
        meeting_id,
        telegram_id,
        RsvpAnswer.NO,
        reason_code=reason_code,
        reason_text=reason_text,
        via=RsvpVia.PRIVATE,
    )


async def rsvp_counts(session: AsyncSession, meeting_id: int) -> RsvpCounts:
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        raise MeetingError("meetings.error.not_found")
    return RsvpCounts(*await repo.rsvp_counts(meeting.id, meeting.branch_id))


async def private_chat_hint(
    session: AsyncSession,
    ctx: ServiceContext,
    meeting_id: int,
    telegram_id: int,
    name: str,
    url: str,
) -> bool:
    """The bot could not ask this member in private (no chat with it yet): say so in the
    branch's current group, once per person and group. False when nothing was queued.

    The member is named as the organisation writes them (family name first), not by the
    Telegram account's first and last name; `name` is only for an account it does not know."""
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        return False
    member = await repo.active_member_by_telegram(meeting.branch_id, telegram_id)
    if member is not None:
        name = member.full_name
    return await Notices(session, ctx).private_chat_hint(meeting, telegram_id, name, url)
