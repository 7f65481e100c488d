"""Meeting services on both backends: plan, schedule, RSVP, reminders, reports, regularity, .ics."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.i18n import create_i18n
from bot.services import meetings as svc
from bot.services.access.policy import Refused
from bot.services.meetings import AbsentEntry, MeetingError, Outcome, ReportInput
from bot.services.vn_calendar import VN_TZ
from storage.models import Branch, Meeting, MeetingReport, TelegramUser
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository
from tests.helpers import FakeClock, local
from tests.orgdata import DEP1, MEM1, SEC1, SEC2, STRANGER, MeetingWorld, meeting_world

GROUP = -100123
I18N = create_i18n()


@pytest.fixture
async def world(engine: AsyncEngine) -> MeetingWorld:
    users = [TelegramUser(id=i, first_name="x") for i in (SEC1, DEP1, MEM1)]
    return await meeting_world(engine, GROUP, users)


async def _schedule(w: MeetingWorld, when: datetime, kind: str = "regular", **kw: str) -> int:
    async with w.factory() as s, s.begin():
        res = await svc.schedule_meeting(
            s, await w.actor(s, SEC1), w.ctx, w.org.b1, kind=kind, starts_at=when, **kw
        )
        return res.meeting.id


# Plan ----------------------------------------------------------------------------------------


async def test_plan_is_idempotent_and_shifts_tet(world: MeetingWorld) -> None:
    world.clock.t = local(2027, 1, 20, 9)
    async with world.factory() as s, s.begin():
        branch = await s.get(Branch, world.org.b1)
        assert branch is not None
        branch.meeting_day = 6  # 06/02/2027 is Tết
    async with world.factory() as s, s.begin():
        first = await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])
        periods = sorted((m.period_year, m.period_month) for m in first.created)
        assert periods == [(2027, 2), (2027, 3)]  # January's 06/01 already passed
        feb = next(m for m in first.created if m.period_month == 2)
        assert feb.starts_at == local(2027, 2, 11, 19, 30)
        assert feb.shifted_from == date(2027, 2, 6) and "Tết" in (feb.shift_reason or "")
        assert [m.id for m in first.shifted] == [feb.id]
        assert [m.id for m in await svc.shift_notices(s, world.org.b1)] == [feb.id]
        await svc.mark_shift_told(s, feb.id, world.clock)
    async with world.factory() as s, s.begin():
        assert (await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])).created == []
        assert await svc.shift_notices(s, world.org.b1) == []
        count = await s.scalar(select(func.count()).select_from(Meeting))
        assert count == 2


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(days=st.lists(st.integers(0, 400), min_size=1, max_size=4), day=st.integers(1, 31))
async def test_plan_never_duplicates_a_month(
    world: MeetingWorld, days: list[int], day: int
) -> None:
    async with world.factory() as s, s.begin():
        branch = await s.get(Branch, world.org.b2)
        assert branch is not None
        branch.meeting_day = day
    for offset in days:
        clock = FakeClock(local(2026, 11, 23, 11) + timedelta(days=offset))
        async with world.factory() as s, s.begin():
            await svc.generate_plan(s, clock, branch_ids=[world.org.b2])
        async with world.factory() as s, s.begin():
            again = await svc.generate_plan(s, clock, branch_ids=[world.org.b2])
            assert again.created == []
    async with world.factory() as s:
        rows = (await s.scalars(select(Meeting).where(Meeting.branch_id == world.org.b2))).all()
    periods = [(m.period_year, m.period_month) for m in rows]
    assert len(periods) == len(set(periods))
    for m in rows:
        loc = m.starts_at.astimezone(VN_TZ)
        assert (loc.year, loc.month) == (m.period_year, m.period_month)


# Schedule, reschedule, cancel ---------------------------------------------------------------


async def test_schedule_confirms_the_planned_meeting_and_moving_keeps_identity(
    world: MeetingWorld,
) -> None:
    async with world.factory() as s, s.begin():
        planned = (await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])).created
    december = next(m for m in planned if m.period_month == 12)
    mid = await _schedule(world, local(2026, 12, 3, 19, 30), place="Nhà văn hóa thôn 3")
    assert mid == december.id
    async with world.factory() as s, s.begin():
        with pytest.raises(MeetingError) as info:
            await svc.schedule_meeting(
                s,
                await world.actor(s, SEC1),
                world.ctx,
                world.org.b1,
                kind="regular",
                starts_at=local(2026, 12, 10, 19),
            )
        assert info.value.key == "meetings.error.regular_exists"
        actor = await world.actor(s, DEP1)  # the deputy may stand in
        change = await svc.reschedule_meeting(
            s, actor, world.ctx, mid, starts_at=local(2026, 12, 12, 19, 30)
        )
        assert change.meeting.id == mid and change.meeting.version == 2
        for when, key in (
            (local(2027, 1, 2, 19), "meetings.error.outside_month"),
            (local(2026, 11, 20, 19), "meetings.error.in_past"),
        ):
            with pytest.raises(MeetingError) as info:
                await svc.reschedule_meeting(s, actor, world.ctx, mid, starts_at=when)
            assert info.value.key == key
        with pytest.raises(MeetingError) as info:
            await svc.reschedule_meeting(s, actor, world.ctx, mid, place="x" * 257)
        assert info.value.key == "meetings.error.place_too_long"
    async with world.factory() as s:
        m = await s.get(Meeting, mid)
        assert m is not None
        assert (m.period_year, m.period_month, m.version) == (2026, 12, 2)
        assert m.starts_at == local(2026, 12, 12, 19, 30)
        assert m.place == "Nhà văn hóa thôn 3"


async def test_bad_schedule_input_changes_nothing(world: MeetingWorld) -> None:
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        cases = [
            ({"starts_at": local(2026, 11, 1, 19)}, "meetings.error.in_past"),
            (
                {"starts_at": local(2026, 12, 3, 19), "agenda": "a" * 3001},
                "meetings.error.agenda_too_long",
            ),
            ({"starts_at": local(2026, 12, 3, 19), "kind": "party"}, "meetings.error.bad_kind"),
        ]
        for kwargs, key in cases:
            args = {"kind": "extraordinary", **kwargs}
            with pytest.raises(MeetingError) as info:
                await svc.schedule_meeting(s, actor, world.ctx, world.org.b1, **args)  # type: ignore[arg-type]
            assert info.value.key == key
        # A secretary of another branch reaching this one with a forged id.
        with pytest.raises(Refused) as refused:
            await svc.schedule_meeting(
                s,
                await world.actor(s, SEC2),
                world.ctx,
                world.org.b1,
                kind="extraordinary",
                starts_at=local(2026, 12, 3, 19),
            )
        assert refused.value.key == "policy.not_your_branch"
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 0


async def test_forged_meeting_id_cannot_be_cancelled_by_another_branch(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    async with world.factory() as s, s.begin():
        with pytest.raises(Refused) as info:
            await svc.cancel_meeting(s, await world.actor(s, SEC2), world.ctx, mid, "no")
        assert info.value.key == "policy.not_your_branch"
        with pytest.raises(MeetingError) as missing:
            await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, 9999, "x")
        assert missing.value.key == "meetings.error.not_found"
        with pytest.raises(MeetingError) as empty:
            await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "   ")
        assert empty.value.key == "meetings.error.reason_required"
    async with world.factory() as s:
        m = await s.get(Meeting, mid)
        assert m is not None and m.status == MeetingStatus.SCHEDULED.value


async def test_thematic_meetings_are_counted_per_quarter(world: MeetingWorld) -> None:
    await _schedule(world, local(2026, 12, 10, 19), kind="thematic", title="Nghị quyết")
    async with world.factory() as s, s.begin():
        res = await svc.schedule_meeting(
            s,
            await world.actor(s, SEC1),
            world.ctx,
            world.org.b1,
            kind="thematic",
            starts_at=local(2026, 12, 20, 19),
        )
        assert res.created and res.thematic_in_quarter == 1
        open_ = await svc.open_meetings(s, world.org.b1, world.clock)
        assert len(open_) == 2


# RSVP ----------------------------------------------------------------------------------------


async def test_rsvp_counts_and_refusals(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    async with world.factory() as s, s.begin():
        await svc.record_rsvp(s, world.clock, mid, MEM1, "yes")
        c1 = await svc.rsvp_counts(s, mid)
        r2 = await svc.record_rsvp(s, world.clock, mid, DEP1, "no")
        assert r2.needs_reason
        await svc.set_absence_reason(s, world.clock, mid, DEP1, "sick")
        c3 = await svc.rsvp_counts(s, mid)
        same = await svc.record_rsvp(s, world.clock, mid, MEM1, "yes")
        assert (c1.yes, c1.no, c1.members) == (1, 0, 5)
        assert (c3.yes, c3.no, c3.unanswered) == (1, 1, 3)
        assert not same.changed
        for tg, key in (
            (STRANGER, "meetings.error.not_member"),
            (SEC2, "meetings.error.not_member"),
        ):
            with pytest.raises(MeetingError) as info:
                await svc.record_rsvp(s, world.clock, mid, tg, "yes")
            assert info.value.key == key
        with pytest.raises(MeetingError) as info:
            await svc.record_rsvp(s, world.clock, mid, MEM1, "no", reason_code="bored")
        assert info.value.key == "meetings.error.bad_reason"
    world.clock.t = local(2026, 12, 3, 19, 30)
    async with world.factory() as s, s.begin():
        with pytest.raises(MeetingError) as info:
            await svc.record_rsvp(s, world.clock, mid, SEC1, "yes")
        assert info.value.key == "meetings.error.rsvp_closed"
        counts = await svc.rsvp_counts(s, mid)
        assert (counts.yes, counts.no) == (1, 1)


async def test_rsvp_to_cancelled_or_unconfirmed_meeting_is_refused(world: MeetingWorld) -> None:
    async with world.factory() as s, s.begin():
        planned = (await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])).created[0]
    mid = await _schedule(world, local(2026, 12, 20, 19), kind="extraordinary")
    async with world.factory() as s, s.begin():
        await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "Mưa bão")
    async with world.factory() as s, s.begin():
        for meeting_id, key in (
            (planned.id, "meetings.error.not_scheduled"),
            (mid, "meetings.error.cancelled"),
        ):
            with pytest.raises(MeetingError) as info:
                await svc.record_rsvp(s, world.clock, meeting_id, MEM1, "yes")
            assert info.value.key == key


# Reminders -----------------------------------------------------------------------------------


async def _notified(s: AsyncSession, meeting_id: int, kind: NoticeKind) -> set[int]:
    """Chats the meeting's notices of `kind` were queued to."""
    notices = await MeetingRepository(s).notices([meeting_id])
    return {n.chat_id for n in notices if n.kind == kind.value}


