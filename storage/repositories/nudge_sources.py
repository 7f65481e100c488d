"""What the nudges feature reads from the other features' tables: the candidates for each kind
of obligation (one set query per kind, whatever the number of branches), their current state
by id (the last-moment check and the sweep's "met or lapsed?"), and who to tell.

Every candidate query is bounded by a time window on an indexed moment (a meeting's start, a
roster's publication, a deadline), so a sweep reads what may be owed now, never whole tables.
Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from storage.models import (
    Branch,
    BroadcastRecipient,
    BusyDay,
    ChatBinding,
    CommitteeAdmin,
    FeedbackItem,
    FeedbackOption,
    Meeting,
    MeetingReport,
    Member,
    Roster,
    RosterVisit,
    TelegramUser,
    Unit,
    VisitProgram,
    VisitReport,
    WorkingGroup,
)
from storage.models.feedback import FeedbackStatus
from storage.models.meetings import MeetingKind, MeetingStatus
from storage.models.org import MemberRole, TargetType
from storage.models.rosters import RosterStatus, VisitStatus
from storage.repositories.onboarding import joined_clause

T = TypeVar("T")
CHUNK = 5000  # ids per IN list: well under SQLite's variable limit
LEADERS = (MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY)
WAITING = (FeedbackStatus.OPEN, FeedbackStatus.TAKEN)


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# Only what the obligations read: whole rows (agendas, texts) cost more to load than to query.
MEETING = load_only(
    Meeting.id,
    Meeting.branch_id,
    Meeting.district_id,
    Meeting.status,
    Meeting.starts_at,
    Meeting.period_year,
    Meeting.period_month,
)
BRANCH = load_only(Branch.id, Branch.name, Branch.unit_id, Branch.district_id)
MEMBER = load_only(Member.id, Member.branch_id, Member.role, Member.telegram_id, Member.full_name)
VISIT = load_only(
    RosterVisit.id,
    RosterVisit.roster_id,
    RosterVisit.district_id,
    RosterVisit.branch_id,
    RosterVisit.starts_at,
    RosterVisit.period_year,
    RosterVisit.period_month,
    RosterVisit.visitor_member_id,
    RosterVisit.status,
)
ITEM = load_only(
    FeedbackItem.id,
    FeedbackItem.district_id,
    FeedbackItem.year,
    FeedbackItem.number,
    FeedbackItem.branch_id,
    FeedbackItem.unit_id,
    FeedbackItem.level_type,
    FeedbackItem.level_id,
    FeedbackItem.deadline,
    FeedbackItem.status,
    FeedbackItem.taken_by,
)


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The local day of a stored moment (SQLite hands back naive UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def _district(column: Any, district_id: int | None) -> list[ColumnElement[bool]]:
    """The condition "in this district", or none for all districts."""
    return [] if district_id is None else [column == district_id]


class NudgeSources:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Candidates ------------------------------------------------------------------------------

    async def planned_regular(
        self, after: datetime, until: datetime, district_id: int | None = None
    ) -> list[tuple[Meeting, Branch]]:
        """Regular meetings still only planned from the rule, starting in (after, until]."""
        stmt = (
            select(Meeting, Branch)
            .join(Branch, Branch.id == Meeting.branch_id)
            .where(
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at > after,
                Meeting.starts_at <= until,
                Meeting.kind == MeetingKind.REGULAR,
                Branch.active,
                # a branch owes a meeting only if it had joined by its start (`onboarding`)
                joined_clause(Branch.id, by=Meeting.starts_at),
                *_district(Meeting.district_id, district_id),
            )
            .order_by(Meeting.starts_at, Meeting.id)
            .options(MEETING, BRANCH)
        )
        return [(m, b) for m, b in (await self.session.execute(stmt)).all()]

    async def unreported(
        self, since: datetime, until: datetime, district_id: int | None = None
    ) -> list[tuple[Meeting, Branch]]:
        """Meetings (not cancelled) that started in [since, until] and have no report."""
        reported = exists().where(MeetingReport.meeting_id == Meeting.id)
        stmt = (
            select(Meeting, Branch)
            .join(Branch, Branch.id == Meeting.branch_id)
            .where(
                Meeting.status.in_([MeetingStatus.PLANNED, MeetingStatus.SCHEDULED]),
                Meeting.starts_at >= since,
                Meeting.starts_at <= until,
                Branch.active,
                # a branch owes a meeting only if it had joined by its start (`onboarding`)
                joined_clause(Branch.id, by=Meeting.starts_at),
                ~reported,
                *_district(Meeting.district_id, district_id),
            )
            .order_by(Meeting.starts_at, Meeting.id)
            .options(MEETING, BRANCH)
        )
        return [(m, b) for m, b in (await self.session.execute(stmt)).all()]

    async def _visits(
        self, *conditions: ColumnElement[bool]
    ) -> list[tuple[RosterVisit, Branch, datetime, int | None]]:
        """Visits of published rosters with their branch, the roster's publication and the
        group's leader (member id)."""
        stmt = (
            select(RosterVisit, Branch, Roster.published_at, WorkingGroup.leader_member_id)
            .join(Roster, Roster.id == RosterVisit.roster_id)
            .join(VisitProgram, VisitProgram.id == Roster.program_id)
            .join(WorkingGroup, WorkingGroup.id == VisitProgram.working_group_id)
            .join(Branch, Branch.id == RosterVisit.branch_id)
            .where(Roster.status == RosterStatus.PUBLISHED, *conditions)
            .order_by(RosterVisit.id)
            .options(VISIT, BRANCH)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(v, b, p, leader) for v, b, p, leader in rows if p is not None]

    async def unconfirmed_visits(
        self,
        published_since: datetime,
        now: datetime,
        district_id: int | None = None,
        *,
        tz: ZoneInfo,
    ) -> list[tuple[RosterVisit, Branch, datetime, int | None]]:
        """Visits still only assigned, of rosters published in [published_since, now], whose
        meeting is still ahead, and not on a day their visitor marked busy: that conflict is
        already with the group's leader (`mark_busy`), and asking to confirm the visit would
        contradict it."""
        rows = await self._visits(
            Roster.published_at >= published_since,
            Roster.published_at <= now,
            RosterVisit.status == VisitStatus.ASSIGNED,
            RosterVisit.starts_at > now,
            *_district(Roster.district_id, district_id),
        )
        busy = await self._on_busy_days(
            [(v.id, v.visitor_member_id, v.starts_at) for v, *_ in rows], tz
        )
        return [r for r in rows if r[0].id not in busy]

    async def visits_on_busy_days(self, ids: Iterable[int], tz: ZoneInfo) -> set[int]:
        """Of these visits, those on a local day their visitor marked busy."""
        found: list[tuple[int, int, datetime]] = []
        for batch in chunks(set(ids)):
            stmt = select(
                RosterVisit.id, RosterVisit.visitor_member_id, RosterVisit.starts_at
            ).where(RosterVisit.id.in_(batch))
            found += [(i, m, at) for i, m, at in (await self.session.execute(stmt)).all()]
        return await self._on_busy_days(found, tz)

    async def _on_busy_days(
        self, visits: Sequence[tuple[int, int, datetime]], tz: ZoneInfo
    ) -> set[int]:
        """(visit id, visitor, start) -> the ids whose local day the visitor marked busy."""
        if not visits:
            return set()
        days = {(m, _local_day(at, tz)) for _, m, at in visits}
        marked: set[tuple[int, date]] = set()
        lo, hi = min(d for _, d in days), max(d for _, d in days)
        for batch in chunks({m for m, _ in days}):
            stmt = select(BusyDay.member_id, BusyDay.day).where(
                BusyDay.member_id.in_(batch), BusyDay.day >= lo, BusyDay.day <= hi
            )
            marked.update((m, d) for m, d in (await self.session.execute(stmt)).all())
        return {i for i, m, at in visits if (m, _local_day(at, tz)) in marked}

    async def unreported_visits(
        self,
        since: datetime,
        until: datetime,
        quarters: Sequence[tuple[int, int]],
        district_id: int | None = None,
    ) -> list[tuple[RosterVisit, Branch, datetime, int | None]]:
        """Assigned or confirmed visits whose meeting started in [since, until] with no visit
        report. `quarters` (year, quarter) bounds the rosters read (the visits are reached
        through their roster's index)."""
        reported = exists().where(VisitReport.visit_id == RosterVisit.id)
        rows = await self._visits(
            Roster.year.in_(sorted({y for y, _ in quarters})),
            Roster.quarter.in_(sorted({q for _, q in quarters})),
            RosterVisit.status.in_([VisitStatus.ASSIGNED, VisitStatus.CONFIRMED]),
            RosterVisit.starts_at >= since,
            RosterVisit.starts_at <= until,
            ~reported,
            *_district(Roster.district_id, district_id),
        )
        wanted = set(quarters)
        return [r for r in rows if (r[0].period_year, (r[0].period_month - 1) // 3 + 1) in wanted]

    async def feedback_waiting(
        self, after: datetime, until: datetime, district_id: int | None = None
    ) -> list[FeedbackItem]:
        """Items open or taken at a level whose deadline is in (after, until]."""
        stmt = (
            select(FeedbackItem)
            .where(
                FeedbackItem.status.in_(WAITING),
                FeedbackItem.deadline > after,
                FeedbackItem.deadline <= until,
                *_district(FeedbackItem.district_id, district_id),
            )
            .order_by(FeedbackItem.deadline, FeedbackItem.id)
            .options(ITEM)
        )
        return list((await self.session.scalars(stmt)).all())

    # State by id (for "still owed?") ---------------------------------------------------------

    async def meetings_state(self, ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
        out: dict[int, tuple[str, datetime]] = {}
        for batch in chunks(set(ids)):
            stmt = select(Meeting.id, Meeting.status, Meeting.starts_at).where(
                Meeting.id.in_(batch)
            )
            out.update({i: (s, at) for i, s, at in (await self.session.execute(stmt)).all()})
        return out

    async def reported_meetings(self, ids: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for batch in chunks(set(ids)):
            stmt = select(MeetingReport.meeting_id).where(MeetingReport.meeting_id.in_(batch))
            out.update((await self.session.scalars(stmt.distinct())).all())
        return out

    async def visits_state(self, ids: Iterable[int]) -> dict[int, tuple[str, datetime, str]]:
        """visit id -> (its status, its meeting's start, its roster's status)."""
        out: dict[int, tuple[str, datetime, str]] = {}
        for batch in chunks(set(ids)):
            stmt = (
                select(RosterVisit.id, RosterVisit.status, RosterVisit.starts_at, Roster.status)
                .join(Roster, Roster.id == RosterVisit.roster_id)
                .where(RosterVisit.id.in_(batch))
            )
            rows = (await self.session.execute(stmt)).all()
            out.update({i: (s, at, rs) for i, s, at, rs in rows})
        return out

    async def visits_of_meeting(self, meeting_id: int) -> list[int]:
        """Every visit ever planned to a meeting (dropped ones too: their tracks end)."""
        stmt = select(RosterVisit.id).where(RosterVisit.meeting_id == meeting_id)
        return list((await self.session.scalars(stmt)).all())

    async def reported_visits(self, ids: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for batch in chunks(set(ids)):
            stmt = select(VisitReport.visit_id).where(VisitReport.visit_id.in_(batch))
            out.update((await self.session.scalars(stmt)).all())
        return out

    async def feedback_state(self, ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
        """item id -> (status, level type, level id)."""
        out: dict[int, tuple[str, str, int]] = {}
        for batch in chunks(set(ids)):
            stmt = select(
                FeedbackItem.id, FeedbackItem.status, FeedbackItem.level_type, FeedbackItem.level_id
            ).where(FeedbackItem.id.in_(batch))
            rows = (await self.session.execute(stmt)).all()
            out.update({i: (s, lt, lid) for i, s, lt, lid in rows})
        return out

    async def broadcast_acks(
        self, broadcast_ids: Iterable[int]
    ) -> dict[tuple[int, int], datetime | None]:
        """(broadcast, recipient chat) -> when it was acknowledged (None: not yet)."""
        out: dict[tuple[int, int], datetime | None] = {}
        for batch in chunks(set(broadcast_ids)):
            stmt = select(
                BroadcastRecipient.broadcast_id,
                BroadcastRecipient.chat_id,
                BroadcastRecipient.ack_at,
            ).where(BroadcastRecipient.broadcast_id.in_(batch))
            for b, chat, at in (await self.session.execute(stmt)).all():
                if chat is not None:
                    out[(b, chat)] = at
        return out

    # People and chats ------------------------------------------------------------------------

    async def branch_leaders(self, branch_ids: Iterable[int]) -> dict[int, list[Member]]:
        """Active secretary (first) and deputies of each branch."""
        out: dict[int, list[Member]] = {}
        for batch in chunks(set(branch_ids)):
            stmt = (
                select(Member)
                .where(Member.branch_id.in_(batch), Member.active, Member.role.in_(LEADERS))
                .order_by(Member.branch_id, Member.role.desc(), Member.id)
                .options(MEMBER)
            )
            for m in await self.session.scalars(stmt):
                out.setdefault(m.branch_id, []).append(m)
        return out

    async def group_leaders(self, group_ids: Iterable[int]) -> dict[int, int]:
        """working group -> its leader's member id (groups without one left out)."""
        out: dict[int, int] = {}
        for batch in chunks(set(group_ids)):
            stmt = select(WorkingGroup.id, WorkingGroup.leader_member_id).where(
                WorkingGroup.id.in_(batch)
            )
            for gid, leader in (await self.session.execute(stmt)).all():
                if leader is not None:
                    out[gid] = leader
        return out

    async def members(self, ids: Iterable[int]) -> dict[int, Member]:
        out: dict[int, Member] = {}
        for batch in chunks(set(ids)):
            stmt = select(Member).where(Member.id.in_(batch)).options(MEMBER)
            out.update({m.id: m for m in await self.session.scalars(stmt)})
        return out

    async def reachable(self, telegram_ids: Iterable[int]) -> set[int]:
        """Accounts with a private chat with the bot that did not block it."""
        out: set[int] = set()
        for batch in chunks({t for t in telegram_ids if t > 0}):
            stmt = select(TelegramUser.id).where(
                TelegramUser.id.in_(batch), TelegramUser.reachable.is_(True)
            )
            out.update((await self.session.scalars(stmt)).all())
        return out

    async def target_chats(self, target_type: TargetType, ids: Iterable[int]) -> dict[int, int]:
        """target id -> its active group chat (units, committees)."""
        out: dict[int, int] = {}
        for batch in chunks(set(ids)):
            stmt = select(ChatBinding.target_id, ChatBinding.chat_id).where(
                ChatBinding.target_type == target_type,
                ChatBinding.target_id.in_(batch),
                ChatBinding.active,
            )
            out.update({k: v for k, v in (await self.session.execute(stmt)).all()})
        return out

    async def district_admins(self, district_ids: Iterable[int]) -> dict[int, list[int]]:
        """district -> its active district-wide admins' Telegram ids (not commune admins)."""
        out: dict[int, list[int]] = {}
        stmt = (
            select(CommitteeAdmin.district_id, CommitteeAdmin.telegram_id)
            .where(
                CommitteeAdmin.district_id.in_(list(set(district_ids))),
                CommitteeAdmin.unit_id.is_(None),
                CommitteeAdmin.active,
            )
            .order_by(CommitteeAdmin.id)
        )
        for district_id, tg in (await self.session.execute(stmt)).all():
            if tg not in out.setdefault(district_id, []):
                out[district_id].append(tg)
        return out

    async def unit_admins(self, unit_ids: Iterable[int]) -> dict[int, list[int]]:
        """unit -> its own (commune) admins' Telegram ids."""
        out: dict[int, list[int]] = {}
        for batch in chunks(set(unit_ids)):
            stmt = (
                select(CommitteeAdmin.unit_id, CommitteeAdmin.telegram_id)
                .where(CommitteeAdmin.unit_id.in_(batch), CommitteeAdmin.active)
                .order_by(CommitteeAdmin.id)
            )
            for unit_id, tg in (await self.session.execute(stmt)).all():
                if unit_id is not None and tg not in out.setdefault(unit_id, []):
                    out[unit_id].append(tg)
        return out

    async def unit_names(self, ids: Iterable[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for batch in chunks(set(ids)):
            stmt = select(Unit.id, Unit.name).where(Unit.id.in_(batch))
            out.update({k: v for k, v in (await self.session.execute(stmt)).all()})
        return out

    async def branch_units(self, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """branch id -> (its unit, its name)."""
        out: dict[int, tuple[int, str]] = {}
        for batch in chunks(set(ids)):
            stmt = select(Branch.id, Branch.unit_id, Branch.name).where(Branch.id.in_(batch))
            out.update({i: (u, n) for i, u, n in (await self.session.execute(stmt)).all()})
        return out

    async def departments(self, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
        """option id -> (department name, its chat)."""
        out: dict[int, tuple[str, int | None]] = {}
        for batch in chunks(set(ids)):
            stmt = select(FeedbackOption.id, FeedbackOption.name, FeedbackOption.chat_id).where(
                FeedbackOption.id.in_(batch)
            )
            out.update({i: (n, c) for i, n, c in (await self.session.execute(stmt)).all()})
        return out
