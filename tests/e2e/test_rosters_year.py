"""A year of dan-phuong's visiting rosters, at the service level (no bot needed): each quarter
of 2027 the drafts job drafts the 8 working groups' rosters 10 days ahead and they are published
at the quarter's start, so the published visits of the past quarters are the history the next
drafts weigh (who was visited this year, when, by whom).

What the data gives, asserted as strongly as it holds: each quarter leaves a few branches out
(the meetings bunch on days 3-5 at the same hours), those come first the next quarter, so every
one of the 129 village/residential branches is visited by the end of Q2; and no visitor sees the
same branch twice in the year, so the rotation the solver reports (its last level) is 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import create_i18n
from bot.services.context import ServiceContext
from bot.services.rosters.automation import make_due_drafts
from bot.services.rosters.common import Quarter
from bot.services.rosters.review import publish
from storage.db import create_engine
from storage.models import Meeting, Roster, RosterVisit, VisitProgram
from storage.models.rosters import RosterStatus
from storage.repositories.rosters import RosterRepository
from tests.helpers import FakeClock, local

BRANCHES = 129  # dan-phuong's village and residential branches


@pytest.fixture
async def factory(dan_phuong_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(dan_phuong_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _quarter(
    factory: async_sessionmaker[AsyncSession], ctx: ServiceContext, clock: FakeClock, q: Quarter
) -> list[tuple[Roster, list[RosterVisit]]]:
    """Drafts made when due, published at the quarter's start: each roster and its visits."""
    day = q.first_day
    clock.t = local(day.year, day.month, day.day, 9) - timedelta(days=10)
    assert await make_due_drafts(factory, ctx) == 8
    assert await make_due_drafts(factory, ctx) == 0  # due once
    clock.t = local(day.year, day.month, day.day, 0, 5)
    async with factory() as s, s.begin():
        for roster in await s.scalars(
            select(Roster).where(Roster.year == q.year, Roster.quarter == q.quarter)
        ):
            await publish(s, ctx, None, roster.id, roster.version)
    out = []
    async with factory() as s:
        repo = RosterRepository(s)
        for roster in await s.scalars(
            select(Roster).where(Roster.year == q.year, Roster.quarter == q.quarter)
        ):
            out.append((roster, await repo.visits(roster.id)))
    return out


async def test_a_year_visits_every_branch_and_never_sends_a_visitor_back(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock(local(2026, 12, 1))
    ctx = ServiceContext(clock, create_i18n("vi"))
    async with factory() as s:
        repo = RosterRepository(s)
        targets = set()
        for group in await repo.groups():
            targets |= {b.id for b in await repo.visited_branches(group.id)}
    assert len(targets) == BRANCHES

    pairs: dict[int, set[tuple[int, int]]] = {}
    seen: dict[int, set[int]] = {}
    for n in range(1, 5):
        rosters = await _quarter(factory, ctx, clock, Quarter(2027, n))
        assert len(rosters) == 8
        pairs[n], seen[n] = set(), set()
        for roster, visits in rosters:
            assert roster.status == RosterStatus.PUBLISHED.value
            assert roster.solver_status == "optimal"
            # Levels: coverage, most visits, spread, rotation (no "changes": a fresh draft).
            assert len(roster.levels) == 4 and roster.levels[-1] == 0, roster.levels
            assert all(v.meeting_id is not None for v in visits)  # tied to the meeting
            assert all(v.period_year == 2027 and v.period_month == 3 * n - 2 for v in visits)
            mine = {(v.visitor_member_id, v.branch_id) for v in visits}
            assert len(mine) == len(visits)
            pairs[n] |= mine
            seen[n] |= {v.branch_id for v in visits}
        assert seen[n] <= targets
        # Each branch left out is one its roster explains (and only those are).
        uncovered = {u["branch_id"] for roster, _ in rosters for u in roster.uncovered}
        assert uncovered == targets - seen[n]

    # Q1 leaves a few branches out; they are the first the Q2 rosters cover.
    assert 0 < len(targets - seen[1]) < 10
    assert targets - seen[1] <= seen[2]
    assert seen[1] | seen[2] == targets
    assert set().union(*seen.values()) == targets
    # Rotation: nobody visits the same branch twice in the year (let alone in consecutive
    # quarters), and the solver priced the repeats it made at 0.
    for n in range(2, 5):
        assert not pairs[n] & pairs[n - 1], n
        assert not pairs[n] & set().union(*(pairs[k] for k in range(1, n))), n

    # The meetings happened where the visits say: one regular meeting per branch and month.
    async with factory() as s:
        rows = await s.execute(
            select(Meeting.id, Meeting.branch_id, Meeting.period_year, Meeting.period_month).join(
                RosterVisit, RosterVisit.meeting_id == Meeting.id
            )
        )
        meetings = {row[0]: row[1:] for row in rows}
        assert len(set(meetings.values())) == len(meetings) == sum(map(len, seen.values()))
        programs = list(await s.scalars(select(VisitProgram)))
        assert len(programs) == 8
