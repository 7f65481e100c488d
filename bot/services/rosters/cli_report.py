"""The command line's and the benchmark's view of a quarter: every group's roster as data.

`plan_report` makes the missing drafts (or re-makes them with `draft=True`, published rosters
are reported as they are) and returns plain dicts in the shape `roster plan --json` prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.context import ServiceContext
from bot.services.rosters import presentation as p
from bot.services.rosters.common import (
    DEFAULT_CONFIG,
    Quarter,
    RosterConfig,
    RosterError,
)
from bot.services.rosters.periods import ensure_open
from bot.services.rosters.planning import ensure_programs, make_draft
from bot.services.rosters.review import load_view
from bot.services.vn_calendar import format_quarter, to_local
from storage.models import VisitProgram
from storage.models.rosters import RosterStatus
from storage.repositories.rosters import RosterRepository


async def plan_report(
    factory: async_sessionmaker[AsyncSession],
    ctx: ServiceContext,
    quarter: Quarter,
    district_code: str | None,
    *,
    draft: bool = True,
    config: RosterConfig = DEFAULT_CONFIG,
    on_group: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Every group's roster for `quarter`; `on_group(i, n, code)` before each one is solved
    (the command line's progress: a district's groups take a while)."""
    async with factory() as s, s.begin():
        repo = RosterRepository(s)
        district_id = None
        if district_code is not None:
            district = await repo.district_by_code(district_code)
            if district is None:
                raise RosterError("roster.no_district", code=district_code[:32])
            district_id = district.id
        await ensure_programs(s, district_id)
        found = await repo.programs(district_id)
        # All or nothing: a quarter whose visits have begun for any group is refused before a
        # draft is made or published (this transaction, its programs too, is rolled back).
        checked: list[VisitProgram | None] = [*found] or [None]
        for each in checked:
            await ensure_open(s, each, quarter, ctx.now(), ctx.tz)
        programs = [p.id for p in found]
    groups: list[dict[str, Any]] = []
    for i, program_id in enumerate(programs, start=1):
        async with factory() as s, s.begin():
            repo = RosterRepository(s)
            program = await repo.program(program_id)
            assert program is not None
            if on_group is not None:
                group = await repo.group(program.working_group_id)
                on_group(i, len(programs), group.name if group is not None else str(program_id))
            roster = await repo.roster_for(program.id, quarter.year, quarter.quarter)
            started = time.perf_counter()
            if roster is None or (draft and roster.status != RosterStatus.PUBLISHED):
                roster = (await make_draft(s, ctx, program, quarter, config=config)).roster
            seconds = time.perf_counter() - started
            view = await load_view(s, roster)
            loc = ctx.default_locale
            loads: dict[int, int] = {}
            for v in view.visits:
                loads[v.visitor_member_id] = loads.get(v.visitor_member_id, 0) + 1
            groups.append(
                {
                    "code": view.group.code,
                    "name": view.group.name,
                    "roster_id": roster.id,
                    "published": view.published,
                    "status": roster.solver_status,
                    "assignments": [
                        {
                            "branch": view.branches[v.branch_id].code,
                            "start": to_local(v.starts_at, ctx.tz).isoformat(),
                            "visitor": view.members[v.visitor_member_id].code,
                        }
                        for v in view.visits
                    ],
                    "uncovered": [
                        {
                            "branch": view.branches[u["branch_id"]].code,
                            "reason": p.reason_text(
                                ctx.i18n, loc, view.group, u, view.branches, tz=ctx.tz
                            ),
                        }
                        for u in roster.uncovered
                    ],
                    "covered": view.due - len(roster.uncovered),
                    "due": view.due,
                    "max_load": max(loads.values(), default=0),
                    "seconds": seconds,
                    "gap": roster.solver_gap,
                }
            )
    return {"quarter": str(quarter), "groups": groups}


def text_report(report: dict[str, Any], say: Callable[..., str]) -> list[str]:
    """The plan as the operator reads it, through the catalogs (`say(key, **params)`)."""
    year, quarter = (int(x) for x in str(report["quarter"]).split("-Q"))
    locale = getattr(say, "locale", "vi")
    lines = [say("op.roster.title", quarter=format_quarter(year, quarter, locale))]
    for g in report["groups"]:
        state = say("op.roster.state.published" if g["published"] else "op.roster.state.draft")
        lines.append(
            say(
                "op.roster.group",
                code=f"{g['code']:<12}",
                status=f"{g['status']:<10}",
                covered=g["covered"],
                due=g["due"],
                max_load=g["max_load"],
                state=state,
            )
        )
        for a in g["assignments"]:
            lines.append(f"    {a['start'][:16]}  {a['branch']:<12} {a['visitor']}")
        for u in g["uncovered"]:
            lines.append(say("op.roster.uncovered", branch=u["branch"], reason=u["reason"]))
    return lines
