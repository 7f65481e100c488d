"""Roster drafts, publication, the drafts job, visitor reminders and the CLI report, on both
backends, on the small org of `tests/orgdata.py` grown to a group of four and six villages."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import time, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.access.policy import load_actor
from bot.services.rosters.automation import make_due_drafts
from bot.services.rosters.cli_report import plan_report
from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.planning import ensure_programs, make_draft
from bot.services.rosters.reminders import visitor_reminders
from bot.services.rosters.review import confirm_visits, draft_for_group, publish, regenerate
from storage.models import (
    Branch,
    ChatBinding,
    Member,
    OutboxEntry,
    Roster,
    RosterVisit,
    TelegramUser,
    VisitProgram,
    WorkingGroup,
    WorkingGroupMember,
)
from storage.models.rosters import RosterStatus, VisitStatus
from tests import orgdata as o
from tests.helpers import local

Q1 = Quarter(2027, 1)
WG_CHAT = -100777
VISITORS = (8001, 8002, 8003)


@dataclass
class RosterWorld:
    w: o.MeetingWorld
    program_id: int


@pytest.fixture
async def world(engine: AsyncEngine) -> RosterWorld:
    """Group T01WG1 (leader M8 + M9 + three more) visiting B01 and five new villages of U01."""
    w = await o.meeting_world(engine, -100123)
    async with w.factory() as s, s.begin():
        for i in range(5):
            s.add(
                Branch(
                    code=f"T01U01V{i}",
                    name=f"Chi bộ thôn Mới {i}",
                    unit_id=w.org.u1,
                    district_id=w.org.district,
                    kind="village",
                    meeting_day=3 + i % 3,
                    meeting_time=time(19, 30) if i % 2 else time(8, 0),
                    location=f"Nhà văn hóa thôn {i}",
                )
            )
        leader = await s.get(Member, w.org.members["M8"])
        assert leader is not None
        s.add(WorkingGroupMember(working_group_id=w.org.wg, member_id=leader.id))
        for n, tg in enumerate(VISITORS):
            m = Member(
                code=f"V{n}",
                full_name=f"Người Dự {n}",
                branch_id=w.org.b3,
                district_id=w.org.district,
                role="member",
                status="official",
                telegram_id=tg,
            )
            s.add(m)
            await s.flush()
            s.add(WorkingGroupMember(working_group_id=w.org.wg, member_id=m.id))
        for tg in (*VISITORS, o.WG_LEADER):
            s.add(TelegramUser(id=tg, first_name="x"))
        s.add(
            ChatBinding(
                chat_id=WG_CHAT,
                target_type="working_group",
                target_id=w.org.wg,
                district_id=w.org.district,
            )
        )
        await ensure_programs(s)
        program = await s.scalar(select(VisitProgram.id))
    assert program is not None
    w.clock.t = local(2026, 12, 22, 9)  # ten days before 2027-Q1
    return RosterWorld(w, program)


async def _draft(rw: RosterWorld, actor_tg: int | None = None) -> Roster:
    async with rw.w.factory() as s, s.begin():
        program = await s.get(VisitProgram, rw.program_id)
        assert program is not None
        actor = await load_actor(s, actor_tg) if actor_tg else None
        return (await make_draft(s, rw.w.ctx, program, Q1, actor=actor)).roster


async def _outbox(rw: RosterWorld) -> list[OutboxEntry]:
    async with rw.w.factory() as s:
        return list(await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


async def test_every_imported_group_gets_one_default_program(world: RosterWorld) -> None:
    async with world.w.factory() as s, s.begin():
        assert await ensure_programs(s) == 0
        program = await s.get(VisitProgram, world.program_id)
        assert program is not None
        assert (program.cadence, program.visitors_per_meeting, program.min_gap_minutes) == (
            "quarter_first_month",
            1,
            180,
        )


async def test_draft_covers_the_villages_and_never_the_visitors_own_branch(
    world: RosterWorld,
) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s:
        visits = list(await s.scalars(select(RosterVisit)))
        branch_ids = {v.branch_id for v in visits}
        kinds = {(await s.get(Branch, b)).kind for b in branch_ids}  # type: ignore[union-attr]
    assert roster.status == RosterStatus.DRAFT.value and roster.solver_status == "optimal"
    assert len(branch_ids) == 6 and kinds == {"village"}
    assert all(v.period_month == 1 and v.status == VisitStatus.ASSIGNED.value for v in visits)
    assert await _outbox(world) == []  # a draft tells nobody


async def test_regenerating_an_unchanged_draft_keeps_every_assignment(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s:
        before = sorted(
            (v.branch_id, v.visitor_member_id) for v in await s.scalars(select(RosterVisit))
        )
    async with world.w.factory() as s, s.begin():
        again = await regenerate(
            s, world.w.ctx, await load_actor(s, o.WG_LEADER), roster.id, roster.version
        )
    async with world.w.factory() as s:
        after = sorted(
            (v.branch_id, v.visitor_member_id) for v in await s.scalars(select(RosterVisit))
        )
    assert after == before and again.version == roster.version + 1


async def test_a_plain_member_cannot_draft_or_regenerate(world: RosterWorld) -> None:
    with pytest.raises(RosterError) as err:
        await _draft(world, o.SEC1)
    assert err.value.key == "roster.needs_leader"
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        with pytest.raises(RosterError) as err:
            await regenerate(s, world.w.ctx, await load_actor(s, VISITORS[0]), roster.id, None)
    assert err.value.key == "roster.needs_leader"


async def test_publish_posts_table_and_workbook_to_the_group_and_lists_to_visitors(
    world: RosterWorld,
) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        view = await publish(
            s, world.w.ctx, await load_actor(s, o.WG_LEADER), roster.id, roster.version
        )
    rows = await _outbox(world)
    group = [r for r in rows if r.chat_id == WG_CHAT]
    assert [r.document_name is not None for r in group] == [False, True]
    book = openpyxl.load_workbook(io.BytesIO(group[1].document_data or b""))
    sheet = book.active
    assert sheet is not None and sheet.freeze_panes == "A3"
    assert sheet.max_row - 2 == len(view.visits) == 6
    private = {r.chat_id for r in rows if r.chat_id > 0}
    visitor_chats = {m.telegram_id for m in view.members.values() if m.telegram_id is not None}
    # M9 (WG_MEMBER) never wrote to the bot: nobody can write to them in private.
    assert private == visitor_chats - {o.WG_MEMBER}
    lists = [r for r in rows if r.chat_id > 0 and r.text]
    assert all("rcf:" in str(r.reply_markup) for r in lists)
    assert all(
        r.document_name and r.document_name.endswith(".ics")
        for r in rows
        if r.chat_id > 0 and r.text is None
    )
    # Every visit is tied to its January meeting, planned from the rule when missing.
    assert all(v.meeting_id is not None for v in view.visits)


async def test_publishing_twice_is_refused_and_sends_nothing_more(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        await publish(s, world.w.ctx, None, roster.id, None)
    sent = len(await _outbox(world))
    async with world.w.factory() as s, s.begin():
        with pytest.raises(RosterError) as err:
            await publish(s, world.w.ctx, await load_actor(s, o.WG_LEADER), roster.id, None)
    assert err.value.key == "roster.already_published"
    assert len(await _outbox(world)) == sent


async def test_a_stale_screen_is_refused(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        with pytest.raises(RosterError) as err:
            await publish(s, world.w.ctx, None, roster.id, roster.version + 5)
    assert err.value.key == "roster.stale"


async def test_confirm_marks_only_the_pressers_visits(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        await publish(s, world.w.ctx, None, roster.id, None)
    async with world.w.factory() as s, s.begin():
        mine = await s.scalar(
            select(func.count())
            .select_from(RosterVisit)
            .join(Member, Member.id == RosterVisit.visitor_member_id)
            .where(Member.telegram_id == VISITORS[0])
        )
        if mine:
            n = await confirm_visits(s, world.w.ctx, await load_actor(s, VISITORS[0]), roster.id)
            assert n == mine
        with pytest.raises(RosterError) as err:
            await confirm_visits(s, world.w.ctx, await load_actor(s, o.SEC1), roster.id)
        assert err.value.key == "roster.not_your_visit"
    async with world.w.factory() as s:
        confirmed = await s.scalar(
            select(func.count()).where(RosterVisit.status == VisitStatus.CONFIRMED.value)
        )
    assert confirmed == (mine or 0)


async def test_drafts_job_makes_each_draft_once_and_sends_it_to_the_leader(
    world: RosterWorld,
) -> None:
    world.w.clock.t = local(2026, 12, 20, 9)  # 12 days before: not yet due
    assert await make_due_drafts(world.w.factory, world.w.ctx) == 0
    world.w.clock.t = local(2026, 12, 22, 9)
    assert await make_due_drafts(world.w.factory, world.w.ctx) == 1
    assert await make_due_drafts(world.w.factory, world.w.ctx) == 0
    rows = await _outbox(world)
    assert [r.chat_id for r in rows] == [o.WG_LEADER]
    assert "ros:" in str(rows[0].reply_markup)


async def test_visitor_gets_the_24h_reminder_once(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s, s.begin():
        view = await publish(s, world.w.ctx, None, roster.id, None)
    first = min(view.visits, key=lambda v: v.starts_at)
    before = len(await _outbox(world))
    world.w.clock.t = first.starts_at - timedelta(hours=23)
    async with world.w.factory() as s, s.begin():
        queued = await visitor_reminders(s, world.w.ctx)
    async with world.w.factory() as s, s.begin():
        again = await visitor_reminders(s, world.w.ctx)
    assert queued >= 1 and again == 0
    rows = (await _outbox(world))[before:]
    assert all(r.kind == "reminder" for r in rows)
    text = world.w.ctx.i18n.t("roster.remind.report", "vi")
    assert all(text in (r.text or "") for r in rows)


async def test_cli_report_has_the_json_shape(world: RosterWorld) -> None:
    report = await plan_report(world.w.factory, world.w.ctx, Q1, "T01")
    group = report["groups"][0]
    assert report["quarter"] == "2027-Q1" and group["code"] == "T01WG1"
    assert group["status"] in ("optimal", "feasible", "infeasible")
    assert all(set(a) == {"branch", "start", "visitor"} for a in group["assignments"])
    assert all(a["start"].endswith("+07:00") for a in group["assignments"])
    with pytest.raises(RosterError):
        await plan_report(world.w.factory, world.w.ctx, Q1, "NOPE")


async def test_a_leader_cannot_draft_a_far_or_past_quarter(world: RosterWorld) -> None:
    async with world.w.factory() as s, s.begin():
        actor = await load_actor(s, o.WG_LEADER)
        group = await s.get(WorkingGroup, world.w.org.wg)
        assert group is not None
        for quarter in (Quarter(2029, 1), Quarter(2026, 2)):
            with pytest.raises(RosterError) as err:
                await draft_for_group(s, world.w.ctx, actor, group, quarter)
            assert err.value.key == "roster.quarter_not_open"
        assert await s.scalar(select(func.count()).select_from(Roster)) == 0
        # The coming quarter is open.
        roster = await draft_for_group(s, world.w.ctx, actor, group, Q1)
        assert (roster.year, roster.quarter) == (2027, 1)
