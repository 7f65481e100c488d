"""Queries for visiting programs, rosters, visits, reports, busy days and move requests.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    BusyDay,
    ChatBinding,
    HeardProposal,
    Meeting,
    Member,
    MoveRequest,
    Roster,
    RosterVisit,
    Unit,
    VisitProgram,
    VisitReport,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.meetings import MeetingKind
from storage.models.org import VISITED_KINDS_DEFAULT, MemberRole, TargetType
from storage.models.rosters import LIVE_VISIT_STATUSES, MoveStatus, RosterStatus

_LIVE = LIVE_VISIT_STATUSES


class RosterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Organisation ----------------------------------------------------------------------------

    async def district_by_code(self, code: str) -> Unit | None:
        stmt = select(Unit).where(Unit.code == code, Unit.id == Unit.district_id)
        return (await self.session.scalars(stmt)).first()

    async def districts(self) -> list[Unit]:
        stmt = select(Unit).where(Unit.id == Unit.district_id, Unit.active).order_by(Unit.code)
        return list(await self.session.scalars(stmt))

    async def groups(self, district_id: int | None = None) -> list[WorkingGroup]:
        stmt = select(WorkingGroup).where(WorkingGroup.active).order_by(WorkingGroup.code)
        if district_id is not None:
            stmt = stmt.where(WorkingGroup.district_id == district_id)
        return list(await self.session.scalars(stmt))

    async def group(self, group_id: int) -> WorkingGroup | None:
        return await self.session.get(WorkingGroup, group_id)

    async def group_members(self, group_id: int) -> list[Member]:
        stmt = (
            select(Member)
            .join(WorkingGroupMember, WorkingGroupMember.member_id == Member.id)
            .where(WorkingGroupMember.working_group_id == group_id, Member.active)
            .order_by(Member.code)
        )
        return list(await self.session.scalars(stmt))

    async def group_ids_of_member(self, member_id: int) -> list[int]:
        stmt = select(WorkingGroupMember.working_group_id).where(
            WorkingGroupMember.member_id == member_id
        )
        return list(await self.session.scalars(stmt))

    async def visited_branches(self, group_id: int) -> list[Branch]:
        """The default list: the active branches of the group's units, of the kinds it visits
        (village and residential unless the import said otherwise)."""
        group = await self.session.get(WorkingGroup, group_id)
        kinds = sorted(group.visited_kinds if group is not None else VISITED_KINDS_DEFAULT)
        units = select(WorkingGroupUnit.unit_id).where(
            WorkingGroupUnit.working_group_id == group_id
        )
        stmt = (
            select(Branch)
            .where(
                Branch.unit_id.in_(units),
                Branch.active,
                Branch.kind.in_(kinds),
            )
            .order_by(Branch.code)
        )
        return list(await self.session.scalars(stmt))

    async def branches(self, ids: Iterable[int]) -> dict[int, Branch]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        stmt = select(Branch).where(Branch.id.in_(wanted))
        return {b.id: b for b in await self.session.scalars(stmt)}

    async def members(self, ids: Iterable[int]) -> dict[int, Member]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        stmt = select(Member).where(Member.id.in_(wanted))
        return {m.id: m for m in await self.session.scalars(stmt)}

    async def secretaries(self, branch_ids: Iterable[int]) -> dict[int, list[Member]]:
        """Secretary first, then deputies, per branch: who answers a move request."""
        wanted = list(set(branch_ids))
        if not wanted:
            return {}
        stmt = (
            select(Member)
            .where(
                Member.branch_id.in_(wanted),
                Member.active,
                Member.role.in_([MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY]),
            )
            .order_by(Member.role.desc(), Member.code)
        )
        out: dict[int, list[Member]] = {}
        for m in await self.session.scalars(stmt):
            out.setdefault(m.branch_id, []).append(m)
        return out

    async def group_chat(self, group_id: int) -> int | None:
        stmt = select(ChatBinding.chat_id).where(
            ChatBinding.target_type == TargetType.WORKING_GROUP,
            ChatBinding.target_id == group_id,
            ChatBinding.active,
        )
        return (await self.session.scalars(stmt)).first()

    async def regular_meetings(
        self, branch_ids: Sequence[int], periods: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int, int], Meeting]:
        if not branch_ids or not periods:
            return {}
        years = list({y for y, _ in periods})
        months = list({m for _, m in periods})
        stmt = select(Meeting).where(
            Meeting.branch_id.in_(list(branch_ids)),
            Meeting.kind == MeetingKind.REGULAR,
            Meeting.period_year.in_(years),
            Meeting.period_month.in_(months),
        )
        return {
            (m.branch_id, m.period_year, m.period_month): m
            for m in await self.session.scalars(stmt)
            if (m.period_year, m.period_month) in set(periods)
        }

    # Programs --------------------------------------------------------------------------------

    async def programs(self, district_id: int | None = None) -> list[VisitProgram]:
        stmt = select(VisitProgram).where(VisitProgram.active).order_by(VisitProgram.id)
        if district_id is not None:
            stmt = stmt.where(VisitProgram.district_id == district_id)
        return list(await self.session.scalars(stmt))

    async def program(self, program_id: int) -> VisitProgram | None:
        return await self.session.get(VisitProgram, program_id)

    async def program_of_group(self, group_id: int) -> VisitProgram | None:
        stmt = select(VisitProgram).where(VisitProgram.working_group_id == group_id)
        return (await self.session.scalars(stmt)).first()

    # Busy days -------------------------------------------------------------------------------

    async def busy_days(self, member_ids: Iterable[int], start: date, end: date) -> list[BusyDay]:
        wanted = list(set(member_ids))
        if not wanted:
            return []
        stmt = select(BusyDay).where(
            BusyDay.member_id.in_(wanted), BusyDay.day >= start, BusyDay.day <= end
        )
        return list(await self.session.scalars(stmt))

    async def set_busy(self, member_id: int, day: date, busy: bool, now: datetime) -> None:
        row = await self.session.get(BusyDay, (member_id, day))
        if busy and row is None:
            self.session.add(BusyDay(member_id=member_id, day=day, created_at=now))
        elif not busy and row is not None:
            await self.session.delete(row)
        await self.session.flush()

    # Rosters and visits ----------------------------------------------------------------------

    async def roster(self, roster_id: int, *, for_update: bool = False) -> Roster | None:
        if not for_update:
            return await self.session.get(Roster, roster_id)
        stmt = select(Roster).where(Roster.id == roster_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def roster_for(
        self, program_id: int, year: int, quarter: int, *, for_update: bool = False
    ) -> Roster | None:
        stmt = select(Roster).where(
            Roster.program_id == program_id, Roster.year == year, Roster.quarter == quarter
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def rosters_of_quarter(self, year: int, quarter: int, district_id: int) -> list[Roster]:
        stmt = select(Roster).where(
            Roster.year == year, Roster.quarter == quarter, Roster.district_id == district_id
        )
        return list(await self.session.scalars(stmt))

    async def visits(self, roster_id: int, *, live_only: bool = True) -> list[RosterVisit]:
        stmt = select(RosterVisit).where(RosterVisit.roster_id == roster_id)
        if live_only:
            stmt = stmt.where(RosterVisit.status.in_(_LIVE))
        stmt = stmt.order_by(RosterVisit.starts_at, RosterVisit.branch_id, RosterVisit.id)
        return list(await self.session.scalars(stmt))

    async def visits_of_rosters(self, roster_ids: Sequence[int]) -> list[RosterVisit]:
        if not roster_ids:
            return []
        stmt = select(RosterVisit).where(
            RosterVisit.roster_id.in_(list(roster_ids)), RosterVisit.status.in_(_LIVE)
        )
        return list(await self.session.scalars(stmt))

    async def drop_visits(self, roster_id: int) -> None:
        """Remove a draft's visits (nobody was told about a draft's visits)."""
        await self.session.execute(delete(RosterVisit).where(RosterVisit.roster_id == roster_id))

    async def visit(self, visit_id: int, *, for_update: bool = False) -> RosterVisit | None:
        if not for_update:
            return await self.session.get(RosterVisit, visit_id)
        stmt = select(RosterVisit).where(RosterVisit.id == visit_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def published_visits(
        self,
        *,
        branch_ids: Sequence[int] | None = None,
        before: datetime | None = None,
        since: datetime | None = None,
        meeting_id: int | None = None,
        visitor_id: int | None = None,
    ) -> list[RosterVisit]:
        """Live visits of published rosters, filtered."""
        stmt = (
            select(RosterVisit)
            .join(Roster, Roster.id == RosterVisit.roster_id)
            .where(Roster.status == RosterStatus.PUBLISHED, RosterVisit.status.in_(_LIVE))
        )
        if branch_ids is not None:
            stmt = stmt.where(RosterVisit.branch_id.in_(list(branch_ids)))
        if before is not None:
            stmt = stmt.where(RosterVisit.starts_at < before)
        if since is not None:
            stmt = stmt.where(RosterVisit.starts_at >= since)
        if meeting_id is not None:
            stmt = stmt.where(RosterVisit.meeting_id == meeting_id)
        if visitor_id is not None:
            stmt = stmt.where(RosterVisit.visitor_member_id == visitor_id)
        stmt = stmt.order_by(RosterVisit.starts_at, RosterVisit.id)
        return list(await self.session.scalars(stmt))

    async def reports(self, visit_ids: Iterable[int]) -> dict[int, VisitReport]:
        wanted = list(set(visit_ids))
        if not wanted:
            return {}
        stmt = select(VisitReport).where(VisitReport.visit_id.in_(wanted))
        return {r.visit_id: r for r in await self.session.scalars(stmt)}

    async def report(self, visit_id: int) -> VisitReport | None:
        return await self.session.get(VisitReport, visit_id)

    async def add_proposals(self, visit: RosterVisit, texts: Sequence[str], now: datetime) -> None:
        for text in texts:
            self.session.add(
                HeardProposal(
                    visit_id=visit.id,
                    branch_id=visit.branch_id,
                    district_id=visit.district_id,
                    text=text,
                    created_at=now,
                )
            )

    # Move requests ---------------------------------------------------------------------------

    async def move_request(
        self, request_id: int, *, for_update: bool = False
    ) -> MoveRequest | None:
        if not for_update:
            return await self.session.get(MoveRequest, request_id)
        stmt = select(MoveRequest).where(MoveRequest.id == request_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def pending_moves(self, roster_id: int) -> list[MoveRequest]:
        stmt = select(MoveRequest).where(
            MoveRequest.roster_id == roster_id, MoveRequest.status == MoveStatus.PENDING
        )
        return list(await self.session.scalars(stmt))
