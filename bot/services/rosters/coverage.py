"""How far the working groups got: which branches were visited in a quarter or a year.

Plain figures (no aiogram, no text), because the leader's /coverage screen and the district's
periodic reports must count the same way:

* due: the branches the group should visit in the period. For a year, the program's branches.
  For a quarter with a published roster, the roster's branches plus the ones it could not
  cover (so a branch the solver could not place still counts as owed); with no published
  roster yet, every program branch (nothing planned means everything is still owed).
* visited: a live visit of a published roster in the period whose meeting has started and
  whose report, if one was filed, says the visitor attended. A missing report does not undo
  a visit: reports come late, the plan is the better guess meanwhile.
* next_planned: for a branch not visited, the next live published visit there after now.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inputs import typed_year
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.rosters.common import YEAR_MAX, YEAR_MIN, Quarter, RosterError
from bot.services.rosters.inputs import program_branches
from bot.services.vn_calendar import VN_TZ
from bot.services.vn_sort import vn_key
from storage.models import Roster, RosterVisit, VisitProgram, WorkingGroup
from storage.models.rosters import RosterStatus
from storage.repositories.rosters import RosterRepository

_YEAR_WORDS = frozenset({"year", "năm", "nam"})


@dataclass(frozen=True)
class BranchCoverage:
    branch_id: int
    code: str
    name: str
    visited: bool
    visits: int
    reports: int
    next_planned: datetime | None


@dataclass(frozen=True)
class GroupCoverage:
    group_id: int
    code: str
    name: str
    due: int
    visited: int
    visits: int
    reports: int
    branches: tuple[BranchCoverage, ...]


@dataclass(frozen=True)
class Coverage:
    district_id: int
    year: int
    quarter: int | None
    groups: tuple[GroupCoverage, ...]

    @property
    def due(self) -> int:
        return sum(g.due for g in self.groups)

    @property
    def visited(self) -> int:
        return sum(g.visited for g in self.groups)

    @property
    def visits(self) -> int:
        return sum(g.visits for g in self.groups)

    @property
    def reports(self) -> int:
        return sum(g.reports for g in self.groups)

    @property
    def unvisited(self) -> tuple[BranchCoverage, ...]:
        """Branches still owed a visit in the period, group by group."""
        return tuple(b for g in self.groups for b in g.branches if not b.visited)


def parse_period(text: str, today: date) -> tuple[int, int | None]:
    """What the person typed after the command: nothing (the current quarter), `2027-Q1` or
    `2027Q1` (a quarter), `2027` (a year), `năm`/`year` (the current year)."""
    raw = unicodedata.normalize("NFC", text or "").strip().lower()
    if not raw:
        q = Quarter.of(today)
        return q.year, q.quarter
    if raw in _YEAR_WORDS:
        return today.year, None
    if (year := typed_year(raw)) is not None:
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise RosterError("roster.bad_period", text=text[:20])
        return year, None
    try:
        q = Quarter.parse(raw)
    except RosterError:
        raise RosterError("roster.bad_period", text=text[:20]) from None
    return q.year, q.quarter


def offered_periods(today: date) -> list[tuple[int, int | None]]:
    """The periods /coverage offers as buttons: this quarter, the last one, this year."""
    current = Quarter.of(today)
    last = current.shift(-1)
    return [(current.year, current.quarter), (last.year, last.quarter), (today.year, None)]


def check_period(year: int, quarter: int | None) -> None:
    """Ids from buttons are never trusted: a year or quarter out of range is refused."""
    if not YEAR_MIN <= year <= YEAR_MAX or quarter not in (None, 1, 2, 3, 4):
        raise RosterError("roster.bad_period", text=f"{year}-Q{quarter}" if quarter else str(year))


def period_bounds(
    year: int, quarter: int | None, tz: ZoneInfo = VN_TZ
) -> tuple[datetime, datetime]:
    if quarter is not None:
        return Quarter(year, quarter).bounds(tz)
    return Quarter(year, 1).bounds(tz)[0], Quarter(year, 4).bounds(tz)[1]


async def _published(
    repo: RosterRepository, program: VisitProgram, year: int, quarter: int | None
) -> list[Roster]:
    out = []
    for q in [quarter] if quarter is not None else [1, 2, 3, 4]:
        roster = await repo.roster_for(program.id, year, q) if program.id is not None else None
        if roster is not None and roster.status == RosterStatus.PUBLISHED:
            out.append(roster)
    return out


async def _due(
    repo: RosterRepository, program: VisitProgram, quarter: int | None, rosters: list[Roster]
) -> list[int]:
    if quarter is not None and rosters:
        roster = rosters[0]
        ids = {v.branch_id for v in await repo.visits(roster.id, live_only=False)}
        ids |= {int(u["branch_id"]) for u in roster.uncovered}
        return sorted(ids)
    return [b.id for b in await program_branches(repo, program)]


async def _group(
    repo: RosterRepository,
    group: WorkingGroup,
    year: int,
    quarter: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> GroupCoverage:
    # A group the draft job has not reached yet has no program row: its default one (never
    # stored here, coverage only reads) still says which branches it owes.
    program = await repo.program_of_group(group.id) or VisitProgram(
        district_id=group.district_id, working_group_id=group.id
    )
    rosters = await _published(repo, program, year, quarter)
    due_ids = await _due(repo, program, quarter, rosters)
    start, end = period_bounds(year, quarter, tz)
    visits = [
        v
        for v in await repo.visits_of_rosters([r.id for r in rosters])
        if start <= v.starts_at < end and v.branch_id in set(due_ids)
    ]
    reports = await repo.reports(v.id for v in visits)
    by_branch: dict[int, list[RosterVisit]] = {}
    for v in visits:
        by_branch.setdefault(v.branch_id, []).append(v)
    upcoming: dict[int, datetime] = {}
    for v in await repo.published_visits(branch_ids=due_ids, since=now):
        if v.starts_at > now:
            upcoming.setdefault(v.branch_id, v.starts_at)
    rows = await repo.branches(due_ids)
    branches = []
    for branch in sorted(rows.values(), key=lambda b: (vn_key(b.name), b.code)):
        own = by_branch.get(branch.id, [])
        held = [
            v for v in own if v.starts_at <= now and (v.id not in reports or reports[v.id].attended)
        ]
        branches.append(
            BranchCoverage(
                branch_id=branch.id,
                code=branch.code,
                name=branch.name,
                visited=bool(held),
                visits=len(held),
                reports=sum(v.id in reports for v in own),
                next_planned=None if held else upcoming.get(branch.id),
            )
        )
    return GroupCoverage(
        group_id=group.id,
        code=group.code,
        name=group.name,
        due=len(branches),
        visited=sum(b.visited for b in branches),
        visits=sum(b.visits for b in branches),
        reports=sum(b.reports for b in branches),
        branches=tuple(branches),
    )


async def coverage(
    session: AsyncSession,
    district_id: int,
    year: int,
    quarter: int | None,
    now: datetime,
    *,
    tz: ZoneInfo = VN_TZ,
    group_ids: Collection[int] | None = None,
) -> Coverage:
    """The district's figures for a quarter (`quarter` 1-4) or a year (`quarter` None);
    `group_ids` keeps only those groups (a group leader sees their own)."""
    check_period(year, quarter)
    repo = RosterRepository(session)
    groups = [
        await _group(repo, group, year, quarter, now, tz)
        for group in await repo.groups(district_id)
        if group_ids is None or group.id in group_ids
    ]
    return Coverage(district_id=district_id, year=year, quarter=quarter, groups=tuple(groups))


def _led_groups(actor: Actor) -> dict[int, set[int]]:
    """The groups this person leads outside the districts they administer, by district."""
    led: dict[int, set[int]] = {}
    for seat in actor.groups:
        if seat.leader and not actor.is_admin_of(seat.district_id):
            led.setdefault(seat.district_id, set()).add(seat.group_id)
    return led


def require_coverage(actor: Actor) -> None:
    """Committee admins and group leaders see coverage; anyone else is refused (before a
    period is even offered)."""
    if not (actor.bootstrap_admin or actor.admin_districts or _led_groups(actor)):
        raise RosterError("roster.coverage_not_allowed")


async def coverage_for(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, year: int, quarter: int | None
) -> list[Coverage]:
    """What this person may see: committee admins their whole district(s), a group leader
    their own group; anyone else is refused."""
    check_period(year, quarter)
    repo = RosterRepository(session)
    if actor.bootstrap_admin:
        districts = [d.id for d in await repo.districts()]
    else:
        districts = sorted(actor.admin_districts)
    led = _led_groups(actor)
    if not districts and not led:
        raise RosterError("roster.coverage_not_allowed")
    now = ctx.now()
    out = [await coverage(session, d, year, quarter, now, tz=ctx.tz) for d in districts]
    for district_id, group_ids in sorted(led.items()):
        out.append(
            await coverage(session, district_id, year, quarter, now, tz=ctx.tz, group_ids=group_ids)
        )
    return out
