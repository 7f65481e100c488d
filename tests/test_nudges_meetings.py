"""Nudges for meetings, over time with a fake clock: each policy fires at its hour and only
when owed, never at night or on a holiday, never twice a day, combines a person's
obligations, escalates on schedule, stops when done, and escalates at once (saying why) when
nobody can be reminded."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.nudges import NudgeAct
from bot.services.meetings import confirm_planned
from bot.services.nudges import NudgeCb
from storage.models.nudges import EscalationReason, TrackEnd
from tests.helpers import local
from tests.nudge_world import UNIT_CHAT, callbacks, evening, nudge_world
from tests.orgdata import ADMIN, ADMIN_OTHER, DEP1, SEC1, SEC2, SEC3


async def test_report_nudged_a_day_after_then_again_then_escalated_then_met(
    engine: AsyncEngine,
) -> None:
    nw = await nudge_world(engine)
    mid = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 11, 26, 19, 29)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 26, 19, 30)
    result = await nw.sweep()
    assert (result.nudges, result.escalations) == (1, 0)
    [first] = await nw.nudges()
    assert first.chat_id == SEC1  # the secretary only, not the deputy
    assert "Chi bộ thôn Một" in (first.text or "") and "25/11/2026" in (first.text or "")
    assert NudgeCb(a=NudgeAct.REPORT, id=mid).pack() in callbacks(first)
    assert any(c.startswith("ndz:") for c in callbacks(first))
    # Run again, later the same day, the next morning: nothing new.
    for h, mi in ((19, 30), (20, 55)):
        nw.at(2026, 11, 26, h, mi)
        assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 27, 19, 29)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 27, 19, 30)
    assert (await nw.sweep()).nudges == 1
    second = (await nw.nudges())[-1]
    assert second.chat_id == SEC1 and "lần 2" in (second.text or "")
    # 72 h: the unit's committee hears, with who, since when and how often reminded.
    nw.at(2026, 11, 28, 19, 30)
    result = await nw.sweep()
    assert (result.nudges, result.escalations) == (0, 1)
    esc = (await nw.nudges(UNIT_CHAT))[-1]
    text = esc.text or ""
    assert "Nguyễn Văn Bí" in text and "25/11/2026" in text and "đã nhắc 2 lần" in text
    assert esc.reply_markup is None
    nw.at(2026, 11, 29, 19, 30)
    assert (await nw.sweep()).escalations == 0  # once
    assert len(await nw.nudges()) == 3
    # Done: the next sweep sees it and records when.
    nw.at(2026, 11, 29, 20, 0)
    await nw.report(SEC1, mid)
    nw.clock.move(minutes=5)
    result = await nw.sweep()
    assert result.met == 1
    track = await nw.track(f"report:{mid}")
    assert track is not None and track.end == TrackEnd.MET and track.ended_at == nw.clock.now()
    nw.at(2026, 11, 30, 19, 30)
    assert (await nw.sweep()).nudges == 0


async def test_never_at_night_nor_on_a_holiday(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    late = await nw.meeting(nw.org.b1, local(2026, 11, 26, 21, 30))
    nw.at(2026, 11, 27, 21, 30)
    result = await nw.sweep()
    assert (result.nudges, result.waiting) == (0, 1)
    for h in (22, 23, 3, 6):
        nw.at(2026, 11, 27 if h > 12 else 28, h, 59)
        assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 28, 7, 0)
    assert (await nw.sweep()).nudges == 1
    assert f"report:{late}" == (await nw.events())[-1].key
    # New Year's Day: the nudge due on 1/1 at 19:30 waits for 2/1 07:00.
    new_year = await nw.meeting(nw.org.b1, evening(2026, 12, 31))
    nw.at(2027, 1, 1, 19, 30)
    assert (await nw.sweep()).nudges == 0
    nw.at(2027, 1, 2, 6, 55)
    assert (await nw.sweep()).nudges == 0
    nw.at(2027, 1, 2, 7, 0)
    assert (await nw.sweep()).nudges == 1
    assert (await nw.events())[-1].key == f"report:{new_year}"


async def test_unscheduled_meeting_nudges_secretary_and_deputy_and_stops_when_confirmed(
    engine: AsyncEngine,
) -> None:
    nw = await nudge_world(engine)
    planned = await nw.planned(nw.org.b1, 2026, 12)  # 05/12 19:30 by the rule
    nw.at(2026, 12, 2, 19, 29)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 12, 2, 19, 30)
    assert (await nw.sweep()).nudges == 2
    assert {m.chat_id for m in await nw.nudges()} == {SEC1, DEP1}
    assert all("12/2026" in (m.text or "") for m in await nw.nudges())
    assert all(
        NudgeCb(a=NudgeAct.SCHEDULE, id=planned).pack() in callbacks(m) for m in await nw.nudges()
    )
    async with nw.factory() as s, s.begin():
        await confirm_planned(s, await nw.actor(s, DEP1), nw.ctx, planned)
    # Met at the confirmation itself (the meeting-changed hook), not at the next sweep.
    track = await nw.track(f"sched:{planned}")
    assert track is not None and track.end == TrackEnd.MET and track.ended_at == nw.clock.now()
    nw.at(2026, 12, 3, 19, 30)
    result = await nw.sweep()
    assert (result.nudges, result.met) == (0, 0)
    # No escalation policy for it: nothing more, ever.
    nw.at(2026, 12, 6, 10, 0)
    assert (await nw.sweep()).escalations == 0


async def test_a_persons_obligations_come_in_one_message(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    planned = await nw.planned(nw.org.b1, 2026, 12)  # unscheduled nudge due 02/12 19:30
    mid = await nw.meeting(nw.org.b1, evening(2026, 12, 1))  # report nudge due 02/12 19:30
    nw.at(2026, 12, 2, 19, 30)
    assert (await nw.sweep()).nudges == 2
    [mine] = await nw.nudges(SEC1)
    assert NudgeCb(a=NudgeAct.SCHEDULE, id=planned).pack() in callbacks(mine)
    assert NudgeCb(a=NudgeAct.REPORT, id=mid).pack() in callbacks(mine)
    assert "(2 việc)" in (mine.text or "")
    [deputy] = await nw.nudges(DEP1)  # the deputy owes only the scheduling
    assert len(callbacks(deputy)) == 2


async def test_nobody_to_remind_escalates_at_once_and_says_why(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    b2 = await nw.meeting(nw.org.b2, evening(2026, 11, 25))  # SEC2: no chat with the bot
    b3 = await nw.meeting(nw.org.b3, evening(2026, 11, 25))  # SEC3 too; commune 2: no group
    other = await nw.meeting(nw.org.other_branch, evening(2026, 11, 25))  # admin unreachable
    nw.at(2026, 11, 26, 19, 30)
    result = await nw.sweep()
    assert (result.nudges, result.escalations) == (1, 2)  # SEC_OTHER is reminded
    [unit] = await nw.nudges(UNIT_CHAT)
    assert "Đỗ Thị Giáo" in (unit.text or "") and "chưa mở trò chuyện riêng" in (unit.text or "")
    [admin] = await nw.nudges(ADMIN)
    assert "Vũ Văn Ba" in (admin.text or "")
    assert not await nw.nudges(SEC2) and not await nw.nudges(SEC3)
    assert not await nw.nudges(ADMIN_OTHER)
    reasons = {e.key: e.reason for e in await nw.events("escalation")}
    assert reasons == {
        f"report:{b2}": EscalationReason.UNREACHABLE,
        f"report:{b3}": EscalationReason.UNREACHABLE,
    }
    # The other district's secretary is reminded; at 72 h nobody above can be told: recorded.
    nw.at(2026, 11, 28, 19, 30)
    await nw.sweep()
    reasons = {e.key: e.reason for e in await nw.events("escalation")}
    assert reasons[f"report:{other}"] == EscalationReason.NO_TARGET
    assert not await nw.nudges(ADMIN_OTHER)
    nw.at(2026, 11, 29, 19, 30)
    assert (await nw.sweep()).escalations == 0
