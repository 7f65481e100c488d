"""Trust, class 5: nothing is drafted or published for a period whose visits are over, through
the bot's services or the CLI; a refusal writes nothing (and the CLI exits non-zero)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app.cli_roster import _run
from bot.cli_text import Say
from bot.services.access.policy import load_actor
from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.periods import visits_begin
from bot.services.rosters.planning import make_draft
from bot.services.rosters.review import offered_quarters, publish, publishable
from bot.services.vn_calendar import ReadableDay
from storage.models import Roster, RosterVisit, VisitProgram
from tests.e2e.harness import make_settings
from tests.helpers import local
from tests.orgdata import WG_LEADER
from tests.test_roster_planning import RosterWorld, _draft, world

__all__ = ["world"]


async def _counts(rw: RosterWorld) -> tuple[int, int]:
    async with rw.w.factory() as s:
        rosters = await s.scalar(select(func.count()).select_from(Roster))
        visits = await s.scalar(select(func.count()).select_from(RosterVisit))
        return int(rosters or 0), int(visits or 0)


@pytest.mark.parametrize("quarter", [Quarter(2020, 1), Quarter(2026, 3), Quarter(2025, 4)])
async def test_class5_a_quarter_that_is_over_is_never_drafted(
    world: RosterWorld, quarter: Quarter
) -> None:
    before = await _counts(world)
    for who in (None, 401):  # the drafts job, the group's leader
        async with world.w.factory() as s, s.begin():
            program = await s.get(VisitProgram, world.program_id)
            assert program is not None
            actor = await load_actor(s, who) if who else None
            with pytest.raises(RosterError) as info:
                await make_draft(s, world.w.ctx, program, quarter, actor=actor)
        assert info.value.key == "roster.quarter_begun"
    assert await _counts(world) == before


async def test_class5_a_draft_whose_visits_began_is_not_published(world: RosterWorld) -> None:
    roster = await _draft(world)
    async with world.w.factory() as s:
        first = await s.scalar(
            select(func.min(RosterVisit.starts_at)).where(RosterVisit.roster_id == roster.id)
        )
    assert first is not None
    for moment in (first, local(2027, 3, 31, 23, 59)):  # its first visit; the quarter's end
        world.w.clock.t = moment
        async with world.w.factory() as s, s.begin():
            with pytest.raises(RosterError) as info:
                await publish(s, world.w.ctx, None, roster.id, None)
        assert info.value.key == "roster.quarter_begun"  # the one rule, said first
    async with world.w.factory() as s:
        again = await s.get(Roster, roster.id)
        assert again is not None and again.status == "draft" and again.published_at is None


async def test_class5_cli_publish_of_a_past_quarter_exits_non_zero_and_writes_nothing(
    world: RosterWorld, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url, "http://127.0.0.1:9")
    before = await _counts(world)
    for verb in ("publish", "plan"):
        assert await _run(settings, Say("vi"), verb, Quarter(2020, 1), None, False) != 0
    out = capsys.readouterr()
    assert "OK" not in out.out
    assert "quý I/2020" in out.err  # the refusal names the quarter as people read it
    assert await _counts(world) == before


async def _offered(rw: RosterWorld, at: datetime) -> list[Quarter]:
    rw.w.clock.t = at
    async with rw.w.factory() as s:
        return await offered_quarters(s, rw.w.ctx, await load_actor(s, WG_LEADER))


async def _q4_begins(rw: RosterWorld) -> datetime:
    async with rw.w.factory() as s:
        program = await s.get(VisitProgram, rw.program_id)
        return await visits_begin(s, program, Quarter(2026, 4), rw.w.ctx.tz)


async def test_class5_roster_offers_only_quarters_whose_visits_have_not_begun(
    world: RosterWorld,
) -> None:
    """What /roster offers: in mid-September Q4 only (Q3's July visits are over); in October
    until Q4's first visit begins both, from then on (October, November, December) the next
    quarter only."""
    begins = await _q4_begins(world)
    assert begins.month == 10
    q4, q1 = Quarter(2026, 4), Quarter(2027, 1)
    assert await _offered(world, local(2026, 9, 15, 9)) == [q4]
    assert await _offered(world, begins - timedelta(minutes=1)) == [q4, q1]
    for at in (begins, local(2026, 10, 20, 9), local(2026, 11, 20, 9), local(2026, 12, 6, 9)):
        assert await _offered(world, at) == [q1], at


async def test_class5_a_begun_quarter_is_never_drafted_nor_shown_publishable(
    world: RosterWorld,
) -> None:
    """The drafting and the check screen say the same rule, with the quarter and the day."""
    q4 = Quarter(2026, 4)
    begins = await _q4_begins(world)
    world.w.clock.t = begins - timedelta(days=12)
    async with world.w.factory() as s, s.begin():
        program = await s.get(VisitProgram, world.program_id)
        assert program is not None
        roster = (await make_draft(s, world.w.ctx, program, q4)).roster
    before = await _counts(world)
    world.w.clock.t = begins + timedelta(days=40)  # the "in December" case too
    for at in (begins, local(2026, 12, 6, 9)):
        world.w.clock.t = at
        async with world.w.factory() as s, s.begin():
            actor = await load_actor(s, WG_LEADER)
            with pytest.raises(RosterError) as checked:
                await publishable(s, world.w.ctx, actor, roster.id, roster.version)
            program = await s.get(VisitProgram, world.program_id)
            assert program is not None
            with pytest.raises(RosterError) as drafted:
                await make_draft(s, world.w.ctx, program, q4, actor=actor)
        for info in (checked, drafted):
            assert info.value.key == "roster.quarter_begun"
            first = info.value.params["first"]
            assert first == ReadableDay(begins.astimezone(world.w.ctx.tz).date())
        text = world.w.ctx.i18n.t(
            info.value.key, "vi", quarter=q4.label("vi"), first=first.label("vi")
        )
        assert "quý IV/2026" in text and first.label("vi") in text
    assert await _counts(world) == before