async def _send_due(w: MeetingWorld) -> list[svc.DueNotice]:
    """What the reminder job will do: record each due notice (the outbox row is its twin)."""
    async with w.factory() as s, s.begin():
        due = await svc.due_reminders(s, w.clock.now())
        for d in due:
            meeting = await s.get(Meeting, d.meeting_id)
            assert meeting is not None
            assert (
                await svc.record_notice(
                    s, meeting, d.kind, d.chat_id, w.clock.now(), member_id=d.member_id
                )
                is not None
            )
        return due


async def test_reminders_fire_once_and_changes_produce_corrections(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    async with world.factory() as s, s.begin():
        await svc.record_rsvp(s, world.clock, mid, MEM1, "yes")
    assert await _send_due(world) == []
    world.clock.t = local(2026, 12, 2, 19, 31)  # 24 h before
    sent = await _send_due(world)
    assert {(d.kind, d.chat_id) for d in sent} == {
        (NoticeKind.GROUP_24H, GROUP),
        (NoticeKind.MEMBER_24H, SEC1),
        (NoticeKind.MEMBER_24H, DEP1),
    }  # MEM1 answered; M4/M5 have no account
    world.clock.move(minutes=5)
    assert await _send_due(world) == []  # the "restart": the database says nothing is due
    async with world.factory() as s, s.begin():
        meeting = await s.get(Meeting, mid)
        assert meeting is not None
        again = await svc.record_notice(s, meeting, NoticeKind.GROUP_24H, GROUP, world.clock.now())
        assert again is None
    # Moved after the reminder: everyone told gets a correction, nobody a stale reminder.
    async with world.factory() as s, s.begin():
        change = await svc.reschedule_meeting(
            s, await world.actor(s, SEC1), world.ctx, mid, starts_at=local(2026, 12, 4, 19, 30)
        )
        told = await _notified(s, mid, NoticeKind.CORRECTION)
        assert told == {GROUP, SEC1, DEP1} and change.told.chats == 3
    assert await _send_due(world) == []  # corrections were sent before the new 24 h mark
    world.clock.t = local(2026, 12, 3, 19, 30)
    sent = await _send_due(world)
    assert {d.kind for d in sent} == {NoticeKind.GROUP_24H, NoticeKind.MEMBER_24H}
    assert all(d.version == 2 for d in sent)
    world.clock.t = local(2026, 12, 4, 17, 31)
    sent = await _send_due(world)
    assert [(d.kind, d.chat_id) for d in sent] == [(NoticeKind.GROUP_2H, GROUP)]
    async with world.factory() as s, s.begin():
        change = await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "Bão")
        assert await _notified(s, mid, NoticeKind.CANCELLATION) == {GROUP, SEC1, DEP1}
    assert await _send_due(world) == []


