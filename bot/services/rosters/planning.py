"""Drafts and publication: solve a program's quarter, keep the draft, publish it.

A draft is rewritten on every regeneration (nobody was told about it), but the solver is given
the current draft as `previous`, so regenerating after a change keeps every assignment that is
still valid. Publishing freezes it: each visit is tied to its regular meeting (planned now if
the plan job has not reached that month), the group's chat gets the table and the .xlsx, each
visitor their own list with a Xác nhận button and an .ics, all in the publishing transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.meetings.plan import new_regular, rule_slot
from bot.services.rosters.common import (
    DEFAULT_CONFIG,
    Quarter,
    RosterConfig,
    RosterError,
    require_leader,
)
from bot.services.rosters.inputs import ProgramInput, load_input
from bot.services.rosters.periods import ensure_open
from bot.services.rosters.shortfall import MovePlan, Shortfall, explain, free_at, suggest_moves
from bot.services.rosters.solver import Instance, Solution, Visitor, solve
from bot.services.vn_calendar import to_local
from storage.models import Roster, RosterVisit, VisitProgram
from storage.models.rosters import MoveStatus, RosterStatus, VisitStatus
from storage.repositories.rosters import RosterRepository

log = logging.getLogger("bot.rosters")


@dataclass
class Draft:
    roster: Roster
    input: ProgramInput
    solution: Solution


async def ensure_programs(session: AsyncSession, district_id: int | None = None) -> int:
    """Give every working group without a program the default one; how many were created."""
    repo = RosterRepository(session)
    have = {p.working_group_id for p in await repo.programs(district_id)}
    created = 0
    for group in await repo.groups(district_id):
        if group.id in have or await repo.program_of_group(group.id) is not None:
            continue
        session.add(VisitProgram(district_id=group.district_id, working_group_id=group.id))
        created += 1
    if created:
        await session.flush()
    return created


def _slot_visits(visits: list[RosterVisit], inp: ProgramInput) -> dict[str, frozenset[str]]:
    """The draft's visits as the solver's `previous` (slot key -> visitor codes)."""
    codes = {m.id: code for code, m in inp.members.items()}
    branch_codes = {b.id: code for code, b in inp.branches.items()}
    out: dict[str, set[str]] = {}
    for v in visits:
        if v.branch_id not in branch_codes or v.visitor_member_id not in codes:
            continue
        key = f"{branch_codes[v.branch_id]}:{v.period_year:04d}-{v.period_month:02d}"
        out.setdefault(key, set()).add(codes[v.visitor_member_id])
    return {k: frozenset(v) for k, v in out.items()}


async def _helpers(
    session: AsyncSession, inp: ProgramInput, uncovered: list[str], tz: Any
) -> list[dict[str, Any]]:
    """Members of the district's other groups free at each uncovered meeting's time."""
    if not uncovered:
        return []
    repo = RosterRepository(session)
    rosters = await repo.rosters_of_quarter(
        inp.quarter.year, inp.quarter.quarter, inp.group.district_id
    )
    busy: dict[int, list[Any]] = {}
    for v in await repo.visits_of_rosters(
        [r.id for r in rosters if r.program_id != inp.program.id]
    ):
        busy.setdefault(v.visitor_member_id, []).append(to_local(v.starts_at, tz))
    out = []
    own = {m.id for m in inp.members.values()}
    for group in await repo.groups(inp.group.district_id):
        if group.id == inp.group.id:
            continue
        others = [m for m in await repo.group_members(group.id) if m.id not in own]
        days = await repo.busy_days(
            [m.id for m in others], inp.quarter.first_day, inp.quarter.last_day
        )
        off: dict[int, set[Any]] = {}
        for d in days:
            off.setdefault(d.member_id, set()).add(d.day)
        visitors = [
            Visitor(key=str(m.id), unavailable=frozenset(off.get(m.id, ()))) for m in others
        ]
        busy_keys = {str(k): v for k, v in busy.items()}
        for key in uncovered:
            slot = inp.slot(key)
            free = free_at(slot.start, inp.instance.gap, visitors, busy_keys)
            if free:
                out.append(
                    {"slot": key, "group_id": group.id, "member_ids": [int(f) for f in free]}
                )
    return out


def _solve_and_explain(
    instance: Instance, config: RosterConfig
) -> tuple[Solution, list[Shortfall], MovePlan | None]:
    """The solve, why each slot stayed uncovered and the meeting moves that would cover it: all
    CP-SAT work, run in a worker thread (`make_draft`) so the bot goes on answering meanwhile."""
    solution = solve(instance, time_limit=config.time_limit)
    shortfalls = explain(instance, solution)
    moves = (
        suggest_moves(instance, time_limit=config.moves_time_limit) if solution.uncovered else None
    )
    return solution, shortfalls, moves


async def make_draft(
    session: AsyncSession,
    ctx: ServiceContext,
    program: VisitProgram,
    quarter: Quarter,
    *,
    actor: Actor | None = None,
    config: RosterConfig = DEFAULT_CONFIG,
) -> Draft:
    """Solve the program's quarter and keep it as the draft (a published roster is refused:
    after publication only swaps, hand-backs and repairs change it)."""
    repo = RosterRepository(session)
    group = await repo.group(program.working_group_id)
    assert group is not None
    if actor is not None:
        require_leader(actor, group)
    # A quarter whose visits have begun is refused before anything is written.
    await ensure_open(session, program, quarter, ctx.now(), ctx.tz)
    roster = await repo.roster_for(program.id, quarter.year, quarter.quarter, for_update=True)
    if roster is not None and roster.status == RosterStatus.PUBLISHED:
        raise RosterError("roster.already_published", quarter=quarter, group=group.name)
    inp = await load_input(session, program, quarter, config=config, tz=ctx.tz)
    previous = None
    if roster is not None:
        previous = _slot_visits(await repo.visits(roster.id), inp) or None
    instance = replace(inp.instance, previous=previous)
    inp.instance = instance
    solution, shortfalls, moves = await asyncio.to_thread(_solve_and_explain, instance, config)
    now = ctx.now()
    if roster is None:
        roster = Roster(
            program_id=program.id,
            district_id=program.district_id,
            year=quarter.year,
            quarter=quarter.quarter,
            status=RosterStatus.DRAFT,
            version=1,
            created_at=now,
        )
        session.add(roster)
        await session.flush()
    else:
        roster.version += 1
        await repo.drop_visits(roster.id)
        for req in await repo.pending_moves(roster.id):
            req.status = MoveStatus.WITHDRAWN
            req.decided_at = now
    roster.solver_status = solution.status
    roster.solver_gap = solution.gap
    roster.levels = list(solution.levels)
    roster.generated_at = now
    roster.uncovered = [
        {
            "slot": s.slot,
            "branch_id": inp.branches[inp.slot(s.slot).branch].id,
            "start": s.start.isoformat(),
            "reason": s.reason.value,
            "meetings": s.meetings,
            "people": s.people,
            "blocking": [inp.branches[inp.slot(k).branch].id for k in s.blocking],
        }
        for s in shortfalls
    ]
    roster.suggestions = {
        "moves": [
            {
                "slot": m.slot,
                "branch_id": inp.branches[inp.slot(m.slot).branch].id,
                "from": m.start.isoformat(),
                "to": m.to.isoformat(),
            }
            for m in (moves.moves if moves is not None else ())
        ],
        "helpers": await _helpers(session, inp, list(solution.uncovered), ctx.tz),
    }
    for key, visitor_codes in solution.assignments.items():
        slot = inp.slot(key)
        branch = inp.branches[slot.branch]
        meeting = inp.meetings.get(key)
        year, month = inp.periods[key]
        for code in visitor_codes:
            session.add(
                RosterVisit(
                    roster_id=roster.id,
                    district_id=program.district_id,
                    branch_id=branch.id,
                    meeting_id=meeting.id if meeting is not None else None,
                    period_year=year,
                    period_month=month,
                    starts_at=slot.start.astimezone(ctx.tz).astimezone(now.tzinfo),
                    visitor_member_id=inp.members[code].id,
                    status=VisitStatus.ASSIGNED,
                    created_at=now,
                )
            )
    await session.flush()
    await audit.record(
        session,
        action="roster.draft",
        entity_type="roster",
        entity_id=str(roster.id),
        district_id=program.district_id,
        actor_id=actor.telegram_id if actor else None,
        before=None,
        after={
            "quarter": str(quarter),
            "version": roster.version,
            "status": solution.status.value,
            "covered": len(solution.assignments),
            "due": len(instance.slots),
        },
    )
    log.info(
        "roster %s %s: %s, %d/%d covered in %.3fs",
        group.code,
        quarter,
        solution.status.value,
        len(solution.assignments),
        len(instance.slots),
        solution.wall_time,
    )
    return Draft(roster, inp, solution)


async def ensure_meetings(session: AsyncSession, ctx: ServiceContext, roster: Roster) -> None:
    """Tie every visit to its regular meeting, planning the month's meeting from the rule when
    the plan job has not reached it yet (a visit needs a meeting to remind about)."""
    repo = RosterRepository(session)
    visits = [v for v in await repo.visits(roster.id) if v.meeting_id is None]
    if not visits:
        return
    branches = await repo.branches(v.branch_id for v in visits)
    periods = list({(v.period_year, v.period_month) for v in visits})
    existing = await repo.regular_meetings(list(branches), periods)
    for visit in visits:
        key = (visit.branch_id, visit.period_year, visit.period_month)
        meeting = existing.get(key)
        if meeting is None:
            branch = branches[visit.branch_id]
            meeting = new_regular(
                branch, rule_slot(branch.meeting_day, visit.period_year, visit.period_month), ctx.tz
            )
            session.add(meeting)
            await session.flush()
            existing[key] = meeting
        visit.meeting_id = meeting.id
        visit.starts_at = meeting.starts_at
    await session.flush()
