"""Each meeting-changing use case, called alone (no handler), queues every notice it causes,
and group notices go only to the branch's current group; dates a person enters are bounded."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inputs import latest_date
from bot.services import meetings as svc
from bot.services.meetings import MeetingError
from bot.services.vn_calendar import ReadableDay
from storage.models import ChatBinding, Meeting, TelegramUser
from storage.models.outbox import OutboxEntry
from tests.helpers import local
from tests.orgdata import DEP1, MEM1, SEC1, MeetingWorld, meeting_world

GROUP, NEW_GROUP = -100601, -100602


@pytest.fixture
async def world(engine: AsyncEngine) -> MeetingWorld:
    users = [TelegramUser(id=i, first_name="x") for i in (SEC1, DEP1, MEM1)]
    return await meeting_world(engine, GROUP, users)


async def _rows(w: MeetingWorld) -> list[tuple[int, str]]:
    """(chat, what) of every queued message, oldest first: what is the notice kind."""
    async with w.factory() as s:
        rows = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    return [(r.chat_id, (r.dedupe_key or "").split(":")[3]) for r in rows]


async def _schedule(w: MeetingWorld, when: datetime) -> svc.ScheduleResult:
    async with w.factory() as s, s.begin():
        actor = await w.actor(s, SEC1)
        return await svc.schedule_meeting(
            s, actor, w.ctx, w.org.b1, kind=svc.MeetingKind.REGULAR, starts_at=when
        )


async def _remind_24h(w: MeetingWorld) -> None:
    """The 24 h reminders go out: the group and the members who have accounts hear of it."""
    w.clock.t = local(2026, 12, 2, 19, 31)
    async with w.factory() as s, s.begin():
        assert await w.notices(s).send_due_reminders() > 0


async def _relink(w: MeetingWorld, chat_id: int | None) -> None:
    """The branch moves to another group (or, with None, the bot is removed from its group)."""
    async with w.factory() as s, s.begin():
        await s.execute(update(ChatBinding).values(active=False))
        if chat_id is not None:
            s.add(
                ChatBinding(
                    chat_id=chat_id,
                    target_type="branch",
                    target_id=w.org.b1,
                    district_id=w.org.district,
                )
            )


async def test_schedule_queues_the_announcement(world: MeetingWorld) -> None:
    result = await _schedule(world, local(2026, 12, 3, 19, 30))
    assert await _rows(world) == [(GROUP, "announce")]
    assert result.told == svc.Told(chats=1, group_linked=True)


async def test_confirm_planned_queues_the_announcement(world: MeetingWorld) -> None:
    async with world.factory() as s, s.begin():
        planned = (await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])).created
        actor = await world.actor(s, SEC1)
        result = await svc.confirm_planned(s, actor, world.ctx, planned[0].id)
        with pytest.raises(MeetingError) as again:
            await svc.confirm_planned(s, actor, world.ctx, planned[0].id)
    assert again.value.key == "mtg.error.not_planned"
    assert result.meeting.status == svc.MeetingStatus.SCHEDULED
    assert await _rows(world) == [(GROUP, "announce")]


async def test_reschedule_queues_corrections_to_everyone_told(world: MeetingWorld) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    await _remind_24h(world)
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        change = await svc.reschedule_to(s, actor, world.ctx, mid, "03/12 20:30 Hội trường")
    fixes = [chat for chat, what in await _rows(world) if what == "correction"]
    assert sorted(fixes) == sorted([GROUP, SEC1, DEP1, MEM1])
    assert change.told == svc.Told(chats=4, group_linked=True)


async def test_cancel_queues_cancellation_notices(world: MeetingWorld) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    async with world.factory() as s, s.begin():
        change = await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "Bão")
    assert (await _rows(world))[1:] == [(GROUP, "cancellation")]
    assert change.told.chats == 1


async def test_reinstating_tells_those_told_before(world: MeetingWorld) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    async with world.factory() as s, s.begin():
        await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "Bão")
    result = await _schedule(world, local(2026, 12, 5, 19, 30))
    assert result.reinstated and result.meeting.id == mid
    assert (await _rows(world))[2:] == [(GROUP, "correction")]
    async with world.factory() as s:
        text = (await s.scalars(select(OutboxEntry.text).order_by(OutboxEntry.id.desc()))).first()
    assert world.ctx.i18n.t("mtg.changed.reinstated", "vi") in (text or "")


# Defect: notices went to a group the branch no longer uses -----------------------------------


async def test_notices_to_unbound_group_reschedule_corrects_in_the_current_group(
    world: MeetingWorld,
) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    await _relink(world, NEW_GROUP)
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        await svc.reschedule_to(s, actor, world.ctx, mid, "04/12 20:00")
    later = (await _rows(world))[1:]
    assert GROUP not in {chat for chat, _what in later}
    assert later == [(NEW_GROUP, "announce")]  # the new group never heard of it: announced


async def test_notices_to_unbound_group_reminder_goes_to_the_current_group(
    world: MeetingWorld,
) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    async with world.factory() as s, s.begin():  # delivered; the live count found it there
        await s.execute(
            update(Meeting)
            .where(Meeting.id == mid)
            .values(announce_chat_id=GROUP, announce_message_id=555)
        )
    await _relink(world, NEW_GROUP)
    await _remind_24h(world)
    groups = {chat for chat, what in (await _rows(world))[1:] if chat < 0}
    assert groups == {NEW_GROUP}


async def test_notices_to_kicked_group_cancel_queues_nothing_there(world: MeetingWorld) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    await _relink(world, None)  # the bot was removed: the binding is inactive
    async with world.factory() as s, s.begin():
        change = await svc.cancel_meeting(s, await world.actor(s, SEC1), world.ctx, mid, "Bão")
    assert change.told == svc.Told(chats=0, group_linked=False)
    assert await _rows(world) == [(GROUP, "announce")]  # nothing after the announcement


async def test_notices_to_unbound_group_private_chat_hint_goes_to_the_current_group(
    world: MeetingWorld,
) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    await _relink(world, NEW_GROUP)
    async with world.factory() as s, s.begin():
        assert await svc.private_chat_hint(s, world.ctx, mid, MEM1, "Viên", "https://t.me/b")
    assert (await _rows(world))[-1][0] == NEW_GROUP


# Defect: no upper bound on dates ------------------------------------------------------------


async def test_no_upper_bound_on_dates_reschedule_to_year_9999_refused(
    world: MeetingWorld,
) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    async with world.factory() as s, s.begin():
        actor = await world.actor(s, SEC1)
        with pytest.raises(MeetingError) as info:
            await svc.reschedule_to(s, actor, world.ctx, mid, "31/12/9999 23:59 X")
    assert info.value.key == "mtg.error.too_far"
    assert info.value.params == {"latest": ReadableDay(latest_date(world.ctx.today()))}


async def test_no_upper_bound_on_dates_ics_survives_a_stored_year_9999(
    world: MeetingWorld,
) -> None:
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    other = (await _schedule(world, local(2027, 1, 7, 19, 30))).meeting.id
    async with world.factory() as s, s.begin():
        far = await s.get(Meeting, other)
        assert far is not None
        far.starts_at = datetime(9999, 12, 31, 16, 59, tzinfo=local(2026, 1, 1).tzinfo)
    async with world.factory() as s:
        data = await svc.branch_ics(s, world.org.b1, world.ctx.i18n, "vi", world.clock.now())
    assert f"meeting-{mid}@chibo-bot".encode() in data
    assert f"meeting-{other}@chibo-bot".encode() not in data


async def test_member_sees_own_answer_no_reminder_asks_after_they_answered(
    world: MeetingWorld,
) -> None:
    """Class 5: a private reminder still waiting in the outbox (held for the morning, or
    behind a backlog) is withdrawn when its member answers, so it never asks "will you come?"
    of someone who said; the others' reminders still go."""
    mid = (await _schedule(world, local(2026, 12, 3, 19, 30))).meeting.id
    await _remind_24h(world)
    async with world.factory() as s, s.begin():
        await svc.record_rsvp(s, world.clock, mid, DEP1, "no")
    async with world.factory() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
    states = {r.chat_id: (r.state, r.error) for r in rows if ":member_24h:" in (r.dedupe_key or "")}
    assert states[DEP1] == ("cancelled", "withdrawn: answered")
    assert states[SEC1][0] == "pending"
