"""Truth rule "conflicts are said": a visitor marking busy the day of their own published visit
is offered the hand-back and the group's leader is told at once; unmarking or a free day says
nothing to anyone."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.rosters import visits as svc
from tests.roster_world import RosterWorld, live_visits, roster_world, sent


@pytest.fixture
async def rw(engine: AsyncEngine) -> RosterWorld:
    return await roster_world(engine)


async def test_conflicts_are_said_busy_on_ones_visit_day_tells_the_leader(rw: RosterWorld) -> None:
    async with rw.w.factory() as s:
        visit = (await live_visits(s, rw.roster_id))[0]
    code = rw.code_of(visit.visitor_member_id)
    day = visit.starts_at.astimezone(rw.w.ctx.tz).date()
    async with rw.w.factory() as s, s.begin():
        change = await svc.mark_busy(s, rw.w.ctx, await rw.actor(s, code), day)
    assert change.busy and [c.visit.id for c in change.clashes] == [visit.id]
    [told] = await sent(rw, "M8", f"visit:{visit.id}:busy:")
    assert "báo bận" in (told.text or "")
    # Unmarking it, then a free day: a toggle only, nobody told again.
    async with rw.w.factory() as s, s.begin():
        actor = await rw.actor(s, code)
        assert not (await svc.mark_busy(s, rw.w.ctx, actor, day)).busy
        free = await svc.mark_busy(s, rw.w.ctx, actor, day.replace(day=20))
    assert free.busy and free.clashes == []
    assert len(await sent(rw, "M8", ":busy:")) == 1