async def test_late_start_sends_only_the_latest_stage(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    world.clock.t = local(2026, 12, 3, 18, 0)  # the bot was down at the 24 h mark
    sent = await _send_due(world)
    group = [d for d in sent if d.chat_id == GROUP]
    assert [d.kind for d in group] == [NoticeKind.GROUP_2H]
    assert all(d.meeting_id == mid for d in sent)
    assert await _send_due(world) == []


# Reports and regularity ----------------------------------------------------------------------


async def test_report_rules_versions_and_outcomes(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    async with world.factory() as s, s.begin():
        await svc.record_rsvp(s, world.clock, mid, MEM1, "yes")
        await svc.record_rsvp(s, world.clock, mid, DEP1, "no", reason_code="work")
        with pytest.raises(MeetingError) as info:
            await svc.submit_report(
                s, await world.actor(s, SEC1), world.clock, mid, ReportInput(), i18n=I18N
            )
        assert info.value.key == "meetings.error.report_too_early"
    world.clock.t = local(2026, 12, 3, 21, 0)
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        draft = await svc.report_draft(s, actor, world.clock, mid)
        assert draft.input.present_count == 1
        assert [(a.member_id, a.reason_code, a.excused) for a in draft.input.absent] == [
            (world.org.members["M2"], "work", True)
        ]
        data = ReportInput(
            present_count=4,
            absent=draft.input.absent,
            minutes_file_id="BQACAgIAAxk",
            minutes_file_kind="pdf",
            resolution="Thống nhất sửa đường liên thôn.",
            topics=("Giao thông",),
            proposals=("Xin hỗ trợ xi măng",),
        )
        for bad, key in (
            (ReportInput(present_count=6), "meetings.error.bad_present_count"),
            (
                ReportInput(minutes_file_id="x", minutes_file_kind="exe"),
                "meetings.error.bad_minutes_file",
            ),
            (
                ReportInput(absent=(AbsentEntry(world.org.members["M6"]),)),
                "meetings.error.absent_not_member",
            ),
            (ReportInput(resolution="r" * 3001), "meetings.error.resolution_too_long"),
        ):
            with pytest.raises(MeetingError) as info:
                await svc.submit_report(s, actor, world.clock, mid, bad, i18n=I18N)
            assert info.value.key == key
        first = (await svc.submit_report(s, actor, world.clock, mid, data, i18n=I18N)).report
        assert first.version == 1 and first.minutes_kept
        with pytest.raises(MeetingError) as info:
            await svc.submit_report(s, actor, world.clock, mid, data, i18n=I18N)
        assert info.value.key == "meetings.error.report_exists"
    world.clock.move(days=6)
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        second = await svc.correct_report(
            s,
            actor,
            world.clock,
            mid,
            ReportInput(present_count=3, resolution="Sửa lại"),
            i18n=I18N,
        )
        assert second.report.version == 2
    world.clock.move(days=2)
    async with world.factory() as s, s.begin():
        with pytest.raises(MeetingError) as info:
            await svc.correct_report(
                s, await world.actor(s, SEC1), world.clock, mid, ReportInput(), i18n=I18N
            )
        assert info.value.key == "meetings.error.correction_closed"
        versions = await svc.report_versions(s, mid)
        assert [(v.version, v.present_count) for v in versions] == [(1, 4), (2, 3)]
        figures = await svc.month_figures(
            s, [world.org.b1, world.org.b2], 2026, 12, world.clock.now()
        )
        assert figures[0].regular is Outcome.ON_TIME  # 03/12 is before the 05/12 rule + 5
        # December is not over, but B02's rule day (the 5th) has passed with nothing scheduled:
        # missed so far, never "upcoming".
        assert figures[1].regular is Outcome.NOT_SCHEDULED


async def test_outcomes_late_not_held_not_reported(world: MeetingWorld) -> None:
    m = Meeting(
        kind="regular",
        status="scheduled",
        period_year=2026,
        period_month=12,
        starts_at=local(2026, 12, 20, 19),
        rule_date=date(2026, 12, 5),
        version=1,
    )
    now = local(2026, 12, 21, 9)
    assert svc.outcome(m, MeetingReport(held=True), now) is Outcome.LATE
    m.starts_at = local(2026, 12, 10, 19)
    assert svc.outcome(m, MeetingReport(held=True), now) is Outcome.ON_TIME
    m.starts_at = local(2026, 12, 10, 19, 1) + timedelta(days=1)
    assert svc.outcome(m, MeetingReport(held=True), now) is Outcome.LATE
    assert svc.outcome(m, MeetingReport(held=False), now) is Outcome.NOT_HELD
    assert svc.outcome(m, None, local(2026, 12, 12, 9)) is Outcome.AWAITING_REPORT
    assert svc.outcome(m, None, local(2026, 12, 20, 9)) is Outcome.NOT_REPORTED
    assert svc.outcome(m, None, local(2026, 12, 1, 9)) is Outcome.UPCOMING
    m.status = "cancelled"
    assert svc.outcome(m, None, now) is Outcome.NOT_HELD
    async with world.factory() as s:
        figures = await svc.month_figures(s, [world.org.b3], 2026, 10, now)
        assert figures[0].regular is Outcome.NOT_HELD and figures[0].regular_meeting_id is None


# Calendar file -------------------------------------------------------------------------------


async def test_ics_export_parses_with_local_times(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30), place="Nhà văn hóa thôn 3")
    other = await _schedule(world, local(2026, 12, 20, 19), kind="extraordinary")
    async with world.factory() as s, s.begin():
        await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, other, "Bão")
    async with world.factory() as s:
        data = await svc.branch_ics(s, world.org.b1, create_i18n("vi"), "vi", world.clock.now())
    cal = icalendar.Calendar.from_ical(data)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"meeting-{mid}@chibo-bot", f"meeting-{other}@chibo-bot"}
    first = events[f"meeting-{mid}@chibo-bot"]
    start = first.decoded("dtstart")
    assert str(start.tzinfo) == "Asia/Ho_Chi_Minh"
    assert (start.hour, start.minute) == (19, 30)
    assert str(first["location"]) == "Nhà văn hóa thôn 3"
    assert "Sinh hoạt chi bộ thường kỳ" in str(first["summary"])
    assert str(events[f"meeting-{other}@chibo-bot"]["status"]) == "CANCELLED"
    assert cal.walk("VTIMEZONE")


