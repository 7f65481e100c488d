"""Nudges for visiting rosters and feedback: visits not confirmed (the roster's own Xác nhận),
visit reports, feedback near and past its deadline; each escalated one level up."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.nudges import NudgeAct
from bot.buttons.rosters import ConfirmVisitCb
from bot.services.feedback.deadlines import items_due
from bot.services.feedback.levels import LevelRef
from bot.services.feedback.workflow import forward
from bot.services.nudges import NudgeCb, sweep
from bot.services.rosters.review import confirm_visits
from bot.services.rosters.visits import VisitQuality, VisitReportInput, submit_visit_report
from storage.models.feedback import LevelType
from tests.feedback_world import UNIT_CHAT, feedback_world
from tests.helpers import local
from tests.nudge_world import NudgeWorld, callbacks
from tests.orgdata import DEP1, MEM1, SEC1, WG_LEADER
from tests.roster_world import RosterWorld, live_visits, roster_world


async def _world(engine: AsyncEngine) -> tuple[RosterWorld, NudgeWorld]:
    rw = await roster_world(engine)  # published Monday 23/11/2026 11:00
    return rw, NudgeWorld(rw.w)


async def _visits(rw: RosterWorld) -> dict[str, tuple[int, str]]:
    """branch code (V1..V5) -> (visit id, visitor code)."""
    async with rw.w.factory() as s:
        visits = await live_visits(s, rw.roster_id)
    codes = {b: c for c, b in rw.branches.items()}
    return {codes[v.branch_id]: (v.id, rw.code_of(v.visitor_member_id)) for v in visits}


async def test_unconfirmed_visits_nudge_the_visitor_then_tell_the_leader(
    engine: AsyncEngine,
) -> None:
    rw, nw = await _world(engine)
    visits = await _visits(rw)
    visitors = Counter(code for _, code in visits.values())
    nw.at(2026, 11, 26, 10, 59)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 11, 26, 11, 0)
    assert (await nw.sweep()).nudges == len(visitors)
    for code, n in visitors.items():
        [mine] = await nw.nudges(rw.tg[code])
        # One Xác nhận per visit, each confirming the visit its line names (issue 21, class 12).
        own = sorted(vid for vid, c in visits.values() if c == code)
        pressed = [
            ConfirmVisitCb.unpack(d).visit_id for d in callbacks(mine) if d.startswith("rcf1:")
        ]
        assert sorted(pressed) == own
        assert (mine.text or "").count("Chi bộ thôn V") == n
    # One visitor confirms; the others get the second nudge the next day.
    busy = max(visitors, key=lambda c: visitors[c])
    async with rw.w.factory() as s, s.begin():
        await confirm_visits(s, rw.w.ctx, await rw.actor(s, busy), rw.roster_id)
    nw.at(2026, 11, 27, 11, 0)
    result = await nw.sweep()
    assert (result.nudges, result.met) == (len(visitors) - 1, visitors[busy])
    assert len(await nw.nudges(rw.tg[busy])) == 1
    # 6 days after publishing: the group's leader hears, in one message.
    nw.at(2026, 11, 29, 11, 0)
    assert (await nw.sweep()).escalations == 1
    [esc] = await nw.nudges(WG_LEADER)
    assert (esc.text or "").count("Chưa xác nhận đi dự") == len(visits) - visitors[busy]
    assert "đã nhắc 2 lần" in (esc.text or "")


async def test_visit_report_nudged_two_days_after_then_leader_after_five(
    engine: AsyncEngine,
) -> None:
    rw, nw = await _world(engine)
    visits = await _visits(rw)
    for code in {c for _, c in visits.values()}:
        async with rw.w.factory() as s, s.begin():
            await confirm_visits(s, rw.w.ctx, await rw.actor(s, code), rw.roster_id)
    v1, v1_visitor = visits["V1"]  # meeting 05/01/2027 19:30
    v2, v2_visitor = visits["V2"]  # meeting 06/01/2027 19:30
    nw.at(2027, 1, 6, 21, 0)  # V2's visitor reports at once: never nudged about it
    async with rw.w.factory() as s, s.begin():
        await submit_visit_report(
            s,
            rw.w.ctx,
            await rw.actor(s, v2_visitor),
            v2,
            VisitReportInput(attended=True, quality=VisitQuality.GOOD),
        )
    nw.at(2027, 1, 7, 19, 29)
    await nw.sweep()
    assert not [e for e in await nw.events() if e.key.startswith("vreport:")]
    nw.at(2027, 1, 7, 19, 30)
    await nw.sweep()
    [nudge] = [e for e in await nw.events() if e.key.startswith("vreport:")]
    assert (nudge.key, nudge.chat_id) == (f"vreport:{v1}", rw.tg[v1_visitor])
    sent = [m for m in await nw.nudges(rw.tg[v1_visitor]) if m.id == nudge.outbox_id]
    assert NudgeCb(a=NudgeAct.VISIT_REPORT, id=v1).pack() in callbacks(sent[0])
    nw.at(2027, 1, 10, 19, 30)
    await nw.sweep()
    escalated = [e for e in await nw.events("escalation") if e.key.startswith("vreport:")]
    assert {(e.key, e.chat_id) for e in escalated} >= {(f"vreport:{v1}", WG_LEADER)}
    assert f"vreport:{v2}" not in {e.key for e in escalated}


async def test_feedback_nudges_whoever_holds_it_then_escalates_at_the_deadline(
    engine: AsyncEngine,
) -> None:
    fw = await feedback_world(engine)
    nw = NudgeWorld(fw.w)
    # At branch B01, answer due at the end of the office day 08/12/2026 (class 12: 17:00).
    item = await fw.raise_(MEM1)
    assert item.deadline == local(2026, 12, 8, 17, 0)
    nw.at(2026, 12, 6, 16, 59)
    assert (await nw.sweep()).nudges == 0
    nw.at(2026, 12, 6, 17, 0)
    assert (await nw.sweep()).nudges == 2
    # The same people feedback's own deadline list names.
    async with fw.w.factory() as s:
        [due] = await items_due(s, nw.clock.now(), within=timedelta(days=2))
    assert {m.chat_id for m in await nw.nudges()} == set(due.holders) == {SEC1, DEP1}
    answer = NudgeCb(a=NudgeAct.ANSWER, id=item.id).pack()
    assert all(answer in callbacks(m) for m in await nw.nudges())
    assert all(item.number and "KN-2026" in (m.text or "") for m in await nw.nudges())
    nw.at(2026, 12, 8, 17, 0)
    result = await nw.sweep()
    assert (result.nudges, result.escalations) == (0, 1)
    [esc] = await nw.nudges(UNIT_CHAT)
    assert "quá hạn" in (esc.text or "")
    # Sent up to the unit: acted on (met) at the branch; a new obligation at the unit.
    async with fw.w.factory() as s, s.begin():
        fresh = await fw.item(item.id)
        await forward(
            s,
            fw.w.ctx,
            await fw.actor(s, SEC1),
            item.id,
            fresh.version,
            to=LevelRef(LevelType.UNIT, fw.org.u1),
        )
    nw.clock.move(minutes=5)
    result = await nw.sweep()
    assert result.met == 1
    track = await nw.track(f"fb:{item.id}:branch:{fw.org.b1}")
    assert track is not None and track.end == "met"


async def test_nothing_is_due_the_day_a_roster_is_published(engine: AsyncEngine) -> None:
    rw, nw = await _world(engine)
    async with rw.w.factory() as s, s.begin():
        result = await sweep(s, rw.w.ctx)
    assert (result.nudges, result.escalations, result.events) == (0, 0, 0)
    assert result.obligations > 0 and result.due == 0  # owed, none due yet
    assert await nw.nudges() == []
