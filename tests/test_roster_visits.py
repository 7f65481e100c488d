"""The visitor's side: busy days, their visits, and the visit report with heard proposals.

The world: Monday 23/11/2026 11:00; group T01WG1 (leader M8, member M9) has a published
roster for 2026-Q4 and a draft for 2027-Q1. Rows are inserted directly: these use cases read
a roster, they do not make one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.services.rosters.common import NOTE_MAX, PROPOSAL_MAX, PROPOSALS_MAX, Quarter, RosterError
from bot.services.rosters.visits import (
    VisitReportInput,
    busy_days,
    busy_quarter,
    mark_busy,
    my_visits,
    submit_visit_report,
    visits_on,
)
from bot.services.vn_calendar import VN_TZ, ReadableDay
from storage.models import (
    AuditLog,
    BusyDay,
    HeardProposal,
    OutboxEntry,
    Roster,
    RosterVisit,
    TelegramUser,
    VisitProgram,
    VisitReport,
)
from storage.models.rosters import RosterStatus, VisitQuality, VisitStatus
from tests.helpers import local
from tests.orgdata import SEC1, WG_LEADER, WG_MEMBER, MeetingWorld, meeting_world

GOOD = VisitReportInput(attended=True, quality=VisitQuality.GOOD)


@dataclass
class Visits:
    recent: int  # M9, started 3 days ago: reportable
    upcoming: int  # M9, 5/12
    old: int  # M9, 5/10: past the report window
    dropped: int  # M9, replaced
    leaders: int  # M8's own
    draft: int  # M9, in the 2027-Q1 draft


async def world(engine: AsyncEngine) -> tuple[MeetingWorld, Visits]:
    w = await meeting_world(engine, -1001, [TelegramUser(id=WG_LEADER), TelegramUser(id=WG_MEMBER)])
    org = w.org
    m8, m9 = org.members["M8"], org.members["M9"]
    async with w.factory() as s, s.begin():
        program = VisitProgram(district_id=org.district, working_group_id=org.wg)
        s.add(program)
        await s.flush()
        published = Roster(
            program_id=program.id,
            district_id=org.district,
            year=2026,
            quarter=4,
            status=RosterStatus.PUBLISHED.value,
            published_at=local(2026, 9, 25),
        )
        draft = Roster(program_id=program.id, district_id=org.district, year=2027, quarter=1)
        s.add_all([published, draft])
        await s.flush()

        def visit(roster: Roster, member: int, start: datetime, status: VisitStatus) -> RosterVisit:
            month = start.astimezone(VN_TZ)
            row = RosterVisit(
                roster_id=roster.id,
                district_id=org.district,
                branch_id=org.b1,
                period_year=month.year,
                period_month=month.month,
                starts_at=start,
                visitor_member_id=member,
                status=status.value,
            )
            s.add(row)
            return row

        rows = [
            visit(published, m9, local(2026, 11, 20, 19, 30), VisitStatus.ASSIGNED),
            visit(published, m9, local(2026, 12, 5, 19, 30), VisitStatus.CONFIRMED),
            visit(published, m9, local(2026, 10, 5, 19, 30), VisitStatus.CONFIRMED),
            visit(published, m9, local(2026, 11, 21, 19, 30), VisitStatus.DROPPED),
            visit(published, m8, local(2026, 11, 19, 19, 30), VisitStatus.ASSIGNED),
            visit(draft, m9, local(2027, 1, 5, 19, 30), VisitStatus.ASSIGNED),
        ]
        await s.flush()
        return w, Visits(*(r.id for r in rows))


async def run(
    w: MeetingWorld, telegram_id: int, fn: Callable[..., Awaitable[Any]], *args: Any
) -> Any:
    async with w.factory() as s, s.begin():
        return await fn(s, w.ctx, await w.actor(s, telegram_id), *args)


async def toggle_busy(s: Any, ctx: Any, actor: Any, day: date) -> bool:
    """A tap on the busy calendar (`mark_busy`, the one way to mark a day): now busy?"""
    return (await mark_busy(s, ctx, actor, day)).busy


async def refused(
    w: MeetingWorld, telegram_id: int, fn: Callable[..., Awaitable[Any]], *args: Any
) -> RosterError:
    """The refusal, with the transaction COMMITTED afterwards: nothing may have been written."""
    async with w.factory() as s, s.begin():
        actor = await w.actor(s, telegram_id)
        with pytest.raises(RosterError) as info:
            await fn(s, w.ctx, actor, *args)
    return info.value


async def snapshot(w: MeetingWorld) -> dict[str, Any]:
    async with w.factory() as s:
        out: dict[str, Any] = {
            m.__name__: await s.scalar(select(func.count()).select_from(m))
            for m in (VisitReport, HeardProposal, AuditLog, OutboxEntry, BusyDay)
        }
        out["visits"] = sorted((v.id, v.status) for v in await s.scalars(select(RosterVisit)))
        return out


async def outbox(s: AsyncSession) -> list[OutboxEntry]:
    return list(await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


# Busy days ------------------------------------------------------------------------------------


async def test_busy_opens_on_the_coming_quarter(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    assert busy_quarter(w.ctx) == Quarter(2027, 1)
    assert await run(w, WG_MEMBER, busy_days, Quarter(2027, 1)) == (Quarter(2027, 1), set())


async def test_busy_toggle_marks_then_unmarks_the_day(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    day = date(2027, 1, 5)
    assert await run(w, WG_MEMBER, toggle_busy, day) is True
    assert await run(w, WG_MEMBER, busy_days, Quarter(2027, 1)) == (Quarter(2027, 1), {day})
    async with w.factory() as s:
        rows = list(await s.scalars(select(BusyDay)))
        assert [(r.member_id, r.day) for r in rows] == [(w.org.members["M9"], day)]
        audits = list(await s.scalars(select(AuditLog).where(AuditLog.action == "roster.busy")))
        assert audits[0].after == {"day": "2027-01-05", "busy": True}
    assert await run(w, WG_MEMBER, toggle_busy, day) is False
    assert await run(w, WG_MEMBER, busy_days, Quarter(2027, 1)) == (Quarter(2027, 1), set())
    async with w.factory() as s:
        assert await s.scalar(select(func.count()).select_from(BusyDay)) == 0
        assert (
            await s.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "roster.busy")
            )
            == 2
        )


async def test_group_leader_outside_the_member_list_may_mark_busy(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    assert await run(w, WG_LEADER, toggle_busy, date(2026, 12, 24)) is True
    async with w.factory() as s:
        row = (await s.scalars(select(BusyDay))).one()
        assert row.member_id == w.org.members["M8"]


async def test_busy_rest_of_current_quarter_is_allowed_from_today(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    assert await run(w, WG_MEMBER, toggle_busy, date(2026, 11, 23)) is True
    assert await run(w, WG_MEMBER, toggle_busy, date(2027, 3, 31)) is True
    _, days = await run(w, WG_MEMBER, busy_days, Quarter(2026, 4))
    assert days == {date(2026, 11, 23)}


@pytest.mark.parametrize("day", [date(2026, 11, 22), date(2027, 4, 1), date(2020, 1, 1)])
async def test_busy_day_out_of_range_is_refused(engine: AsyncEngine, day: date) -> None:
    w, _ = await world(engine)
    before = await snapshot(w)
    err = await refused(w, WG_MEMBER, toggle_busy, day)
    assert err.key == "roster.busy.out_of_range"
    assert err.params == {
        "first": ReadableDay(date(2026, 11, 23)),
        "last": ReadableDay(date(2027, 3, 31)),
    }
    assert await snapshot(w) == before


async def test_busy_refused_for_someone_in_no_group(engine: AsyncEngine) -> None:
    w, _ = await world(engine)
    before = await snapshot(w)
    assert (await refused(w, SEC1, toggle_busy, date(2027, 1, 5))).key == "roster.not_a_visitor"
    assert (await refused(w, SEC1, busy_days, Quarter(2027, 1))).key == "roster.not_a_visitor"
    assert await snapshot(w) == before


async def test_busy_days_of_a_quarter_nobody_may_edit_show_the_coming_one(
    engine: AsyncEngine,
) -> None:
    w, _ = await world(engine)
    quarter, _ = await run(w, WG_MEMBER, busy_days, Quarter(2025, 1))
    assert quarter == Quarter(2027, 1)


async def test_busy_day_keeps_a_published_visit_and_visits_on_finds_it(
    engine: AsyncEngine,
) -> None:
    w, v = await world(engine)
    assert await run(w, WG_MEMBER, toggle_busy, date(2026, 12, 5)) is True
    async with w.factory() as s:
        actor = await w.actor(s, WG_MEMBER)
        found = await visits_on(s, actor, date(2026, 12, 5))
        assert [i.visit.id for i in found] == [v.upcoming]
        assert found[0].visit.status == VisitStatus.CONFIRMED.value
        assert found[0].branch.id == w.org.b1
        assert await visits_on(s, actor, date(2026, 12, 6)) == []


# My visits ------------------------------------------------------------------------------------


async def test_my_visits_are_live_published_upcoming_and_recent(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    infos = await run(w, WG_MEMBER, my_visits)
    assert [i.visit.id for i in infos] == [v.recent, v.upcoming]
    assert all(i.report is None and i.meeting is None for i in infos)


async def test_reportable_visits_have_started_and_have_no_report(engine: AsyncEngine) -> None:
    w, v = await world(engine)

    async def reportable(s: Any, ctx: Any, actor: Any) -> Any:
        return await my_visits(s, ctx, actor, reportable_only=True)

    assert [i.visit.id for i in await run(w, WG_MEMBER, reportable)] == [v.recent]
    await run(w, WG_MEMBER, submit_visit_report, v.recent, GOOD)
    assert await run(w, WG_MEMBER, reportable) == []
    infos = await run(w, WG_MEMBER, my_visits)
    assert infos[0].report is not None and infos[0].report.quality == "good"


# Reports --------------------------------------------------------------------------------------


async def test_report_with_proposals_writes_them_and_tells_the_leader(
    engine: AsyncEngine,
) -> None:
    w, v = await world(engine)
    data = VisitReportInput(
        attended=True,
        quality=VisitQuality.FAIR,
        proposals=("  Sửa đường vào thôn \r\n", "   ", "Làm\x00 đèn\x07 đường"),
        note="Họp đúng giờ\x00",
    )
    report = await run(w, WG_MEMBER, submit_visit_report, v.recent, data)
    assert report.visit_id == v.recent
    async with w.factory() as s:
        row = await s.get(VisitReport, v.recent)
        assert row is not None
        assert (row.attended, row.quality, row.note) == (True, "fair", "Họp đúng giờ")
        assert row.submitted_by == WG_MEMBER
        heard = list(await s.scalars(select(HeardProposal).order_by(HeardProposal.id)))
        assert [h.text for h in heard] == ["Sửa đường vào thôn", "Làm đèn đường"]
        assert {(h.visit_id, h.branch_id, h.feedback_id) for h in heard} == {
            (v.recent, w.org.b1, None)
        }
        sent = await outbox(s)
        assert [(e.chat_id, e.dedupe_key) for e in sent] == [
            (WG_LEADER, f"visit:{v.recent}:report")
        ]
        assert sent[0].text == w.ctx.i18n.t(
            "roster.visit_report.leader.fair",
            "vi",
            visitor="Đặng Thị Tổ",
            branch="Chi bộ thôn Một",
            date="20/11/2026",
            proposals=2,
        )
        audit = (
            await s.scalars(select(AuditLog).where(AuditLog.action == "roster.visit_report"))
        ).one()
        assert audit.after == {
            "attended": True,
            "quality": "fair",
            "proposals": 2,
            "note_chars": 12,
        }


async def test_absent_report_keeps_no_quality_and_says_so(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    data = VisitReportInput(attended=False, quality=VisitQuality.GOOD)
    await run(w, WG_MEMBER, submit_visit_report, v.recent, data)
    async with w.factory() as s:
        row = await s.get(VisitReport, v.recent)
        assert row is not None and (row.attended, row.quality) == (False, None)
        (sent,) = await outbox(s)
        assert sent.text == w.ctx.i18n.t(
            "roster.visit_report.leader.absent",
            "vi",
            visitor="Đặng Thị Tổ",
            branch="Chi bộ thôn Một",
            date="20/11/2026",
            proposals=0,
        )


async def test_leader_reporting_their_own_visit_is_not_told(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    await run(w, WG_LEADER, submit_visit_report, v.leaders, GOOD)
    async with w.factory() as s:
        assert await s.get(VisitReport, v.leaders) is not None
        assert await outbox(s) == []


@pytest.mark.parametrize("which", ["forged", "someone_else", "dropped", "draft"])
async def test_report_on_a_visit_not_ones_own_is_refused(engine: AsyncEngine, which: str) -> None:
    w, v = await world(engine)
    visit_id = {
        "forged": 99_999,
        "someone_else": v.leaders,
        "dropped": v.dropped,
        "draft": v.draft,
    }[which]
    before = await snapshot(w)
    err = await refused(w, WG_MEMBER, submit_visit_report, visit_id, GOOD)
    assert err.key == "roster.not_your_visit"
    assert await snapshot(w) == before


async def test_report_before_the_meeting_starts_is_refused(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    before = await snapshot(w)
    err = await refused(w, WG_MEMBER, submit_visit_report, v.upcoming, GOOD)
    assert err.key == "roster.visit_not_started"
    # Class 17 (one format per kind): the moment reads as the house writes it, per language.
    assert err.params["start"].label("vi") == "Thứ Bảy, 05/12/2026 lúc 19:30"
    assert err.params["start"].label("en") == "Saturday, 05/12/2026 at 19:30"
    assert await snapshot(w) == before


async def test_report_after_the_window_is_refused(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    before = await snapshot(w)
    err = await refused(w, WG_MEMBER, submit_visit_report, v.old, GOOD)
    assert (err.key, err.params) == ("roster.visit_report_closed", {"days": 30})
    w.clock.move(days=30)
    assert (await refused(w, WG_MEMBER, submit_visit_report, v.recent, GOOD)).key == (
        "roster.visit_report_closed"
    )
    assert await snapshot(w) == before


async def test_second_report_is_refused(engine: AsyncEngine) -> None:
    w, v = await world(engine)
    await run(w, WG_MEMBER, submit_visit_report, v.recent, GOOD)
    before = await snapshot(w)
    err = await refused(w, WG_MEMBER, submit_visit_report, v.recent, GOOD)
    assert err.key == "roster.visit_reported"
    assert await snapshot(w) == before


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (VisitReportInput(attended=True, quality=None), "roster.visit_quality_needed"),
        (
            VisitReportInput(attended=True, quality=VisitQuality.GOOD, note="x" * (NOTE_MAX + 1)),
            "roster.visit_text_too_long",
        ),
        (
            VisitReportInput(
                attended=True, quality=VisitQuality.GOOD, proposals=("y" * (PROPOSAL_MAX + 1),)
            ),
            "roster.visit_text_too_long",
        ),
        (
            VisitReportInput(
                attended=True,
                quality=VisitQuality.GOOD,
                proposals=tuple(f"ý kiến {i}" for i in range(PROPOSALS_MAX + 1)),
            ),
            "roster.visit_too_many_proposals",
        ),
    ],
    ids=["no_quality", "long_note", "long_proposal", "too_many"],
)
async def test_bad_report_input_is_refused(
    engine: AsyncEngine, data: VisitReportInput, key: str
) -> None:
    w, v = await world(engine)
    before = await snapshot(w)
    assert (await refused(w, WG_MEMBER, submit_visit_report, v.recent, data)).key == key
    assert await snapshot(w) == before