async def test_schedule_racing_the_plan_job_lands_on_the_planned_row(
    world: MeetingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan job may insert the month's row between the secretary's read and insert."""
    async with world.factory() as s, s.begin():
        planned = (await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])).created
    december = next(m for m in planned if m.period_month == 12)
    real = MeetingRepository.regular_for_month
    calls = 0

    async def stale_once(self: MeetingRepository, *args: object) -> Meeting | None:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(MeetingRepository, "regular_for_month", stale_once)
    mid = await _schedule(world, local(2026, 12, 4, 19, 30), place="Hội trường")
    assert calls == 2 and mid == december.id
    async with world.factory() as s:
        m = await s.get(Meeting, mid)
        assert m is not None and m.status == "scheduled" and m.place == "Hội trường"
        n = await s.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.period_month == 12)
        )
        assert n == 1


async def test_plan_job_writes_a_batch_of_branches_per_transaction(
    world: MeetingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite one transaction holds the whole file: a city's first plan in one transaction
    kept people's answers waiting on the lock. Each batch commits on its own, and together they
    plan exactly what one pass would."""
    from bot.app.jobs import meetings as jobs
    from bot.scheduler import JobContext

    batches: list[list[int]] = []
    real = svc.generate_plan

    async def spy(session: AsyncSession, *args: object, **kw: object) -> svc.PlanResult:
        ids = kw.get("branch_ids")
        assert isinstance(ids, list)
        batches.append(ids)
        assert not session.in_nested_transaction()
        return await real(session, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "generate_plan", spy)
    monkeypatch.setattr(jobs, "PLAN_BATCH", 2)
    ctx = JobContext(session_factory=world.factory, clock=world.clock, i18n=world.ctx.i18n)
    planned = await jobs.plan_job(ctx)
    async with world.factory() as s:
        active = await MeetingRepository(s).active_branch_ids()
        n = await s.scalar(select(func.count()).select_from(Meeting))
    assert [i for b in batches for i in b] == active and all(len(b) <= 2 for b in batches)
    assert len(batches) >= 2 and n and planned >= n
    assert await jobs.plan_job(ctx) == 0  # nothing owed twice
