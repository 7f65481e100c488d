"""Trust, class 5: nothing is drafted or published for a period whose visits are over, through
the bot's services or the CLI; a refusal writes nothing (and the CLI exits non-zero)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from bot.app.cli_roster import _run
from bot.cli_text import Say
from bot.i18n import create_i18n
from bot.services.access.policy import load_actor
from bot.services.context import ServiceContext
from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.planning import make_draft
from bot.services.rosters.review import default_quarter, publish
from storage.models import Roster, RosterVisit, VisitProgram
from tests.e2e.harness import make_settings
from tests.helpers import FakeClock, local
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
        assert info.value.key == "roster.quarter_over"
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
        assert info.value.key == "roster.visits_over"
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


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 5), Quarter(2026, 4)),  # its first month: its visits are ahead
        (date(2026, 11, 20), Quarter(2027, 1)),
        (date(2026, 12, 6), Quarter(2027, 1)),  # the December /roster
        (date(2027, 1, 2), Quarter(2027, 1)),
        (date(2027, 3, 25), Quarter(2027, 2)),
    ],
)
def test_class5_roster_opens_a_quarter_whose_visits_are_not_over(
    today: date, expected: Quarter
) -> None:
    clock = FakeClock(local(today.year, today.month, today.day, 9))
    assert default_quarter(ServiceContext(clock, create_i18n("vi"), "vi")) == expected
