"""Coverage figures: due, visited, visits and reports per group and for the district.

The world: Monday 23/11/2026 11:00. District T01 gets a village branch B03 in commune T01U01
and B02 in T01U02. Group 1 (leader M8) covers T01U01 -> due B01, B03. Group 2 (leader M7)
covers T01U02 -> due T01U02B01, T01U02B02. Published rosters, inserted directly:

* group 1, 2026-Q3: B01 visited 05/07 (no report yet).
* group 1, 2026-Q4: B01 visited 05/11 and reported attended; B03 planned 05/12; a dropped
  visit to B03 on 05/11 (does not count).
* group 2, 2026-Q4: T01U02B01 visited 05/11 but the visitor reports not attending; T01U02B02
  could not be covered (in `uncovered`).
* group 2, 2027-Q1: T01U02B02 planned 05/01/2027.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.coverage import Coverage, coverage, coverage_for, parse_period
from bot.services.rosters.planning import ensure_programs, make_draft
from bot.services.rosters.review import publish
from bot.services.rosters.visits import VisitReportInput, my_visits, submit_visit_report
from bot.services.vn_calendar import VN_TZ
from storage.models import (
    AuditLog,
    Branch,
    Roster,
    RosterVisit,
    VisitProgram,
    VisitReport,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.rosters import RosterStatus, VisitQuality, VisitStatus
from storage.repositories.rosters import RosterRepository
from tests.helpers import local
from tests.orgdata import (
    ADMIN,
    ADMIN_OTHER,
    SEC1,
    SEC3,
    WG_LEADER,
    WG_MEMBER,
    MeetingWorld,
    meeting_world,
)

NOW = local(2026, 11, 23, 11)


@dataclass
class Ids:
    b4: int  # T01U01B03, village
    b5: int  # T01U02B02, village
    wg2: int


async def world(engine: AsyncEngine) -> tuple[MeetingWorld, Ids]:
    w = await meeting_world(engine, -1001)
    org = w.org
    async with w.factory() as s, s.begin():

        def branch(code: str, unit: int) -> Branch:
            return Branch(
                code=code,
                name=f"Chi bộ {code}",
                unit_id=unit,
                district_id=org.district,
                kind="village",
                meeting_day=5,
                meeting_time=time(19, 30),
            )

        b4, b5 = branch("T01U01B03", org.u1), branch("T01U02B02", org.u2)
        wg2 = WorkingGroup(
            code="T01WG2",
            name="Tổ công tác số 2",
            district_id=org.district,
            leader_member_id=org.members["M7"],
        )
        s.add_all([b4, b5, wg2])
        await s.flush()
        s.add_all(
            [
                WorkingGroupUnit(working_group_id=wg2.id, unit_id=org.u2),
                WorkingGroupMember(working_group_id=wg2.id, member_id=org.members["M3"]),
            ]
        )
        p1 = VisitProgram(district_id=org.district, working_group_id=org.wg)
        p2 = VisitProgram(district_id=org.district, working_group_id=wg2.id)
        s.add_all([p1, p2])
        await s.flush()

        def roster(
            program: VisitProgram, year: int, q: int, uncovered: tuple[int, ...] = ()
        ) -> Roster:
            row = Roster(
                program_id=program.id,
                district_id=org.district,
                year=year,
                quarter=q,
                status=RosterStatus.PUBLISHED.value,
                uncovered=[{"branch_id": b, "start": "", "reason": "no_one"} for b in uncovered],
            )
            s.add(row)
            return row

        g1q3, g1q4 = roster(p1, 2026, 3), roster(p1, 2026, 4)
        g2q4, g2q1 = roster(p2, 2026, 4, (b5.id,)), roster(p2, 2027, 1)
        await s.flush()

        def visit(
            r: Roster,
            b: int,
            start: datetime,
            status: VisitStatus = VisitStatus.CONFIRMED,
            attended: bool | None = None,
        ) -> None:
            row = RosterVisit(
                roster_id=r.id,
                district_id=org.district,
                branch_id=b,
                period_year=start.astimezone(VN_TZ).year,
                period_month=start.astimezone(VN_TZ).month,
                starts_at=start,
                visitor_member_id=org.members["M9"],
                status=status.value,
            )
            s.add(row)
            if attended is not None:
                reports.append((row, attended))  # reported once the flush gives it an id

        reports: list[tuple[RosterVisit, bool]] = []
        visit(g1q3, org.b1, local(2026, 7, 5, 19, 30))
        visit(g1q4, org.b1, local(2026, 11, 5, 19, 30), attended=True)
        visit(g1q4, b4.id, local(2026, 12, 5, 19, 30))
        visit(g1q4, b4.id, local(2026, 11, 5, 19, 30), VisitStatus.DROPPED)
        visit(g2q4, org.b3, local(2026, 11, 5, 19, 30), attended=False)
        visit(g2q1, b5.id, local(2027, 1, 5, 19, 30))
        await s.flush()
        for row, attended in reports:
            s.add(
                VisitReport(
                    visit_id=row.id, attended=attended, quality="good" if attended else None
                )
            )
        return w, Ids(b4=b4.id, b5=b5.id, wg2=wg2.id)


def figures(c: Coverage) -> list[tuple[str, int, int, int, int]]:
    return [(g.code, g.due, g.visited, g.visits, g.reports) for g in c.groups]


async def test_quarter_figures_per_group_and_district(engine: AsyncEngine) -> None:
    w, ids = await world(engine)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2026, 4, NOW)
    assert figures(c) == [("T01WG1", 2, 1, 1, 1), ("T01WG2", 2, 0, 0, 1)]
    assert (c.due, c.visited, c.visits, c.reports) == (4, 1, 1, 2)
    b4, b1 = c.groups[0].branches  # by name: "Chi bộ T01U01B03" before "Chi bộ thôn Một"
    assert (b1.branch_id, b1.visited, b1.next_planned) == (w.org.b1, True, None)
    assert (b4.branch_id, b4.visited, b4.visits) == (ids.b4, False, 0)
    assert b4.next_planned == local(2026, 12, 5, 19, 30)


async def test_unvisited_branches_carry_their_next_planned_visit(engine: AsyncEngine) -> None:
    w, ids = await world(engine)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2026, 4, NOW)
    assert [(b.branch_id, b.next_planned) for b in c.unvisited] == [
        (ids.b4, local(2026, 12, 5, 19, 30)),
        (ids.b5, local(2027, 1, 5, 19, 30)),  # uncovered in Q4, planned in the next quarter
        (w.org.b3, None),  # the visitor reported not attending; nothing else planned
    ]


async def test_year_figures_count_every_quarter(engine: AsyncEngine) -> None:
    w, ids = await world(engine)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2026, None, NOW)
    assert (c.year, c.quarter) == (2026, None)
    assert figures(c) == [("T01WG1", 2, 1, 2, 1), ("T01WG2", 2, 0, 0, 1)]
    # By name, the Vietnamese way: "Chi bộ T01U02B02" before "Chi bộ tổ dân phố Ba".
    assert [b.code for b in c.groups[1].branches] == ["T01U02B02", "T01U02B01"]


async def test_planned_visit_counts_once_its_meeting_has_started(engine: AsyncEngine) -> None:
    w, ids = await world(engine)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2026, 4, local(2026, 12, 5, 19, 30))
    assert figures(c)[0] == ("T01WG1", 2, 2, 2, 1)


async def test_quarter_without_a_published_roster_owes_every_program_branch(
    engine: AsyncEngine,
) -> None:
    w, ids = await world(engine)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2027, 2, NOW)
    assert figures(c) == [("T01WG1", 2, 0, 0, 0), ("T01WG2", 2, 0, 0, 0)]


async def test_group_without_a_program_row_owes_its_default_branches(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    async with w.factory() as s, s.begin():
        group = WorkingGroup(
            code="T02WG1", name="Tổ công tác T02", district_id=w.org.other_district
        )
        s.add(group)
        await s.flush()
        unit = (await s.get(Branch, w.org.other_branch)).unit_id  # type: ignore[union-attr]
        s.add(WorkingGroupUnit(working_group_id=group.id, unit_id=unit))
    async with w.factory() as s:
        c = await coverage(s, w.org.other_district, 2026, 4, NOW)
        assert figures(c) == [("T02WG1", 1, 0, 0, 0)]
        assert await s.scalar(select(func.count()).select_from(VisitProgram)) == 2  # none made


# Who sees what --------------------------------------------------------------------------------


async def for_person(w: MeetingWorld, telegram_id: int, year: int, q: int | None) -> list[Coverage]:
    async with w.factory() as s:
        return await coverage_for(s, w.ctx, await w.actor(s, telegram_id), year, q)


async def test_admin_sees_the_whole_district(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    (c,) = await for_person(w, ADMIN, 2026, 4)
    assert c.district_id == w.org.district
    assert [g.code for g in c.groups] == ["T01WG1", "T01WG2"]
    (other,) = await for_person(w, ADMIN_OTHER, 2026, None)
    assert (other.district_id, other.groups) == (w.org.other_district, ())


async def test_group_leader_sees_only_their_group(engine: AsyncEngine) -> None:
    w, ids = await world(engine)
    (c,) = await for_person(w, SEC3, 2026, 4)
    assert [g.group_id for g in c.groups] == [ids.wg2]
    (c,) = await for_person(w, WG_LEADER, 2026, 4)
    assert [g.group_id for g in c.groups] == [w.org.wg]


@pytest.mark.parametrize("who", [WG_MEMBER, SEC1, 424242])
async def test_coverage_refused_to_everyone_else(engine: AsyncEngine, who: int) -> None:
    w, _ = await world(engine)
    async with w.factory() as s:
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(RosterError) as info:
        await for_person(w, who, 2026, 4)
    assert info.value.key == "roster.coverage_not_allowed"
    async with w.factory() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog)) == audits


@pytest.mark.parametrize(("year", "q"), [(1999, 1), (2101, None), (2026, 5), (2026, 0)])
async def test_coverage_of_a_period_out_of_range_is_refused(
    engine: AsyncEngine, year: int, q: int | None
) -> None:
    w, _ = await world(engine)
    with pytest.raises(RosterError) as info:
        await for_person(w, ADMIN, year, q)
    assert info.value.key == "roster.bad_period"


# Periods --------------------------------------------------------------------------------------

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("", (2026, 4)),
        ("  ", (2026, 4)),
        ("2027-Q1", (2027, 1)),
        ("2027q3", (2027, 3)),
        ("2025", (2025, None)),
        ("năm", (2026, None)),
        ("Năm", (2026, None)),
        ("na\u0306m", (2026, None)),  # decomposed Vietnamese input
        ("year", (2026, None)),
    ],
)
def test_parse_period_reads_quarters_and_years(text: str, period: tuple[int, int | None]) -> None:
    assert parse_period(text, TODAY) == period


@pytest.mark.parametrize("text", ["2027-Q5", "1999", "2101-Q1", "Q1", "quý 1", "20271", "x" * 50])
def test_parse_period_refuses_anything_else(text: str) -> None:
    with pytest.raises(RosterError) as info:
        parse_period(text, TODAY)
    assert info.value.key == "roster.bad_period"
    assert info.value.params == {"text": text[:20]}


async def test_solved_and_published_roster_is_reported_and_counted(engine: AsyncEngine) -> None:
    """End to end through the solver: draft, publish, the meeting happens, the visitor
    reports, and the coverage counts the branch as visited."""

    w = await meeting_world(engine, -1001)
    async with w.factory() as s, s.begin():
        await ensure_programs(s, w.org.district)
        (program,) = await RosterRepository(s).programs(w.org.district)
        draft = await make_draft(s, w.ctx, program, Quarter(2027, 1))
        await publish(s, w.ctx, None, draft.roster.id, draft.roster.version)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2027, 1, w.ctx.now())
        assert figures(c) == [("T01WG1", 1, 0, 0, 0)]
        (planned,) = c.unvisited
        start = planned.next_planned
        assert start is not None and start.astimezone(VN_TZ).month == 1
    w.clock.t = start + timedelta(hours=3)
    async with w.factory() as s, s.begin():
        actor = await w.actor(s, WG_MEMBER)
        (info,) = await my_visits(s, w.ctx, actor, reportable_only=True)
        assert info.meeting is not None and info.meeting.starts_at == start
        data = VisitReportInput(attended=True, quality=VisitQuality.GOOD, proposals=("Đèn",))
        await submit_visit_report(s, w.ctx, actor, info.visit.id, data)
    async with w.factory() as s:
        c = await coverage(s, w.org.district, 2027, 1, w.ctx.now())
        assert figures(c) == [("T01WG1", 1, 1, 1, 1)]
        assert c.unvisited == ()
