"""Truth rule "one change of a meeting, every consequence": whichever path changes a meeting's
time or existence (`/schedule` confirming the planned one at another time, `/reschedule`,
`/cancel`, a rule change), the one meeting-changed event repairs the published roster, tells
the visitor, withdraws stale reminders and closes the nudges it settles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services import meetings as mtg
from bot.services.meetings import plan
from bot.services.meetings.events import ChangeKind, subscribed
from bot.services.meetings.reminders import dedupe_key
from storage.models import Meeting, NudgeTrack, RosterVisit
from storage.models.outbox import OutboxEntry
from tests.helpers import local
from tests.roster_world import RosterWorld, live_visits, roster_world, sent


@pytest.fixture
async def rw(engine: AsyncEngine) -> RosterWorld:
    return await roster_world(engine)


def test_rosters_reminders_announcement_and_nudges_subscribe_at_start_up() -> None:
    assert subscribed() == [
        "meetings.reminders",
        "meetings.announcement",
        "meetings.live_messages",
        "rosters.repair",
        "nudges.tracks",
    ]


async def _v1_visit(rw: RosterWorld) -> RosterVisit:
    async with rw.w.factory() as s:
        return next(
            v for v in await live_visits(s, rw.roster_id) if v.branch_id == rw.branches["V1"]
        )


Move = Callable[[AsyncSession, RosterWorld, int], Awaitable[object]]


async def _schedule_form(s: AsyncSession, rw: RosterWorld, form: str) -> mtg.ScheduleResult:
    """`/schedule <form>` as the conversation runs it: the form is read and checked (the check
    screen), then "Xác nhận" schedules exactly what the screen showed."""
    s1 = await rw.actor(s, "S1")
    preview = await mtg.preview_form(s, s1, rw.w.ctx, rw.branches["V1"], form)
    return await mtg.schedule_meeting(
        s,
        s1,
        rw.w.ctx,
        preview.branch.id,
        kind=preview.kind,
        starts_at=preview.starts_at,
        place=preview.place,
        reinstate=preview.cancelled is not None,
    )


async def _by_schedule(s: AsyncSession, rw: RosterWorld, meeting_id: int) -> object:
    """`/schedule 12/01 08h00`: the secretary confirms the planned meeting at another time."""
    return await _schedule_form(s, rw, "12/01 08h00")


async def _by_reschedule(s: AsyncSession, rw: RosterWorld, meeting_id: int) -> object:
    s1 = await rw.actor(s, "S1")
    return await mtg.reschedule_to(s, s1, rw.w.ctx, meeting_id, "12/01 08h00")


async def _by_rule(s: AsyncSession, rw: RosterWorld, meeting_id: int) -> object:
    """The branch's rule moves to the 12th at 08:00: the planned meeting follows it."""
    s1 = await rw.actor(s, "S1")
    return await plan.update_rule(
        s,
        s1,
        rw.w.ctx,
        rw.branches["V1"],
        meeting_day=12,
        meeting_time=time(8, 0),
        location="Nhà văn hóa V1",
    )


@pytest.mark.parametrize("move", [_by_schedule, _by_reschedule, _by_rule])
async def test_one_change_every_consequence_any_path_moves_the_published_visit(
    rw: RosterWorld, move: Move
) -> None:
    """The defect: `/schedule 05/01 19h30` at another time left the roster on the old day."""
    visit = await _v1_visit(rw)
    assert visit.meeting_id is not None
    async with rw.w.factory() as s, s.begin():
        await move(s, rw, visit.meeting_id)
    async with rw.w.factory() as s:
        moved = await s.get(RosterVisit, visit.id)
        meeting = await s.get(Meeting, visit.meeting_id)
    assert meeting is not None and meeting.starts_at == local(2027, 1, 12, 8, 0)
    assert moved is not None and moved.starts_at == meeting.starts_at
    assert moved.visitor_member_id == visit.visitor_member_id
    assert await sent(rw, rw.code_of(visit.visitor_member_id), f"visit:{visit.id}:moved")


async def test_one_change_every_consequence_cancel_drops_the_visit_and_its_nudge_track(
    rw: RosterWorld,
) -> None:
    visit = await _v1_visit(rw)
    assert visit.meeting_id is not None
    async with rw.w.factory() as s, s.begin():
        s.add(
            NudgeTrack(
                key=f"confirm:{visit.id}",
                kind="visit_unconfirmed",
                district_id=rw.w.org.district,
                since=visit.starts_at,
                started_at=rw.w.clock.now(),
            )
        )
    async with rw.w.factory() as s, s.begin():
        s1 = await rw.actor(s, "S1")
        await mtg.cancel_meeting(s, s1, rw.w.ctx, visit.meeting_id, "Bão lớn")
    async with rw.w.factory() as s:
        track = (await s.scalars(select(NudgeTrack))).one()
        dropped = await s.get(RosterVisit, visit.id)
    assert dropped is not None and dropped.status == "dropped"
    assert (track.end, track.ended_at) == ("lapsed", rw.w.clock.now())


async def test_one_change_every_consequence_a_stale_reminder_never_leaves(
    rw: RosterWorld,
) -> None:
    """A reminder of the old version waiting in the outbox (held for the morning) would say
    the old time: the change withdraws it, and only it."""
    visit = await _v1_visit(rw)
    assert visit.meeting_id is not None
    mid = visit.meeting_id
    async with rw.w.factory() as s, s.begin():
        await _schedule_form(s, rw, "05/01 19h30")
        meeting = await s.get(Meeting, mid)
        assert meeting is not None
        old = dedupe_key(mid, meeting.version, "member_24h", rw.tg["S1"])
        for key in (old, f"other:{mid}"):
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=rw.tg["S1"],
                    kind=OutboxKind.REMINDER,
                    text="x",
                    dedupe_key=key,
                    origin_type="meeting",
                    origin_id=mid,
                    not_before=local(2027, 1, 4, 7),
                ),
                clock=rw.w.clock,
            )
    async with rw.w.factory() as s, s.begin():
        s1 = await rw.actor(s, "S1")
        change = await mtg.reschedule_to(s, s1, rw.w.ctx, mid, "12/01 08h00")
    assert change.meeting.version == meeting.version + 1
    async with rw.w.factory() as s:
        rows = {r.dedupe_key: r.state for r in await s.scalars(select(OutboxEntry))}
    assert rows[old] == "cancelled"
    assert rows[f"other:{mid}"] == "pending"


def test_change_kinds_name_every_path() -> None:
    assert {k.value for k in ChangeKind} == {
        "scheduled",
        "reinstated",
        "rescheduled",
        "cancelled",
        "replanned",
    }
