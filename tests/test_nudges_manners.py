"""Snoozes, people switched off, district settings, the buttons' checks, and a sweep run again
by a restarted process: each handled with a clear answer, nothing sent twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.nudges import NudgeAct
from bot.i18n import create_i18n
from bot.services.context import ServiceContext
from bot.services.nudges import (
    NudgeError,
    check_press,
    set_policy,
    set_waking,
    snooze,
    sweep,
    switch_person,
)
from storage.db import create_engine, create_session_factory
from storage.models import AuditLog, NudgeEvent, OutboxEntry
from storage.models.nudges import NudgePolicy, NudgeStep
from tests.helpers import FakeClock, local
from tests.nudge_world import UNIT_CHAT, NudgeWorld, evening, nudge_world
from tests.orgdata import ADMIN, DEP1, SEC1


async def _snooze(nw: NudgeWorld, chat: int, batch: int) -> object:
    async with nw.factory() as s, s.begin():
        return await snooze(s, nw.ctx, chat, batch)


async def _refused(nw: NudgeWorld, chat: int, batch: int) -> str:
    with pytest.raises(NudgeError) as info:
        await _snooze(nw, chat, batch)
    return info.value.key


async def test_snooze_puts_off_a_day_twice_at_most_then_escalation_proceeds(
    engine: AsyncEngine,
) -> None:
    nw = await nudge_world(engine)
    mid = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 11, 26, 19, 30)
    await nw.sweep()
    [first] = await nw.events(NudgeStep.NUDGE1)
    assert first.batch_id == first.id
    # Someone else's nudge (a forged button, or pressed in another chat): refused.
    assert await _refused(nw, DEP1, first.id) == "nudge.not_yours"
    assert await _refused(nw, SEC1, first.id + 1000) == "nudge.not_yours"
    nw.at(2026, 11, 27, 8, 0)
    result = await _snooze(nw, SEC1, first.id)
    assert (result.snoozed, result.until) == (1, local(2026, 11, 28, 8, 0))
    assert (await _snooze(nw, SEC1, first.id)).already  # a double tap changes nothing
    # The second nudge waits for the snooze (27/11 19:30 -> 28/11 08:00).
    nw.at(2026, 11, 27, 19, 30)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 28, 8, 0)
    assert (await nw.sweep()).nudges == 1
    [second] = await nw.events(NudgeStep.NUDGE2)
    # The escalation (due 28/11 19:30) waits for the snoozes too.
    nw.at(2026, 11, 28, 9, 0)
    assert (await _snooze(nw, SEC1, second.id)).snoozed == 1
    nw.at(2026, 11, 28, 19, 30)
    assert (await nw.sweep()).escalations == 0
    nw.at(2026, 11, 29, 9, 1)
    assert await _refused(nw, SEC1, second.id) == "nudge.snooze_used_up"
    assert (await nw.sweep()).escalations == 1
    assert [e.step for e in await nw.events() if e.chat_id == SEC1] == [
        "nudge1",
        "snooze1",
        "nudge2",
        "snooze2",
    ]
    # Once done, a snooze is answered "already done".
    await nw.report(SEC1, mid)
    assert await _refused(nw, SEC1, first.id) == "nudge.already_done"


async def test_a_person_switched_off_gets_nothing_but_the_escalation_runs(
    engine: AsyncEngine,
) -> None:
    nw = await nudge_world(engine)
    async with nw.factory() as s, s.begin():
        with pytest.raises(NudgeError) as info:
            await switch_person(s, nw.ctx, await nw.actor(s, SEC1), "M1", off=True)
        assert info.value.key == "nudge.optout.unknown"  # not an admin: nothing is told
        with pytest.raises(NudgeError) as info:
            await switch_person(s, nw.ctx, await nw.actor(s, ADMIN), "X1", off=True)
        assert info.value.key == "nudge.optout.unknown"  # another district's member
        with pytest.raises(NudgeError) as info:
            await switch_person(s, nw.ctx, await nw.actor(s, ADMIN), "M5", off=True)
        assert info.value.key == "nudge.optout.no_account"
        member, changed = await switch_person(s, nw.ctx, await nw.actor(s, ADMIN), "M1", off=True)
        assert member.telegram_id == SEC1 and changed
        _, again = await switch_person(s, nw.ctx, await nw.actor(s, ADMIN), "M1", off=True)
        assert not again
    async with nw.factory() as s:
        actions = list(
            await s.scalars(select(AuditLog.action).where(AuditLog.action.like("nudge.%")))
        )
    assert actions == ["nudge.optout"]
    await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    for day in (26, 27):
        nw.at(2026, 11, day, 19, 30)
        result = await nw.sweep()
        assert (result.nudges, result.escalations) == (0, 0)  # switched off: not "unreachable"
    nw.at(2026, 11, 28, 19, 30)
    assert (await nw.sweep()).escalations == 1
    [esc] = await nw.nudges(UNIT_CHAT)
    assert "đã nhắc 0 lần" in (esc.text or "")
    async with nw.factory() as s, s.begin():
        await switch_person(s, nw.ctx, await nw.actor(s, ADMIN), "M1", off=False)


async def test_district_settings_switch_a_policy_off_or_move_its_hours(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    d = nw.org.district
    async with nw.factory() as s, s.begin():
        admin = await nw.actor(s, ADMIN)
        with pytest.raises(NudgeError):
            await set_policy(
                s, nw.clock, await nw.actor(s, SEC1), d, NudgePolicy.MEETING_REPORT,
                enabled=False, hours=24, escalate_hours=72,
            )  # fmt: skip
        with pytest.raises(NudgeError):
            await set_policy(
                s, nw.clock, admin, d, NudgePolicy.MEETING_REPORT,
                enabled=True, hours=48, escalate_hours=24,
            )  # fmt: skip
        await set_policy(
            s, nw.clock, admin, d, NudgePolicy.MEETING_REPORT,
            enabled=True, hours=12, escalate_hours=None,
        )  # fmt: skip
        await set_policy(
            s, nw.clock, admin, d, NudgePolicy.MEETING_UNSCHEDULED,
            enabled=False, hours=-72, escalate_hours=None,
        )  # fmt: skip
        await set_waking(s, nw.clock, admin, d, 8, 20)
    await nw.planned(nw.org.b1, 2026, 12)
    await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 11, 26, 7, 30)  # 12 h after: due, but the district wakes at 08:00
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 26, 8, 0)
    assert (await nw.sweep()).nudges == 1
    nw.at(2026, 11, 30, 12, 0)  # never escalated now
    assert (await nw.sweep()).escalations == 0
    nw.at(2026, 12, 3, 12, 0)  # the scheduling policy is off
    await nw.sweep()
    assert {e.key.split(":")[0] for e in await nw.events()} == {"report"}


async def test_buttons_of_met_or_lapsed_obligations_say_so(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    mid = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 11, 26, 19, 30)
    async with nw.factory() as s:
        assert await check_press(s, nw.ctx, NudgeAct.REPORT, mid) == f"report:{mid}"
        for act, row in ((NudgeAct.REPORT, mid + 99), (NudgeAct.VISIT_REPORT, 1)):
            with pytest.raises(NudgeError) as info:
                await check_press(s, nw.ctx, act, row)
            assert info.value.key == "nudge.no_longer_needed"
    await nw.report(SEC1, mid)
    async with nw.factory() as s:
        with pytest.raises(NudgeError) as info:
            await check_press(s, nw.ctx, NudgeAct.REPORT, mid)
    assert info.value.key == "nudge.already_done"


async def test_a_restarted_process_sends_nothing_again(
    engine: AsyncEngine, database_url: str
) -> None:
    nw = await nudge_world(engine)
    await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    await nw.meeting(nw.org.b2, evening(2026, 11, 25))
    await nw.planned(nw.org.b1, 2026, 12)
    nw.at(2026, 11, 26, 19, 30)
    first = await nw.sweep()
    assert (first.nudges, first.escalations) == (1, 1)
    # Another process: its own engine, sessions, catalogs and clock; the same database.
    other = create_engine(database_url)
    try:
        factory = create_session_factory(other)
        ctx = ServiceContext(FakeClock(nw.clock.now()), create_i18n("vi"), "vi")
        for _ in range(2):
            async with factory() as s, s.begin():
                again = await sweep(s, ctx)
            assert (again.nudges, again.escalations, again.events) == (0, 0, 0)
        async with factory() as s:
            rows = await s.scalar(select(func.count()).select_from(OutboxEntry))
            events = await s.scalar(select(func.count()).select_from(NudgeEvent))
        assert (rows, events) == (2, 2)
    finally:
        await other.dispose()
