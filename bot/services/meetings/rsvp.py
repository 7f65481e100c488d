"""RSVPs: Có mặt / Vắng mặt from the group announcement or a private reminder.

Only active members of the meeting's branch answer, only before the meeting starts, and the
latest answer counts. Every call returns the live counts for the announcement.
Kept to five small queries: this runs for every tap of a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.meetings.common import ABSENCE_TEXT_MAX, MeetingError, check_length
from storage.models.meetings import AbsenceReason, MeetingStatus, RsvpAnswer
from storage.repositories.meetings import MeetingRepository

ABSENCE_CODES = tuple(r.value for r in AbsenceReason)


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
    answer: str
    changed: bool  # False when the same answer (and reason) was already recorded
    counts: RsvpCounts

    @property
    def needs_reason(self) -> bool:
        """An absence without a reason yet: ask for one in private."""
        return self.answer == RsvpAnswer.NO.value and self.changed


async def record_rsvp(
    session: AsyncSession,
    clock: Clock,
    meeting_id: int,
    telegram_id: int,
    answer: str,
    *,
    reason_code: str | None = None,
    reason_text: str | None = None,
    via: str = "group",
) -> RsvpResult:
    """Record one member's answer and return the new counts."""
    if answer not in (RsvpAnswer.YES.value, RsvpAnswer.NO.value):
        raise MeetingError("meetings.error.bad_answer")
    if reason_code is not None and reason_code not in ABSENCE_CODES:
        raise MeetingError("meetings.error.bad_reason")
    if reason_text is not None:
        reason_text = check_length(reason_text, ABSENCE_TEXT_MAX, "meetings.error.reason_too_long")
    if answer == RsvpAnswer.YES.value:
        reason_code = reason_text = None
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        raise MeetingError("meetings.error.not_found")
    if meeting.status == MeetingStatus.CANCELLED.value:
        raise MeetingError("meetings.error.cancelled")
    if meeting.status != MeetingStatus.SCHEDULED.value:
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
    yes, no, members = await repo.rsvp_counts(meeting.id, meeting.branch_id)
    return RsvpResult(meeting.id, member.id, answer, changed, RsvpCounts(yes, no, members))


async def set_absence_reason(
    session: AsyncSession,
    clock: Clock,
    meeting_id: int,
    telegram_id: int,
    reason_code: str,
    reason_text: str | None = None,
) -> RsvpResult:
    """The reason for an absence (one tap from the short list, or text), asked in private."""
    return await record_rsvp(
        session,
        clock,
        meeting_id,
        telegram_id,
        RsvpAnswer.NO.value,
        reason_code=reason_code,
        reason_text=reason_text,
        via="private",
    )


async def rsvp_counts(session: AsyncSession, meeting_id: int) -> RsvpCounts:
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        raise MeetingError("meetings.error.not_found")
    return RsvpCounts(*await repo.rsvp_counts(meeting.id, meeting.branch_id))
