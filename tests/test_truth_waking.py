"""Truth rule "never at night, never 'ngày mai' for today": an automatic message due at night
waits for the morning (never past an hour before its meeting) and names the day as read when
it leaves; what a person's own act causes goes at once. Automatic means queued by a scheduled job
(`run_job` runs each inside `automatically()`)."""

from __future__ import annotations

from datetime import datetime, time

import pytest
import time_machine
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.jobs import register_all
from bot.i18n import create_i18n
from bot.outbox import (
    DEFAULT_WAKING,
    OutboxKind,
    OutboxMessage,
    Waking,
    automatically,
    enqueue,
    send_moment,
)
from bot.scheduler import JobContext, create_registry, run_job
from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.vn_calendar import relative_datetime
from storage.models import FeedbackItem, TelegramUser
from storage.models.feedback import FeedbackStatus
from storage.models.outbox import OutboxEntry
from tests.feedback_world import feedback_world
from tests.helpers import local
from tests.orgdata import SEC1, MeetingWorld, meeting_world

GROUP = -100777
I18N = create_i18n("vi")


@pytest.fixture
async def world(engine: AsyncEngine) -> MeetingWorld:
    return await meeting_world(engine, GROUP, [TelegramUser(id=SEC1, first_name="Bí")])


async def _schedule(w: MeetingWorld, when: datetime) -> int:
    async with w.factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        res = await svc.schedule_meeting(s, actor, w.ctx, w.org.b1, kind="regular", starts_at=when)
        return res.meeting.id


async def _reminders(w: MeetingWorld) -> list[OutboxEntry]:
    async with w.factory() as s:
        rows = await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
        return [r for r in rows if ":group_" in (r.dedupe_key or "")]


def test_relative_day_says_today_tomorrow_or_the_date() -> None:
    at = local(2026, 12, 10, 2, 50)
    assert relative_datetime(I18N, "vi", local(2026, 12, 10, 19, 30), at) == "hôm nay lúc 19:30"
    assert relative_datetime(I18N, "vi", local(2026, 12, 11, 8), at) == "ngày mai lúc 08:00"
    assert (
        relative_datetime(I18N, "vi", local(2026, 12, 12, 8), at) == "Thứ Bảy, 12/12/2026 lúc 08:00"
    )
    assert relative_datetime(I18N, "en", local(2026, 12, 10, 19, 30), at) == "today at 19:30"


def test_never_at_night_one_rule_for_every_kind_a_job_queues() -> None:
    """Who caused it decides, never the kind: a person's act of any kind goes at once, a job's
    of any kind (an `answer` too, issue 20 class 12) waits for the morning."""
    night, morning = local(2026, 12, 10, 2, 50), local(2026, 12, 10, 7)
    for kind in OutboxKind:
        assert send_moment(kind, night) == night  # a person's own act: at once
    with automatically():
        _job_rules(night, morning)


def _job_rules(night: datetime, morning: datetime) -> None:
    for kind in OutboxKind:
        assert send_moment(kind, night) == morning, kind
        assert send_moment(kind, local(2026, 12, 10, 21, 5)) == local(2026, 12, 11, 7), kind
        assert send_moment(kind, local(2026, 12, 10, 9)) == local(2026, 12, 10, 9), kind
    # A district's own hours, and a cap for a meeting starting early.
    assert send_moment("nudge", night, waking=Waking(start=time(2))) == night
    assert send_moment("reminder", night, latest=local(2026, 12, 10, 5, 30)) == local(
        2026, 12, 10, 5, 30
    )


async def test_never_at_night_a_same_day_reminder_waits_for_morning_and_says_today(
    world: MeetingWorld,
) -> None:
    """The defect: "⏰ Nhắc lịch: ngày mai chi bộ sinh hoạt" at 02:50 for a meeting that day."""
    world.clock.t = local(2026, 12, 9, 10)
    await _schedule(world, local(2026, 12, 10, 19, 30))
    world.clock.t = local(2026, 12, 10, 2, 50)
    async with world.factory() as s, s.begin():
        with automatically():  # as the reminder job runs it
            assert await world.notices(s).send_due_reminders() >= 1
    [row] = await _reminders(world)
    assert row.not_before == local(2026, 12, 10, 7)
    assert "Sinh hoạt: <b>hôm nay lúc 19:30</b>" in (row.text or "")
    assert "ngày mai" not in (row.text or "")


