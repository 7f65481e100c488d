"""Queries for meetings, RSVPs, reports, notices and reminder settings.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    Meeting,
    MeetingNotice,
    MeetingReport,
    MeetingRsvp,
    MeetingSettings,
    Member,
)
from storage.models.meetings import (
    AbsenceReason,
    MeetingKind,
    MeetingStatus,
    NoticeKind,
    RsvpAnswer,
)
from storage.models.outbox import OutboxEntry, OutboxState

OPEN_STATUSES = (MeetingStatus.PLANNED, MeetingStatus.SCHEDULED)
# What the bot writes about a meeting in the branch's group and keeps current there.
GROUP_KINDS = (
    NoticeKind.ANNOUNCE,
    NoticeKind.CORRECTION,
    NoticeKind.GROUP_24H,
    NoticeKind.GROUP_2H,
)


class MeetingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Meetings --------------------------------------------------------------------------------

    async def get(self, meeting_id: int, *, for_update: bool = False) -> Meeting | None:
        if not for_update:
            return await self.session.get(Meeting, meeting_id)
        stmt = select(Meeting).where(Meeting.id == meeting_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def regular_for_month(self, branch_id: int, year: int, month: int) -> Meeting | None:
        stmt = select(Meeting).where(
            Meeting.branch_id == branch_id,
            Meeting.kind == MeetingKind.REGULAR,
            Meeting.period_year == year,
            Meeting.period_month == month,
        )
        return (await self.session.scalars(stmt)).first()

    async def regular_periods(
        self, branch_ids: Sequence[int], periods: Sequence[tuple[int, int]]
    ) -> set[tuple[int, int, int]]:
        """(branch_id, year, month) of the regular meetings that exist among these."""
        if not branch_ids or not periods:
            return set()
        years = {y for y, _ in periods}
        stmt = select(Meeting.branch_id, Meeting.period_year, Meeting.period_month).where(
            Meeting.kind == MeetingKind.REGULAR,
            Meeting.branch_id.in_(branch_ids),
            Meeting.period_year.in_(years),
        )
        wanted = set(periods)
        return {
            (b, y, m) for b, y, m in (await self.session.execute(stmt)).all() if (y, m) in wanted
        }

    async def of_branch(
        self,
        branch_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Meeting]:
        stmt = select(Meeting).where(Meeting.branch_id == branch_id)
        if since is not None:
            stmt = stmt.where(Meeting.starts_at >= since)
        if until is not None:
            stmt = stmt.where(Meeting.starts_at < until)
        if statuses is not None:
            stmt = stmt.where(Meeting.status.in_(list(statuses)))
        if kinds is not None:
            stmt = stmt.where(Meeting.kind.in_(list(kinds)))
        order = Meeting.starts_at.desc() if newest_first else Meeting.starts_at
        stmt = stmt.order_by(order, Meeting.id).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def of_branches(
        self, branch_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[Meeting]:
        if not branch_ids:
            return []
        stmt = (
            select(Meeting)
            .where(
                Meeting.branch_id.in_(branch_ids),
                Meeting.starts_at >= since,
                Meeting.starts_at < until,
            )
            .order_by(Meeting.branch_id, Meeting.starts_at)
        )
        return list((await self.session.scalars(stmt)).all())

    async def starting_between(
        self, since: datetime, until: datetime, statuses: Iterable[str]
    ) -> list[Meeting]:
        stmt = (
            select(Meeting)
            .where(
                Meeting.starts_at > since,
                Meeting.starts_at <= until,
                Meeting.status.in_(list(statuses)),
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def pending_shift_notices(self, branch_id: int | None = None) -> list[Meeting]:
        stmt = select(Meeting).where(
            Meeting.shifted_from.is_not(None),
            Meeting.shift_told_at.is_(None),
            Meeting.status != MeetingStatus.CANCELLED,
        )
        if branch_id is not None:
            stmt = stmt.where(Meeting.branch_id == branch_id)
        return list((await self.session.scalars(stmt.order_by(Meeting.starts_at))).all())

    # Org lookups the meeting rules need ------------------------------------------------------

    async def active_branches(self, branch_ids: Sequence[int] | None = None) -> list[Branch]:
        stmt = select(Branch).where(Branch.active.is_(True))
        if branch_ids is not None:
            stmt = stmt.where(Branch.id.in_(branch_ids))
        return list((await self.session.scalars(stmt.order_by(Branch.id))).all())

    async def active_branch_ids(self) -> list[int]:
        stmt = select(Branch.id).where(Branch.active.is_(True)).order_by(Branch.id)
        return list((await self.session.scalars(stmt)).all())

    async def branches(self, branch_ids: Sequence[int]) -> list[Branch]:
        """The branches with these ids, active or not."""
        if not branch_ids:
            return []
        stmt = select(Branch).where(Branch.id.in_(list(set(branch_ids))))
        return list((await self.session.scalars(stmt.order_by(Branch.id))).all())

    async def branch(self, branch_id: int) -> Branch | None:
        return await self.session.get(Branch, branch_id)

    async def active_member_by_telegram(self, branch_id: int, telegram_id: int) -> Member | None:
        stmt = select(Member).where(
            Member.branch_id == branch_id,
            Member.telegram_id == telegram_id,
            Member.active.is_(True),
        )
        return (await self.session.scalars(stmt)).first()

    async def active_members(self, branch_id: int) -> list[Member]:
        stmt = (
            select(Member)
            .where(Member.branch_id == branch_id, Member.active.is_(True))
            .order_by(Member.full_name, Member.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def count_active_members(self, branch_id: int) -> int:
        stmt = select(func.count()).where(Member.branch_id == branch_id, Member.active.is_(True))
        return int((await self.session.scalar(stmt)) or 0)

    # RSVPs -----------------------------------------------------------------------------------

    async def upsert_rsvp(
        self,
        meeting_id: int,
        member_id: int,
        answer: RsvpAnswer,
        reason_code: AbsenceReason | None,
        reason_text: str | None,
        via: str,
        at: datetime,
    ) -> None:
        """Insert or overwrite one answer atomically, so two quick taps never collide."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values = {
            "meeting_id": meeting_id,
            "member_id": member_id,
            "answer": answer,
            "reason_code": reason_code,
            "reason_text": reason_text,
            "via": via,
            "answered_at": at,
        }
        stmt = insert(MeetingRsvp).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["meeting_id", "member_id"],
            set_={k: stmt.excluded[k] for k in values if k not in ("meeting_id", "member_id")},
        )
        await self.session.execute(stmt)

    async def rsvp(self, meeting_id: int, member_id: int) -> MeetingRsvp | None:
        return await self.session.get(MeetingRsvp, (meeting_id, member_id))

    async def rsvps(self, meeting_id: int) -> list[MeetingRsvp]:
        stmt = select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting_id)
        return list((await self.session.scalars(stmt)).all())

    async def answers_of(
        self, member_id: int, meeting_ids: Sequence[int]
    ) -> dict[int, MeetingRsvp]:
        """One member's answers to these meetings, by meeting id."""
        if not meeting_ids:
            return {}
        stmt = select(MeetingRsvp).where(
            MeetingRsvp.member_id == member_id, MeetingRsvp.meeting_id.in_(meeting_ids)
        )
        return {r.meeting_id: r for r in (await self.session.scalars(stmt)).all()}

    async def rsvp_counts(self, meeting_id: int, branch_id: int) -> tuple[int, int, int]:
        """(yes, no, active members) in one query; answers of people who left do not count."""
        yes = func.sum(case((MeetingRsvp.answer == RsvpAnswer.YES, 1), else_=0))
        no = func.sum(case((MeetingRsvp.answer == RsvpAnswer.NO, 1), else_=0))
        stmt = (
            select(yes, no, func.count(Member.id))
            .select_from(Member)
            .outerjoin(
                MeetingRsvp,
                (MeetingRsvp.member_id == Member.id) & (MeetingRsvp.meeting_id == meeting_id),
            )
            .where(Member.branch_id == branch_id, Member.active.is_(True))
        )
        row = (await self.session.execute(stmt)).one()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    # Reports ---------------------------------------------------------------------------------

    async def report_versions(self, meeting_id: int) -> list[MeetingReport]:
        stmt = (
            select(MeetingReport)
            .where(MeetingReport.meeting_id == meeting_id)
            .order_by(MeetingReport.version)
        )
        return list((await self.session.scalars(stmt)).all())

    async def current_reports(self, meeting_ids: Sequence[int]) -> dict[int, MeetingReport]:
        """The latest version of each meeting's report."""
        if not meeting_ids:
            return {}
        latest = (
            select(MeetingReport.meeting_id, func.max(MeetingReport.version).label("v"))
            .where(MeetingReport.meeting_id.in_(meeting_ids))
            .group_by(MeetingReport.meeting_id)
            .subquery()
        )
        stmt = select(MeetingReport).join(
            latest,
            (MeetingReport.meeting_id == latest.c.meeting_id)
            & (MeetingReport.version == latest.c.v),
        )
        return {r.meeting_id: r for r in (await self.session.scalars(stmt)).all()}

    # Notices ---------------------------------------------------------------------------------

    async def notices(self, meeting_ids: Sequence[int]) -> list[MeetingNotice]:
        if not meeting_ids:
            return []
        stmt = select(MeetingNotice).where(MeetingNotice.meeting_id.in_(meeting_ids))
        return list((await self.session.scalars(stmt.order_by(MeetingNotice.id))).all())

    async def notice_exists(self, meeting_id: int, kind: str, chat_id: int, version: int) -> bool:
        stmt = select(MeetingNotice.id).where(
            MeetingNotice.meeting_id == meeting_id,
            MeetingNotice.kind == kind,
            MeetingNotice.chat_id == chat_id,
            MeetingNotice.version == version,
        )
        return (await self.session.scalar(stmt)) is not None

    async def live_message(
        self, meeting_id: int, version: int, group_chat_id: int
    ) -> tuple[str, int, int, str] | None:
        """(kind, chat, message id, text as sent) of the latest delivered announcement or
        correction of this version in `group_chat_id` (the branch's current group): the
        message with the count."""
        stmt = (
            select(
                MeetingNotice.kind,
                OutboxEntry.sent_chat_id,
                OutboxEntry.chat_id,
                OutboxEntry.telegram_message_id,
                OutboxEntry.text,
            )
            .join(OutboxEntry, OutboxEntry.id == MeetingNotice.outbox_id)
            .where(
                MeetingNotice.meeting_id == meeting_id,
                MeetingNotice.version == version,
                MeetingNotice.kind.in_([NoticeKind.ANNOUNCE, NoticeKind.CORRECTION]),
                MeetingNotice.chat_id == group_chat_id,
                OutboxEntry.state == OutboxState.SENT,
                OutboxEntry.telegram_message_id.is_not(None),
            )
            .order_by(MeetingNotice.id.desc())
            .limit(1)
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        kind, sent_chat, chat, message_id, text = row
        assert message_id is not None  # filtered above
        return str(kind), int(sent_chat or chat), int(message_id), text or ""

    async def group_messages(
        self, meeting_id: int, group_chat_id: int
    ) -> list[tuple[str, int, int, int, str]]:
        """(kind, version, chat, message id, text as sent) of every delivered announcement,
        correction and group reminder of the meeting, any version, in `group_chat_id` (the
        branch's current group), oldest first: the messages that must show the meeting as it
        is now (a reminder carries the Có mặt / Vắng mặt buttons too)."""
        stmt = (
            select(
                MeetingNotice.kind,
                MeetingNotice.version,
                OutboxEntry.sent_chat_id,
                OutboxEntry.chat_id,
                OutboxEntry.telegram_message_id,
                OutboxEntry.text,
            )
            .join(OutboxEntry, OutboxEntry.id == MeetingNotice.outbox_id)
            .where(
                MeetingNotice.meeting_id == meeting_id,
                MeetingNotice.kind.in_([k.value for k in GROUP_KINDS]),
                MeetingNotice.chat_id == group_chat_id,
                OutboxEntry.state == OutboxState.SENT.value,
                OutboxEntry.telegram_message_id.is_not(None),
            )
            .order_by(MeetingNotice.id)
        )
        return [
            (str(kind), int(version), int(sent_chat or chat), int(message_id or 0), text or "")
            for kind, version, sent_chat, chat, message_id, text in await self.session.execute(stmt)
        ]

    async def member_reminders(self, meeting_id: int) -> list[tuple[int, int, int, int, str]]:
        """(version, member id, chat, message id, text as sent) of every delivered private
        reminder of the meeting, any version, oldest first: they ask for an answer, so they
        must follow the answers given anywhere (and the meeting's changes)."""
        stmt = (
            select(
                MeetingNotice.version,
                MeetingNotice.member_id,
                OutboxEntry.sent_chat_id,
                OutboxEntry.chat_id,
                OutboxEntry.telegram_message_id,
                OutboxEntry.text,
            )
            .join(OutboxEntry, OutboxEntry.id == MeetingNotice.outbox_id)
            .where(
                MeetingNotice.meeting_id == meeting_id,
                MeetingNotice.kind == NoticeKind.MEMBER_24H.value,
                MeetingNotice.member_id.is_not(None),
                OutboxEntry.state == OutboxState.SENT.value,
                OutboxEntry.telegram_message_id.is_not(None),
            )
            .order_by(MeetingNotice.id)
        )
        return [
            (
                int(version),
                int(member or 0),
                int(sent_chat or chat),
                int(message_id or 0),
                text or "",
            )
            for version, member, sent_chat, chat, message_id, text in await self.session.execute(
                stmt
            )
        ]

    async def changed_since(self, since: datetime) -> set[int]:
        """Meetings changed (moved, cancelled, reinstated: `updated_at`) at or after `since`.

        Planned meetings have no group message to bring up to date: a month's plan writes one
        per branch, and a city's 8,220 were each read and rendered for nothing.
        """
        stmt = select(Meeting.id).where(
            Meeting.updated_at >= since, Meeting.status != MeetingStatus.PLANNED
        )
        return set((await self.session.scalars(stmt)).all())

    async def set_announcement(self, meeting_id: int, chat_id: int, message_id: int) -> None:
        """The group message that now carries the meeting's live answers."""
        await self.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(announce_chat_id=chat_id, announce_message_id=message_id)
        )

    async def closed_between(self, since: datetime, until: datetime) -> set[int]:
        """Scheduled meetings whose answers closed in [since, until]: started, or reported."""
        started = select(Meeting.id).where(
            Meeting.status == MeetingStatus.SCHEDULED,
            Meeting.starts_at >= since,
            Meeting.starts_at <= until,
        )
        reported = select(MeetingReport.meeting_id).where(MeetingReport.submitted_at >= since)
        ids = set((await self.session.scalars(started)).all())
        return ids | set((await self.session.scalars(reported)).all())

    async def answered_since(self, since: datetime) -> set[int]:
        """Meetings with an RSVP recorded at or after `since` (the ones whose count changed)."""
        stmt = select(MeetingRsvp.meeting_id).where(MeetingRsvp.answered_at >= since).distinct()
        return set((await self.session.scalars(stmt)).all())

    # Settings --------------------------------------------------------------------------------

    async def settings(self, branch_ids: Sequence[int]) -> dict[int, MeetingSettings]:
        if not branch_ids:
            return {}
        stmt = select(MeetingSettings).where(MeetingSettings.branch_id.in_(branch_ids))
        return {s.branch_id: s for s in (await self.session.scalars(stmt)).all()}
