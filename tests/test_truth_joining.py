"""Truth rule "a district joins gradually": a branch that has not joined the bot (no group
ever linked, no secretary or deputy who wrote to it) owes nothing: it is never nudged nor
escalated, and a month's summary says "Chưa tham gia" for it instead of judging it; linking
its group makes it owe from then on."""

from __future__ import annotations

from datetime import time

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import meeting_views as views
from bot.services.access.policy import load_actor
from bot.services.meetings.regularity import Outcome
from storage.models import Branch, ChatBinding, Member
from storage.repositories.onboarding import joined, joined_since
from tests.nudge_world import NudgeWorld, evening, nudge_world
from tests.orgdata import ADMIN


async def _new_branch(nw: NudgeWorld) -> int:
    """An imported branch whose secretary has a Telegram id but never wrote to the bot."""
    async with nw.factory() as s, s.begin():
        b = Branch(
            code="T01U02B09",
            name="Chi bộ thôn Chín",
            unit_id=nw.org.u2,
            district_id=nw.org.district,
            kind="village",
            meeting_day=5,
            meeting_time=time(19, 30),
            location="Nhà văn hóa",
        )
        s.add(b)
        await s.flush()
        s.add(
            Member(
                code="T01U02B09M1",
                full_name="Đinh Văn Chín",
                branch_id=b.id,
                district_id=nw.org.district,
                role="secretary",
                status="official",
                telegram_id=777_009,
            )
        )
        return b.id


async def _link(nw: NudgeWorld, branch: int) -> None:
    async with nw.factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=-100909,
                target_type="branch",
                target_id=branch,
                district_id=nw.org.district,
                bound_at=nw.clock.now(),
            )
        )


async def test_a_district_joins_gradually_no_nudge_nor_escalation_before_joining(
    engine: AsyncEngine,
) -> None:
    """A meeting before the branch joined is never owed, even once it has joined; a meeting
    after it is."""
    nw = await nudge_world(engine)
    branch = await _new_branch(nw)
    before = await nw.meeting(branch, evening(2026, 11, 25))
    nw.at(2026, 11, 28, 19, 30)  # 72 h: a joined branch would be escalated by now
    await nw.sweep()
    assert not [e for e in await nw.events() if e.key == f"report:{before}"]
    async with nw.factory() as s:
        assert branch not in await joined(s, [branch, nw.org.b1])
        assert await joined_since(s, branch) is None
    await _link(nw, branch)
    joined_at = nw.clock.now()
    after = await nw.meeting(branch, evening(2026, 12, 1))
    nw.clock.move(minutes=5)
    await nw.sweep()
    # Joined on 28/11: the meeting of 25/11 was before it, and stays owed by nobody.
    assert not [e for e in await nw.events() if e.key == f"report:{before}"]
    async with nw.factory() as s:
        assert await joined_since(s, branch) == joined_at
        assert branch in await joined(s, [branch])
    nw.at(2026, 12, 4, 19, 35)
    await nw.sweep()
    assert "escalation" in [e.step for e in await nw.events() if e.key == f"report:{after}"]
    assert not [e for e in await nw.events() if e.key == f"report:{before}"]


async def test_a_district_joins_gradually_a_month_before_joining_is_not_judged(
    engine: AsyncEngine,
) -> None:
    """Joined on 10/12/2026: November is not judged (not "skipped"), nor a December meeting
    day already past (the 5th, nothing planned); a meeting still ahead is."""
    nw = await nudge_world(engine)
    branch = await _new_branch(nw)  # its rule: the 5th at 19:30
    nw.at(2026, 12, 10, 9)
    await _link(nw, branch)
    nw.at(2026, 12, 12, 9)

    async def outcomes(month: int) -> dict[int, Outcome]:
        async with nw.factory() as s:
            actor = await load_actor(s, ADMIN)
            summary = await views.summary(
                s, actor, nw.clock, views.Scope("committee", nw.org.district), 2026, month
            )
        return {b.id: f.regular for b, f in summary.rows}

    assert (await outcomes(11))[branch] is Outcome.NOT_JOINED
    assert (await outcomes(12))[branch] is Outcome.NOT_JOINED
    # The secretary schedules December's meeting for the 20th, after joining: owed and judged.
    await nw.meeting(branch, evening(2026, 12, 20), kind="regular")
    assert (await outcomes(12))[branch] is Outcome.UPCOMING
    nw.at(2027, 1, 3, 9)
    assert (await outcomes(12))[branch] is Outcome.NOT_REPORTED


async def test_a_district_joins_gradually_the_summary_says_not_joined(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    branch = await _new_branch(nw)
    async with nw.factory() as s:
        actor = await load_actor(s, ADMIN)
        summary = await views.summary(
            s, actor, nw.clock, views.Scope("committee", nw.org.district), 2026, 12
        )
    outcomes = {b.id: f.regular for b, f in summary.rows}
    assert outcomes[branch] is Outcome.NOT_JOINED
    assert outcomes[nw.org.b1] is Outcome.UPCOMING  # joined on 24/11, its day is the 5th
    not_joined = list(outcomes.values()).count(Outcome.NOT_JOINED)
    assert summary.totals[Outcome.NOT_JOINED] == not_joined