async def test_never_at_night_an_early_meeting_is_reminded_an_hour_before(
    world: MeetingWorld,
) -> None:
    world.clock.t = local(2026, 12, 9, 10)
    await _schedule(world, local(2026, 12, 10, 6, 30))
    world.clock.t = local(2026, 12, 10, 4, 35)  # the 2 h reminder is due
    async with world.factory() as s, s.begin():
        with automatically():  # as the reminder job runs it
            assert await world.notices(s).send_due_reminders() >= 1
    [row] = await _reminders(world)
    assert row.not_before == local(2026, 12, 10, 5, 30)
    assert "hôm nay lúc 06:30" in (row.text or "")


async def test_never_at_night_the_announcement_of_a_persons_act_goes_at_once(
    world: MeetingWorld,
) -> None:
    world.clock.t = local(2026, 12, 9, 23, 10)
    await _schedule(world, local(2026, 12, 12, 19, 30))
    async with world.factory() as s:
        [row] = (await s.scalars(select(OutboxEntry))).all()
    assert row.not_before == world.clock.now()


async def test_never_at_night_a_job_notice_is_held_to_the_morning(world: MeetingWorld) -> None:
    """The Tết shift notice went out at 03:02: any automatic row queued at night waits."""
    world.clock.t = local(2026, 12, 10, 3, 2)
    message = OutboxMessage(chat_id=SEC1, kind=OutboxKind.REMINDER, text="x", dedupe_key="k")
    async with world.factory() as s, s.begin():
        with automatically():
            await enqueue(s, message, clock=world.clock)
    async with world.factory() as s:
        [row] = (await s.scalars(select(OutboxEntry))).all()
    assert row.not_before == local(2026, 12, 10, 7)


# class 12, every job: whatever a job queues at night waits for the morning -------------------


async def test_class12_every_registered_job_run_at_night_holds_what_it_queues(
    engine: AsyncEngine,
) -> None:
    """Run every job the app registers at 02:00 with work pending for several of them (an
    answer left a month, so `feedback.auto_close` closes it and queues its `answer` notice; a
    meeting that evening, so the reminders are due): every row a job queued leaves in waking
    hours, whatever its kind. A new job, or a job queueing a new kind, is caught here."""
    fw = await feedback_world(engine)
    w = fw.w
    w.clock.t = local(2026, 11, 2, 10)
    item = await fw.raise_(SEC1, on_behalf=True)
    async with w.factory() as s, s.begin():
        await s.execute(
            update(FeedbackItem)
            .where(FeedbackItem.id == item.id)
            .values(status=FeedbackStatus.ANSWERED, answered_at=local(2026, 11, 3, 9))
        )
    w.clock.t = local(2026, 12, 9, 10)
    await _schedule(w, local(2026, 12, 10, 19, 30))
    async with w.factory() as s:
        before = await s.scalar(select(func.max(OutboxEntry.id))) or 0
    night = local(2026, 12, 10, 2)
    w.clock.t = night
    registry = create_registry()
    register_all(registry)
    ctx = JobContext(w.factory, w.clock, i18n=I18N)
    with time_machine.travel(night, tick=False):
        for spec in registry.specs.values():
            assert await run_job(spec, ctx, "night"), spec.name
    async with w.factory() as s:
        rows = list(await s.scalars(select(OutboxEntry).where(OutboxEntry.id > before)))
    kinds = {r.kind for r in rows}
    assert {"answer", "reminder"} <= kinds, kinds  # the world gave the jobs work
    morning = DEFAULT_WAKING
    late = [(r.kind, r.dedupe_key, r.not_before) for r in rows if not morning.awake(r.not_before)]
    assert late == []
    closed = [r for r in rows if r.kind == "answer"]
    assert closed and all(r.not_before == local(2026, 12, 10, 7) for r in closed)
